"""Readers: the scraped listing format on the real corpus, JSONL, CSV/TSV, BibTeX, and bad files."""

from __future__ import annotations

import codecs
import re
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import CORPUS_DIR, CORPUS_TITLES, WriteFile, jsonl

from ingest.pipeline import read_inputs
from ingest.readers import expand_paths, read_file
from ingest.records import Paper, clean_text, normalize_title, paper_id_for

BIG = 50_000_000
ABSTRACT_LIMIT = 20_000
CORPUS_FILES = sorted(CORPUS_DIR.glob("*.txt"))

ABSTRACT_A = ("We study memory use in large model training. Our method removes redundant optimizer state across "
              "data-parallel workers. It trains models with 100B parameters at 15 Petaflops on 400 GPUs.")
ABSTRACT_B = ("Attention is slow on long sequences. We reorder the computation to avoid reading the attention "
              "matrix from memory. This yields a 2times speedup over the previous kernel on A100 GPUs.")
ABSTRACT_C = ("Time series forecasting needs small fast models. We pre-train a tiny mixer on public data. "
              "It beats larger models in zero-shot forecasting while having under 1M parameters.")


def problems_text(problems: list) -> str:
    return "\n".join(str(p) for p in problems)


def read_all(*paths: Path, max_abstract: int = ABSTRACT_LIMIT):
    return read_inputs(list(paths), BIG, max_abstract)


# ---- the bundled corpus ----------------------------------------------------------------------


def test_corpus_has_five_listing_files() -> None:
    assert len(CORPUS_FILES) == 5


def test_listing_reader_reads_all_451_entries_of_the_corpus_without_problems() -> None:
    total = 0
    for path in CORPUS_FILES:
        result = read_file(path)
        assert result.problems == [], problems_text(result.problems)
        total += len(result.papers)
        for paper in result.papers:
            assert paper.title and len(paper.abstract) > len(paper.title)
    assert total == 451


def test_corpus_dedups_to_exactly_the_388_reference_titles() -> None:
    if not CORPUS_TITLES.exists():
        pytest.skip(f"reference title list {CORPUS_TITLES} is not present in this checkout")
    expected = [line.strip() for line in CORPUS_TITLES.read_text(encoding="utf-8").splitlines() if line.strip()]
    papers, problems, files = read_all(CORPUS_DIR)
    assert problems == [], problems_text(problems)
    assert files == 5
    assert len(expected) == len(set(expected)) == 388
    assert len(papers) == 388
    assert sorted(p.title for p in papers) == sorted(expected)
    assert len({p.id for p in papers}) == 388


def test_each_corpus_paper_remembers_every_file_and_line_it_came_from() -> None:
    papers, _, _ = read_all(CORPUS_DIR)
    lines_by_file = {path.name: path.read_text(encoding="utf-8").splitlines() for path in CORPUS_FILES}
    # Independent of the reader: every file holding a line that is the title (possibly glued to chrome).
    expected_files: dict[str, set[str]] = defaultdict(set)
    titles = {p.title for p in papers}
    for name, lines in lines_by_file.items():
        for line in lines:
            stripped = re.sub(r"^Subscribe", "", line.strip())
            if stripped in titles:
                expected_files[stripped].add(name)
    multi = 0
    for paper in papers:
        files = {source.rsplit(":", 1)[0] for source in paper.sources}
        assert files == expected_files[paper.title], paper.title
        assert len(paper.sources) == len(set(paper.sources))
        for source in paper.sources:
            name, line = source.rsplit(":", 1)
            assert lines_by_file[name][int(line) - 1].endswith(paper.title), source
        multi += len(files) > 1
    assert multi == 55  # papers listed in more than one file (451 entries - 388 papers = 63 repeats)
    zero = next(p for p in papers if p.title.startswith("ZeRO: Memory Optimizations"))
    assert [s.rsplit(":", 1)[0] for s in zero.sources] == [
        "000_0d82b8e24de0fa2a.txt", "001_bb67426fe9366317.txt", "002_84a697e257cc3e96.txt"]


