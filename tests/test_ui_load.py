"""A small run of bench/load_ui.py against the app in this process: concurrent sessions, no errors, no leaks.

The full 20 conversations x 10 turns run (figures in docs/benchmarks.md) takes minutes; this one
takes seconds and checks the same things: every turn answered, and no conversation's answer
cites a paper from another conversation's history.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from assistant.service import PaperChat

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import load_ui  # bench/ is not a package: imported by path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")


@pytest.fixture(scope="module")
def served(small_service: PaperChat) -> Iterator[str]:
    from ui.app import launch

    assert small_service.settings.ui_concurrency == 2  # the default: sessions really run side by side
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo = launch(small_service, "127.0.0.1", port, block=False, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def test_three_conversations_in_parallel_stay_apart(served: str, small_service: PaperChat) -> None:
    summary: dict[str, Any] = load_ui.run_load(served, small_service.settings.data_dir, conversations=3, turns=3,
                                               timeout_s=240)
    assert summary["turns_planned"] == 9 and summary["turns_answered"] == 9, summary["errors"]
    assert summary["errors"] == [] and summary["violations"] == []
    # Every conversation asked about its own two papers, and the three pairs do not overlap.
    titles = [t for pair in summary["pairs"] for t in (pair["a"], pair["b"])]
    assert len(set(titles)) == 6
    assert summary["latency_s"]["p95"] is not None


def test_isolation_check_catches_a_foreign_citation() -> None:
    """The check itself: a follow-up citing another conversation's paper is a violation."""
    first = load_ui.Conversation(1, ("FuseMax", "FuseMax: x"), ("MoE++", "MoE++: y"))
    second = load_ui.Conversation(2, ("ParZC", "ParZC: z"), ("ZeroRF", "ZeroRF: w"))
    clean = load_ui.Turn(1, 2, "What does it report?", True, cited=["FuseMax: x"])
    leaked = load_ui.Turn(2, 2, "What does it report?", True, cited=["FuseMax: x"])
    named = load_ui.Turn(2, 1, "What does ParZC propose?", False, cited=["ParZC: z", "MoE++: y"])
    assert load_ui.violations([clean], [first, second]) == []
    found = load_ui.violations([leaked, named], [first, second])
    assert len(found) == 2
    assert "conversation 2 turn 2" in found[0] and "conversation 1's paper: FuseMax: x" in found[0]
    assert "conversation 2 turn 1" in found[1] and "MoE++: y" in found[1]
