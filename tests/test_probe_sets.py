"""The probe question sets in data/eval/ are well formed: the kinds and counts their README states,
gold titles that are corpus titles, and a note for every unanswerable."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETS = sorted((ROOT / "data" / "eval").glob("*.jsonl"))
TITLES = ROOT.parent / "shared" / "eval" / "corpus_titles.txt"


def items(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


COUNTS = {"probe.jsonl": (12, 10, 10, 8, 10), "probe2.jsonl": (12, 10, 10, 8, 10), "probe3.jsonl": (10, 8, 8, 6, 8),
          "probe4.jsonl": (10, 8, 8, 7, 7), "probe6.jsonl": (10, 8, 8, 7, 7), "probe7.jsonl": (10, 8, 8, 7, 7),
          "probe8.jsonl": (10, 8, 8, 7, 7), "probe9.jsonl": (8, 8, 8, 8, 8),
          "probe10.jsonl": (8, 8, 8, 8, 8), "probe11.jsonl": (8, 8, 8, 8, 8),
          "probe12.jsonl": (8, 8, 8, 8, 8), "probe13.jsonl": (8, 8, 8, 8, 8),
          "probe14.jsonl": (8, 8, 8, 8, 8), "probe15.jsonl": (8, 8, 8, 8, 8)}


def test_the_probe_sets_are_shipped() -> None:
    assert [p.name for p in SETS] == sorted(COUNTS)


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.name)
def test_a_probe_set_has_the_five_kinds_and_consistent_gold(path: Path) -> None:
    rows = items(path)
    kinds = ("lookup", "comparative", "aggregate", "multi_turn", "unanswerable")
    assert Counter(r["type"] for r in rows) == dict(zip(kinds, COUNTS[path.name], strict=True))
    assert len({r["id"] for r in rows}) == len(rows)
    for row in rows:
        if row["type"] == "unanswerable":
            assert row["gold_titles"] == [] and row["notes"], row["id"]
        elif row["type"] == "multi_turn":
            assert len(row["turns"]) == len(row["turn_gold_titles"]) >= 2, row["id"]
            assert row["gold_titles"] == row["turn_gold_titles"][-1], row["id"]
        else:
            assert row["question"] and row["gold_titles"], row["id"]


@pytest.mark.skipif(not TITLES.exists(), reason="../shared/eval/corpus_titles.txt is not beside the clone")
@pytest.mark.parametrize("path", SETS, ids=lambda p: p.name)
def test_every_gold_title_is_a_corpus_title(path: Path) -> None:
    titles = set(TITLES.read_text(encoding="utf-8").splitlines())
    gold = {t for row in items(path) for t in [*row["gold_titles"], *(t for turn in row.get("turn_gold_titles", [])
                                                                       for t in turn)]}
    assert gold and not gold - titles, sorted(gold - titles)[:3]