def test_title_glued_to_subscribe_chrome_is_recovered() -> None:
    path = CORPUS_DIR / "001_bb67426fe9366317.txt"
    assert path.read_text(encoding="utf-8").splitlines()[2].startswith("SubscribeFuseMax:")
    first = read_file(path).papers[0]
    assert first.title == "FuseMax: Leveraging Extended Einsums to Optimize Attention Accelerator Design"
    assert first.sources == [f"{path.name}:3"]
    assert first.abstract.startswith("Attention for transformers is a critical workload")
    assert all(not p.title.lower().startswith(("subscribe", "get trending")) for p in read_file(path).papers)


# ---- listing layouts -------------------------------------------------------------------------

CHROME = ["new", "Get trending papers in your email inbox!", "Subscribe", "byAK and the research community",
          "Mar 12"]


def test_listing_with_blank_lines_and_without_read_the_same(write_file: WriteFile) -> None:
    entries = [("ZeRO-like: Memory Optimizations", ABSTRACT_A), ("Fast Attention Kernels", ABSTRACT_B),
               ("Tiny Mixers for Forecasting", ABSTRACT_C)]
    lines = CHROME + [line for entry in entries for line in entry]
    spaced = read_file(write_file("spaced.txt", "\n\n".join(lines) + "\n"))
    dense = read_file(write_file("dense.txt", "\n".join(lines) + "\n"))
    assert spaced.problems == [] and dense.problems == []
    assert [(p.title, p.abstract) for p in spaced.papers] == entries
    assert [(p.title, p.abstract) for p in dense.papers] == entries
    assert [p.sources for p in spaced.papers] == [["spaced.txt:11"], ["spaced.txt:15"], ["spaced.txt:19"]]
    assert [p.sources for p in dense.papers] == [["dense.txt:6"], ["dense.txt:8"], ["dense.txt:10"]]


def test_glued_chrome_prefix_on_a_synthetic_listing(write_file: WriteFile) -> None:
    text = "Get trending papers in your email inbox once a day!\nSubscribeFast Attention Kernels\n" + ABSTRACT_B
    result = read_file(write_file("glued.txt", text))
    assert [p.title for p in result.papers] == ["Fast Attention Kernels"]
    # A real title that merely starts with the word is left alone.
    text = "Subscriber Churn Prediction with Graphs\n" + ABSTRACT_C
    assert read_file(write_file("real.txt", text)).papers[0].title == "Subscriber Churn Prediction with Graphs"


def test_title_without_abstract_is_reported_with_file_and_line(write_file: WriteFile) -> None:
    text = "\n".join(["First Paper", ABSTRACT_A, "", "Orphan Title With No Abstract", "", "Second Paper",
                      ABSTRACT_B, "Trailing Title"])
    path = write_file("gap.txt", text)
    result = read_file(path)
    assert [p.title for p in result.papers] == ["First Paper", "Second Paper"]
    messages = [str(p) for p in result.problems]
    assert messages == [
        f"{path}:4: title 'Orphan Title With No Abstract' has no abstract; skipped",
        f"{path}:8: title 'Trailing Title' has no abstract; skipped",
    ]


def test_abstract_without_title_is_reported(write_file: WriteFile) -> None:
    path = write_file("headless.txt", "\n".join([ABSTRACT_A, "A Title", ABSTRACT_B]))
    result = read_file(path)
    assert [p.title for p in result.papers] == ["A Title"]
    assert [str(p) for p in result.problems] == [f"{path}:1: abstract with no title before it; skipped"]


def test_listing_skips_page_chrome_lines(write_file: WriteFile) -> None:
    text = "\n".join(["new", "Mar 12", "2024-03-12", "5 upvotes", "Submitted by someone", "A Title", ABSTRACT_A,
                      "Jan 3, 2024", "Another Title", ABSTRACT_B])
    result = read_file(write_file("chrome.txt", text))
    assert result.problems == []
    assert [p.title for p in result.papers] == ["A Title", "Another Title"]


# ---- JSONL ---------------------------------------------------------------------------------


