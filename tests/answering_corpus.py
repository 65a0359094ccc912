"""The synthetic collection the answering tests share (tests/data/answering_papers.jsonl).

Fourteen abstracts in five separated topics: pruning object detectors (PruneDet, SparseNeck,
DistillPrune), pruning image classifiers (GradPrune, Kestrel, Osprey), object detection without
pruning (CenterPoint Sampling, QueryDETR, NightDrive), speech recognition (EchoASR, StreamCTC,
NoiseGuard) and molecules (MolFlow, BindScore).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import make_settings

from assistant.service import PaperChat

CORPUS = Path(__file__).parent / "data" / "answering_papers.jsonl"
PAPERS = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
TITLES = {p["title"].split(":", 1)[0]: p["title"] for p in PAPERS}  # short name -> full title


def indexed_service(tmp_path_factory: pytest.TempPathFactory, name: str) -> PaperChat:
    """A PaperChat over its own data dir with the whole synthetic collection ingested."""
    chat = PaperChat(make_settings(tmp_path_factory.mktemp(name) / "data", [CORPUS]))
    summary = chat.ingest()
    assert not summary.skipped, summary.lines()
    assert len(summary.added) == len(PAPERS)
    return chat


def short(title: str) -> str:
    return title.split(":", 1)[0]
