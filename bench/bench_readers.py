"""Parsing's share of ingest: 10k records as JSON Lines and as Zotero-style BibTeX (LaTeX escapes, macros).

    python bench/bench_readers.py [--records 10000] [--ingest-records 1000] [--runs 3]

Prints, for each format, the time to read and merge the 10k-record file (ingest.pipeline.read_inputs:
decode, parse, LaTeX-decode, dedup; median of --runs) and a real ingest (embedding into a fresh
Chroma store with the configured encoder) of its first --ingest-records records, with parsing's share of
that ingest, and of a 10k ingest at the measured per-record rate (embedding is linear in records; a
10k MiniLM ingest takes ~20 min on 2 cores). Synthetic records come from bench/synth.py, so nothing
is downloaded.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from synth import synthesize  # noqa: E402

from ingest.pipeline import read_inputs  # noqa: E402

FAMILIES = ["Rajbhandari", "M{\\\"u}ller", "Garc{\\'\\i}a", "Lee", "Schr{\\\"o}dinger", "Niculae", "Dao", "Chen"]
GIVENS = ["Samyam", "Rafael", "Jos{\\'e}", "Ann", "Erwin", "Vlad", "Tri", "Wei"]


def bibtex_value(text: str, protect_capitals: bool = False) -> str:
    """Text as Zotero's BibTeX export writes it: specials escaped; in titles, capitalised words in braces."""
    escaped = text.replace("\\", "\\textbackslash{}").replace("&", "\\&").replace("%", "\\%").replace("#", "\\#")
    if not protect_capitals:
        return escaped
    return " ".join(f"{{{word}}}" if word[:1].isupper() and len(word) > 3 else word for word in escaped.split(" "))


def write_inputs(count: int, folder: Path) -> tuple[Path, Path]:
    rng = random.Random(1)
    papers = synthesize(count)
    jsonl = folder / "papers.jsonl"
    bib = folder / "papers.bib"
    with jsonl.open("w", encoding="utf-8") as out:
        for paper in papers:
            out.write(json.dumps(paper, ensure_ascii=False) + "\n")
    with bib.open("w", encoding="utf-8") as out:
        out.write('@preamble{ "\\providecommand{\\noopsort}[1]{}" }\n@string{conf = "Proceedings of " # "ACL"}\n\n')
        for number, paper in enumerate(papers):
            authors = " and ".join(f"{rng.choice(FAMILIES)}, {rng.choice(GIVENS)}" for _ in range(rng.randint(1, 6)))
            abstract = bibtex_value(str(paper["abstract"]))
            if number % 3 == 0:  # some LaTeX math and accents, as real abstracts have
                abstract += " Our $\\alpha$-variant beats {\\\"u}ber-baselines by 2\\%."
            out.write(f"@inproceedings{{paper{number},\n\ttitle = {{{bibtex_value(str(paper['title']), True)}}},\n"
                      f"\tauthor = {{{authors}}},\n\tbooktitle = conf # \" 2024\",\n\tyear = {{{paper['year']}}},\n"
                      f"\tabstract = {{{abstract}}},\n}}\n\n")
            if number % 1000 == 999:
                out.write("@comment{a managed block, as JabRef and Zotero leave them}\n\n")
    return jsonl, bib


def head(path: Path, records: int, folder: Path) -> Path:
    """The file's first `records` records (a JSONL line or a BibTeX entry each)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        part = "".join(text.splitlines(keepends=True)[:records])
    else:
        starts = [i for i in range(len(text)) if text.startswith("@inproceedings{", i)][:records + 1]
        part = text[:starts[-1]] if len(starts) > records else text
    target = folder / f"head-{records}{path.suffix}"
    target.write_text(part, encoding="utf-8")
    return target


def parse_seconds(path: Path, runs: int) -> tuple[float, int]:
    times: list[float] = []
    papers: list[object] = []
    for _ in range(runs):
        started = time.perf_counter()
        papers, problems, _ = read_inputs([path], 10**9, 10**6)
        times.append(time.perf_counter() - started)
        assert not problems, problems[:3]
    return statistics.median(times), len(papers)


def ingest_seconds(path: Path, work: Path) -> float:
    from assistant.service import PaperChat
    from assistant.settings import load_settings

    config = work / "empty.toml"
    config.write_text("")

    def service_for(name: str) -> PaperChat:
        return PaperChat(load_settings(config_file=config, data_dir=work / name, corpus=[path]))

    # The encoder loads once per process: an ingest of one record first, so the clock times ingest only.
    service_for(f"warm-{path.suffix[1:]}").ingest([head(path, 1, work)])
    service = service_for(f"data-{path.suffix[1:]}")
    started = time.perf_counter()
    summary = service.ingest([path])
    seconds = time.perf_counter() - started
    assert not summary.skipped, summary.skipped[:3]
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--ingest-records", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-readers-") as tmp:
        work = Path(tmp)
        for path in write_inputs(args.records, work):
            parse, papers = parse_seconds(path, args.runs)
            sample = head(path, args.ingest_records, work)
            sample_parse, _ = parse_seconds(sample, args.runs)
            ingest = ingest_seconds(sample, work)
            projected = ingest * args.records / args.ingest_records
            print(f"{path.suffix[1:]:>5}: {args.records:,} records ({path.stat().st_size / 1e6:.1f} MB, {papers:,} "
                  f"papers) read and merged in {parse:.2f} s ({args.records / parse:,.0f} records/s); ingest of "
                  f"{args.ingest_records:,} of them {ingest:.1f} s, parsing {sample_parse:.2f} s of it "
                  f"({100 * sample_parse / ingest:.1f}%); at that rate a {args.records:,}-record ingest takes "
                  f"{projected:.0f} s and parsing is {100 * parse / projected:.1f}% of it", flush=True)


if __name__ == "__main__":
    main()