def test_jsonl_good_records_map_every_field(write_file: WriteFile) -> None:
    text = (
        '{"title": "  A   Title ", "abstract": "' + ABSTRACT_A + '", "id": "arXiv 2101/0001", '
        '"authors": ["Ada Lovelace", "Alan Turing"], "published": "2021-05-04", "url": "https://x.org/a"}\n'
        '\n'
        '{"paper_title": "Second", "summary": "' + ABSTRACT_B + '", "author": "A. One; B. Two", "year": 2020}\n'
    )
    path = write_file("good.jsonl", text)
    result = read_file(path)
    assert result.problems == []
    first, second = result.papers
    assert first.title == "A Title"
    assert first.id == paper_id_for("A Title")  # a source's own id never replaces the title key
    assert first.authors == ["Ada Lovelace", "Alan Turing"]
    assert first.year == 2021 and first.url == "https://x.org/a"
    assert first.sources == ["good.jsonl:1"]
    assert second.title == "Second" and second.abstract == ABSTRACT_B
    assert second.id == paper_id_for("Second")
    assert second.authors == ["A. One", "B. Two"] and second.year == 2020
    assert second.sources == ["good.jsonl:3"]  # blank lines still count


def test_jsonl_bad_lines_are_reported_and_the_rest_read(write_file: WriteFile) -> None:
    lines = [
        '{"title": "Good One", "abstract": "' + ABSTRACT_A + '"}',
        '{"title": "Broken", "abstract": ',
        '["not", "an", "object"]',
        '{"title": "No Abstract Here"}',
        '{"title": "Empty Abstract", "abstract": "   "}',
        '{"abstract": "' + ABSTRACT_B + '"}',
        '{"title": 42, "abstract": "' + ABSTRACT_B + '"}',
        '{"title": "Good Two", "abstract": "' + ABSTRACT_C + '"}',
    ]
    path = write_file("mixed.jsonl", "\n".join(lines) + "\n")
    result = read_file(path)
    assert [p.title for p in result.papers] == ["Good One", "Good Two"]
    found = {p.where.line: p.reason for p in result.problems}
    assert sorted(found) == [2, 3, 4, 5, 6, 7]
    assert all(p.where.path == str(path) for p in result.problems)
    assert found[2].startswith("malformed JSON")
    assert found[3] == "expected a JSON object, got list; skipped"
    assert "'No Abstract Here' has no 'abstract' field" in found[4]
    assert "'Empty Abstract' has no 'abstract' field" in found[5]
    assert "no 'title' field" in found[6] and "no 'title' field" in found[7]


# ---- CSV / TSV -----------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["title,abstract", "Title,Abstract", " TITLE , Abstract ", "paper_title,summary",
                                    "name,description"])
def test_csv_header_variants(write_file: WriteFile, header: str) -> None:
    text = f'{header}\nFirst Paper,"{ABSTRACT_A}"\n'
    result = read_file(write_file("papers.csv", text))
    assert result.problems == []
    assert [(p.title, p.abstract) for p in result.papers] == [("First Paper", ABSTRACT_A)]


def test_csv_extra_columns_quoting_and_multiline_fields(write_file: WriteFile) -> None:
    text = ('id,title,abstract,authors,year\n'
            f'p1,"Commas, Quotes ""and"" More","{ABSTRACT_A}",Ada Lovelace and Alan Turing,2019\n'
            f'p2,Multi Line,"{ABSTRACT_B[:40]}\n{ABSTRACT_B[41:]}",,\n'
            f'p3,Third,"{ABSTRACT_C}",,2022\n')
    result = read_file(write_file("papers.csv", text))
    assert result.problems == []
    first, second, _third = result.papers
    assert first.title == 'Commas, Quotes "and" More' and first.id == paper_id_for(first.title)
    assert first.authors == ["Ada Lovelace", "Alan Turing"] and first.year == 2019
    assert second.abstract == clean_text(ABSTRACT_B[:40] + " " + ABSTRACT_B[41:])
    assert [p.sources for p in result.papers] == [["papers.csv:2"], ["papers.csv:3"], ["papers.csv:5"]]


def test_tsv_by_suffix_and_by_content(write_file: WriteFile) -> None:
    text = f"title\tabstract\nTabbed, With Comma\t{ABSTRACT_A}\n"
    for name in ("papers.tsv", "tabs.csv"):
        result = read_file(write_file(name, text))
        assert result.problems == [], name
        assert [p.title for p in result.papers] == ["Tabbed, With Comma"], name


