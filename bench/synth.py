"""Synthetic paper collections of any size, made deterministically from the bundled corpus.

    python bench/synth.py 10000 --out /tmp/synth-10k.jsonl [--seed 0]

Each synthetic paper gets a new coined name and a title tail borrowed from a real paper, and an
abstract of 4-9 sentences drawn from several real abstracts, so text length, vocabulary and
sentence structure match the corpus while every title (hence paper id) is new. No downloads.
Needs only the readers (runs on a bare GPU machine too).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.chunking import split_sentences  # noqa: E402
from ingest.readers import expand_paths, read_file  # noqa: E402

CORPUS = ROOT / "data" / "corpus"
SYLLABLES = ["ka", "lo", "mi", "ve", "ra", "ten", "zu", "qua", "sol", "dri", "fen", "gal", "hex", "nor", "pyx", "tor"]


def corpus_papers(corpus: Path) -> list[tuple[str, list[str]]]:
    files, _ = expand_paths([corpus])
    seen: dict[str, tuple[str, list[str]]] = {}
    for path in files:
        for paper in read_file(path).papers:
            seen.setdefault(paper.id, (paper.title, split_sentences(paper.abstract)))
    return [seen[k] for k in sorted(seen)]


def coined_name(rng: random.Random, number: int) -> str:
    stem = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
    return f"{stem}-{number}"


def synthesize(count: int, seed: int = 0, corpus: Path = CORPUS) -> list[dict[str, object]]:
    rng = random.Random(seed)
    source = corpus_papers(corpus)
    sentences = [s for _, ss in source for s in ss]
    papers = []
    for number in range(count):
        title = rng.choice(source)[0]
        tail = title.split(":", 1)[1].strip() if ":" in title else title
        abstract = " ".join(rng.choice(sentences) for _ in range(rng.randint(4, 9)))
        papers.append({"title": f"{coined_name(rng, number)}: {tail}", "abstract": abstract,
                       "year": 2020 + rng.randint(0, 6)})
    return papers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("count", type=int)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    papers = synthesize(args.count, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as handle:
        for paper in papers:
            handle.write(json.dumps(paper, ensure_ascii=False) + "\n")
    print(f"{len(papers)} papers -> {args.out}")


if __name__ == "__main__":
    main()
