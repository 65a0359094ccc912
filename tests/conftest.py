"""Shared fixtures: isolated settings, a file writer, and one small real index per test session.

Everything here uses the real components (SQLite catalog, embedded Chroma, the packaged
all-MiniLM-L6-v2 model loaded offline); nothing is mocked. The embedding model loads once per
process (`assistant.embeddings` caches it), so each extra data dir only costs its own embeddings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from assistant.service import PaperChat
    from assistant.settings import Settings
    from ingest.pipeline import IngestSummary

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIR = REPO_ROOT / "data" / "corpus"
SMALL_CORPUS = Path(__file__).resolve().parent / "data" / "small_papers.jsonl"
CORPUS_TITLES = REPO_ROOT.parent / "shared" / "eval" / "corpus_titles.txt"

WriteFile = Callable[..., Path]

E2E_CORPUS = Path(__file__).parent / "data" / "e2e_papers.jsonl"
E2E_PAPERS = [json.loads(line) for line in E2E_CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
E2E_TITLES = {paper["title"] for paper in E2E_PAPERS}
CLI_TIMEOUT_S = 300


def run_cli(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`paperchat ARGS` with this interpreter, isolated from the caller's PAPERCHAT_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERCHAT_")}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *map(str, args)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False,
    )



def small_papers() -> list[dict[str, str]]:
    """The 15 title/abstract pairs of tests/data/small_papers.jsonl (copied from data/corpus)."""
    return [json.loads(line) for line in SMALL_CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def paper_titled(prefix: str) -> dict[str, str]:
    """The small-corpus record whose title starts with `prefix` (exactly one must)."""
    found = [p for p in small_papers() if p["title"].startswith(prefix)]
    assert len(found) == 1, f"{prefix!r} matches {len(found)} small-corpus papers"
    return found[0]


def jsonl(records: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


@pytest.fixture(autouse=True)
def _no_paperchat_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's PAPERCHAT_* variables must not leak into tests (tests set their own)."""
    for name in list(os.environ):
        if name.startswith("PAPERCHAT_"):
            monkeypatch.delenv(name)


@pytest.fixture
def write_file(tmp_path: Path) -> WriteFile:
    """write_file(name, content, encoding="utf-8") -> Path under tmp_path/"in"; bytes are written as is."""

    def write(name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode(encoding))
        return path

    return write


def make_settings(data_dir: Path, corpus: list[Path] | None = None, **overrides: object) -> Settings:
    from assistant.settings import load_settings

    # An explicit (empty) config file keeps a stray ./paperchat.toml out of the tests, and the
    # environment is cleared here too: session fixtures are built before the autouse one runs.
    config = data_dir.parent / f"{data_dir.name}.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("")
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("PAPERCHAT_")]:
            patch.delenv(name)
        return load_settings(config_file=config, data_dir=data_dir, corpus=corpus or [SMALL_CORPUS], **overrides)


@pytest.fixture
def tmp_settings(tmp_path: Path) -> Settings:
    """Settings whose data dir is tmp_path/"data" and whose corpus is the small JSONL corpus."""
    return make_settings(tmp_path / "data", [SMALL_CORPUS])


@pytest.fixture
def make_service(tmp_path: Path) -> Callable[..., PaperChat]:
    """make_service(name="data", **overrides) -> a PaperChat over its own empty data dir under tmp_path."""
    from assistant.service import PaperChat

    def make(name: str = "data", **overrides: object) -> PaperChat:
        return PaperChat(make_settings(tmp_path / name, [SMALL_CORPUS], **overrides))

    return make


@pytest.fixture(scope="session")
def _small_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[PaperChat, IngestSummary]:
    from assistant.service import PaperChat

    service = PaperChat(make_settings(tmp_path_factory.mktemp("small") / "data", [SMALL_CORPUS]))
    summary = service.ingest()
    assert not summary.skipped, summary.lines()
    assert len(summary.added) == len(small_papers())
    return service, summary


@pytest.fixture(scope="session")
def small_service(_small_index: tuple[PaperChat, IngestSummary]) -> PaperChat:
    """One PaperChat with the 15-paper small corpus ingested, shared by the whole session.

    Read-only: ask(), search(), stats() are fine; tests that ingest or damage a store make their
    own with `make_service`.
    """
    return _small_index[0]


@pytest.fixture(scope="session")
def small_ingest_summary(_small_index: tuple[PaperChat, IngestSummary]) -> IngestSummary:
    """The IngestSummary of small_service's first (and only) ingest."""
    return _small_index[1]