def test_csv_row_with_wrong_field_count_is_reported(write_file: WriteFile) -> None:
    text = (f'title,abstract\nGood,"{ABSTRACT_A}"\nToo,Many,"{ABSTRACT_B}"\nShort\n\n'
            f'Also Good,"{ABSTRACT_C}"\n')
    path = write_file("rows.csv", text)
    result = read_file(path)
    assert [p.title for p in result.papers] == ["Good", "Also Good"]
    assert [str(p) for p in result.problems] == [
        f"{path}:3: row has 3 fields but the header has 2; skipped",
        f"{path}:4: row has 1 fields but the header has 2; skipped",
    ]


def test_csv_missing_columns_is_reported(write_file: WriteFile) -> None:
    path = write_file("nocols.csv", f"heading,text\nA,{ABSTRACT_A}\n")
    result = read_file(path)
    assert result.papers == []
    (problem,) = result.problems
    assert problem.where.line == 1
    assert "needs 'title' and 'abstract' columns" in problem.reason and "heading" in problem.reason
    path = write_file("titleonly.csv", "title,year\nA,2020\n")
    assert "needs 'title' and 'abstract'" in read_file(path).problems[0].reason


def test_csv_row_missing_abstract_is_reported(write_file: WriteFile) -> None:
    path = write_file("blank.csv", f'title,abstract\nNo Abstract,\nGood,"{ABSTRACT_A}"\n')
    result = read_file(path)
    assert [p.title for p in result.papers] == ["Good"]
    assert [p.where.line for p in result.problems] == [2]
    assert "'No Abstract' has no 'abstract' field" in result.problems[0].reason


# ---- BibTeX --------------------------------------------------------------------------------

BIB = r"""@comment{exported by a reference manager}

@article{zero2020,
  title = {{ZeRO}: Memory Optimizations Toward Training {Trillion} Parameter Models},
  author = {Samyam Rajbhandari and Jeff Rasley and Olatunji Ruwase},
  year = 2020,
  url = "https://arxiv.org/abs/1910.02054",
  abstract = {Large deep learning models offer significant accuracy gains. We develop {ZeRO} to
    optimize memory, vastly improving training speed {\em while} increasing the model size.},
}

@inproceedings{noabs2021,
  title = {A Paper Without an Abstract},
  year = {2021}
}

@misc{broken2022,
  title = {Unbalanced {braces here},
  abstract = {Never read.}

@article{flash2023,
  title = "FlashAttention-2: Faster Attention",
  abstract = "Scaling Transformers to longer sequence lengths has been a major problem.",
}
"""


def test_bibtex_entries(write_file: WriteFile) -> None:
    path = write_file("refs.bib", BIB)
    result = read_file(path)
    titles = [p.title for p in result.papers]
    assert titles == ["ZeRO: Memory Optimizations Toward Training Trillion Parameter Models",
                      "FlashAttention-2: Faster Attention"]
    zero = result.papers[0]
    assert zero.id == "pc73740dc2be3b22"  # the title key, as for the same paper in the listing corpus
    assert zero.authors == ["Samyam Rajbhandari", "Jeff Rasley", "Olatunji Ruwase"]
    assert zero.year == 2020 and zero.url == "https://arxiv.org/abs/1910.02054"
    assert zero.abstract == ("Large deep learning models offer significant accuracy gains. We develop ZeRO to "
                             "optimize memory, vastly improving training speed while increasing the model size.")
    assert zero.sources == ["refs.bib:3"]
    assert result.papers[1].sources == ["refs.bib:21"]
    problems = {p.where.line: p.reason for p in result.problems}
    assert sorted(problems) == [12, 18]
    assert "'A Paper Without an Abstract' has no 'abstract' field" in problems[12]
    assert problems[18] == "entry 'broken2022': unbalanced braces in field 'title'; skipped"


def test_bibtex_file_without_entries_is_reported(write_file: WriteFile) -> None:
    path = write_file("notbib.bib", "This is just prose, not BibTeX.\n")
    result = read_file(path)
    assert result.papers == []
    assert [str(p) for p in result.problems] == [
        f"{path}:1: no BibTeX entries found (expected '@type{{key, ...}}')"]


def test_bibtex_malformed_field_is_reported(write_file: WriteFile) -> None:
    text = "@article{bad1,\n  title = {Fine},\n  this is not a field\n}\n"
    result = read_file(write_file("bad.bib", text))
    assert result.papers == []
    (problem,) = result.problems
    assert problem.where.line == 2 or problem.where.line == 3
    assert "entry 'bad1': malformed BibTeX field" in problem.reason


# ---- files that are not what they claim -----------------------------------------------------


@pytest.mark.parametrize("name", ["empty.jsonl", "empty.txt", "blank.csv", "empty.bib"])
def test_empty_files_are_reported(write_file: WriteFile, name: str) -> None:
    path = write_file(name, "" if name.startswith("empty") else "  \n\n ")
    result = read_file(path)
    assert result.papers == []
    assert [str(p) for p in result.problems] == [f"{path}: file is empty; nothing to ingest"]


def test_binary_file_is_reported(write_file: WriteFile) -> None:
    path = write_file("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (problem,) = read_file(path).problems
    assert "binary file" in problem.reason


def test_non_utf8_file_names_the_line(write_file: WriteFile) -> None:
    # Records may span lines in a listing, so one bad byte rejects it whole; JSON Lines are read
    # line by line instead (tests/test_hostile_inputs.py).
    path = write_file("latin1.txt", '{"title": "Ok", "abstract": "fine"}\n\n{"title": "Café"}\n', "latin-1")
    result = read_file(path)
    assert result.papers == []
    (problem,) = result.problems
    assert problem.where.line == 3
    assert "not valid UTF-8" in problem.reason and "0xe9" in problem.reason
    assert str(problem).startswith(f"{path}:3: ")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_files_with_a_byte_order_mark_are_read(write_file: WriteFile, encoding: str) -> None:
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}.get(encoding, b"")
    text = '{"title": "Café Über Alles", "abstract": "' + ABSTRACT_A + '"}\n'
    path = write_file("bom.jsonl", bom + text.encode(encoding))
    result = read_file(path)
    assert result.problems == []
    assert [p.title for p in result.papers] == ["Café Über Alles"]


def test_unsupported_extension_is_reported_not_guessed(write_file: WriteFile) -> None:
    path = write_file("paper.docx", b"PK\x03\x04 ...")
    result = read_file(path)
    assert result.papers == []
    (problem,) = result.problems
    assert "unsupported file type '.docx'" in problem.reason and ".jsonl" in problem.reason and ".pdf" in problem.reason


def test_nonexistent_path_is_reported(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    papers, problems, files = read_all(missing)
    assert papers == [] and files == 0
    assert [str(p) for p in problems] == [f"{missing}: no such file or directory"]


def test_file_over_the_size_limit_is_skipped(write_file: WriteFile) -> None:
    path = write_file("big.jsonl", '{"title": "T", "abstract": "' + ABSTRACT_A + '"}\n')
    (problem,) = read_file(path, max_bytes=10).problems
    assert "over the 10-byte limit" in problem.reason


def test_directory_of_mixed_files(tmp_path: Path, write_file: WriteFile) -> None:
    write_file("a.jsonl", '{"title": "Alpha Paper", "abstract": "' + ABSTRACT_A + '"}\n')
    write_file("b.csv", f'title,abstract\nBeta Paper,"{ABSTRACT_B}"\n')
    write_file("nested/deeper/c.bib", "@article{c1, title={Gamma Paper}, abstract={" + ABSTRACT_C + "}}\n")
    write_file("nested/d.txt", "Delta Paper\n" + ABSTRACT_A.replace("memory", "storage") + "\n")
    write_file("notes.docx", b"PK")  # unsupported suffixes are not picked up from a directory
    write_file(".hidden/e.jsonl", '{"title": "Hidden", "abstract": "' + ABSTRACT_A + '"}\n')
    write_file("empty.jsonl", "")
    papers, problems, files = read_all(tmp_path / "in")
    assert files == 5
    assert sorted(p.title for p in papers) == ["Alpha Paper", "Beta Paper", "Delta Paper", "Gamma Paper"]
    assert [p.reason for p in problems] == ["file is empty; nothing to ingest"]
    assert {p.title: p.sources for p in papers}["Gamma Paper"] == ["c.bib:1"]


def test_empty_directory_is_reported(tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "readme.docx").write_bytes(b"x")
    files, problems = expand_paths([tmp_path / "nothing"])
    assert files == []
    assert [p.reason for p in problems] == ["directory holds no supported files"]


# ---- merging across files -------------------------------------------------------------------


def test_duplicates_merge_sources_and_conflicts_are_reported(write_file: WriteFile) -> None:
    a = write_file("a.jsonl", '{"title": "Same Paper", "abstract": "' + ABSTRACT_A + '"}\n'
                   '{"title": "same  paper!", "abstract": "' + ABSTRACT_A + '"}\n')
    b = write_file("b.txt", "Same Paper\n" + ABSTRACT_A + "\n")
    c = write_file("c.jsonl", '{"title": "Same Paper", "abstract": "' + ABSTRACT_B + '"}\n')
    papers, problems, files = read_all(a, b, c)
    assert files == 3
    (paper,) = papers
    assert paper.sources == ["a.jsonl:1", "a.jsonl:2", "b.txt:1"]
    assert paper.abstract == ABSTRACT_A
    assert [str(p) for p in problems] == [
        f"{c}:1: duplicate title 'Same Paper' with a different abstract; kept the one from a.jsonl:1"]


def test_same_paper_in_listing_bibtex_and_jsonl_is_one_paper(write_file: WriteFile) -> None:
    listing = CORPUS_DIR / "001_bb67426fe9366317.txt"
    zero = next(p for p in read_file(listing).papers if p.title.startswith("ZeRO: Memory"))
    bib = write_file("zero.bib", "@article{rajbhandari2020zero,\n  title = {{ZeRO}: Memory Optimizations Toward "
                     "Training Trillion Parameter Models},\n  abstract = {" + zero.abstract + "}\n}\n")
    records = write_file("zero.jsonl", jsonl([{"id": "1910.02054", "title": zero.title.upper(),
                                               "abstract": zero.abstract}]))
    papers, problems, _ = read_all(bib, records, listing)
    assert problems == []
    merged = [p for p in papers if p.abstract == zero.abstract]
    assert len(merged) == 1, [p.id for p in merged]
    assert merged[0].id == zero.id == "pc73740dc2be3b22"
    assert merged[0].sources == ["zero.bib:1", "zero.jsonl:1", "001_bb67426fe9366317.txt:15"]
    assert len(papers) == 74


def test_over_long_abstract_is_skipped_with_its_line(write_file: WriteFile) -> None:
    long_abstract = " ".join(["A long sentence about models."] * 40)
    path = write_file("long.jsonl", '{"title": "Short", "abstract": "' + ABSTRACT_A + '"}\n'
                      '{"title": "Long", "abstract": "' + long_abstract + '"}\n')
    papers, problems, _ = read_all(path, max_abstract=500)
    assert [p.title for p in papers] == ["Short"]
    assert len(problems) == 1 and problems[0].where.line == 2 and "over the 500 limit" in problems[0].reason


# ---- records ------------------------------------------------------------------------------


def test_paper_ids_are_stable_and_formatting_insensitive() -> None:
    title = "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models"
    # Pinned: chunk ids in existing stores are derived from this, so it must never drift.
    assert paper_id_for(title) == "pc73740dc2be3b22"
    assert paper_id_for("  zero -- MEMORY optimizations toward training trillion parameter models ") == \
        paper_id_for(title)
    assert normalize_title("FlashAttention-2: Faster") == "flashattention2faster"
    assert Paper(title=title, abstract="x").id == "pc73740dc2be3b22"


def test_clean_text_drops_control_characters_and_folds_whitespace() -> None:
    assert clean_text("  a\u0000b\tc\n\n d\u200b ") == "a b c d"
    paper = Paper(title="T\x07itle", abstract="Line one.\r\nLine\u00a0two.")
    assert paper.title == "T itle" and paper.abstract == "Line one. Line two."
