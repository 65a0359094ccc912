"""What researchers keep, read as their tools write it: Zotero, JabRef, Mendeley and Google Scholar BibTeX, RIS,
CSL-JSON, CSV (Zotero's and Excel's), the arXiv snapshot, Semantic Scholar and OpenAlex records, Markdown notes,
PDFs and a Zotero database; and the same paper from several of them as one paper.

The fixtures under tests/data/formats/ are written the way each tool writes them; the Zotero database and the
PDFs are built by tests/library_files.py. Every paper is checked for its exact title, authors and year.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import WriteFile
from library_files import ABSTRACTS, FORMATS_DIR, ZoteroItem, build_zotero_sqlite, write_paper_pdf

from ingest.pipeline import read_inputs
from ingest.readers import expand_paths, read_file
from ingest.readers.bibtex import resolve_value
from ingest.records import Paper, paper_id_for

ZERO = "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models"
ZERO_AUTHORS = ["Samyam Rajbhandari", "Jeff Rasley", "Olatunji Ruwase", "Yuxiong He"]
FLASH = "FlashAttention-2: Faster Attention with Better Parallelism and Work Partitioning"
SPARSE = "Adaptively Sparse Transformers"
LABEL = "When Does Label Smoothing Help?"
PAGED = "Efficient Memory Management for Large Language Model Serving with PagedAttention"
PAGED_AUTHORS = ["Woosuk Kwon", "Zhuohan Li", "Siyuan Zhuang", "Ying Sheng", "Lianmin Zheng", "Cody Hao Yu",
                 "Joseph Gonzalez", "Hao Zhang", "Ion Stoica"]
LORA = "LoRA: Low-Rank Adaptation of Large Language Models"
LORA_AUTHORS = ["Edward J. Hu", "Yelong Shen", "Phillip Wallis", "Zeyuan Allen-Zhu", "Yuanzhi Li", "Shean Wang",
                "Lu Wang", "Weizhu Chen"]
RESNET = "Deep Residual Learning for Image Recognition"
RESNET_AUTHORS = ["Kaiming He", "Xiangyu Zhang", "Shaoqing Ren", "Jian Sun"]


def summary(papers: list[Paper]) -> list[tuple[str, list[str], int | None]]:
    return [(p.title, p.authors, p.year) for p in papers]


def fixture(name: str) -> Path:
    return FORMATS_DIR / name


# ---- BibTeX ------------------------------------------------------------------------------------


def test_zotero_bibtex_reads_all_five_entries_around_preamble_string_and_comments() -> None:
    result = read_file(fixture("zotero.bib"))
    assert result.problems == []
    assert summary(result.papers) == [
        (ZERO, ZERO_AUTHORS, 2020),
        (FLASH, ["Tri Dao"], 2023),  # "Dao, Tri" is one author
        (SPARSE, ["Gonçalo M. Correia", "Vlad Niculae", "André F. T. Martins"], 2019),
        (LABEL, ["Rafael Müller", "Simon Kornblith", "Geoffrey Hinton"], 2019),
        (PAGED, PAGED_AUTHORS, 2023),
    ]
    zero, _, sparse, label, paged = result.papers
    assert zero.abstract == ABSTRACTS["ZERO"] and zero.id == "pc73740dc2be3b22"  # the corpus paper's id
    assert (zero.doi, zero.arxiv_id, zero.url) == ("10.48550/arxiv.1910.02054", "1910.02054",
                                                   "http://arxiv.org/abs/1910.02054")
    assert sparse.abstract == ABSTRACTS["SPARSE"]  # $\alpha$ and 50\% decoded
    assert sparse.doi == "10.18653/v1/d19-1223" and label.arxiv_id == "1906.02629"
    assert paged.abstract == ABSTRACTS["PAGED"]  # \& decoded
    assert [p.sources for p in result.papers] == [["zotero.bib:3"], ["zotero.bib:20"], ["zotero.bib:35"],
                                                  ["zotero.bib:49"], ["zotero.bib:61"]]
    assert not any("Commented-Out" in p.title for p in result.papers)


def test_jabref_bibtex_keeps_its_last_entry_before_the_trailing_jabref_meta_comment() -> None:
    result = read_file(fixture("jabref.bib"))
    assert result.problems == []
    assert summary(result.papers) == [
        ("Attention is All you Need", ["Ashish Vaswani", "Noam Shazeer", "Niki Parmar", "Jakob Uszkoreit",
                                       "Llion Jones", "Aidan N. Gomez", "Łukasz Kaiser", "Illia Polosukhin"], 2017),
        ("Language Models are Few-Shot Learners", ["Tom B. Brown", "Benjamin Mann", "Nick Ryder",
                                                   "Melanie Subbiah"], 2020),  # "and others" is not a name
        (LORA, LORA_AUTHORS, 2021),
    ]
    assert [p.arxiv_id for p in result.papers] == ["1706.03762", None, "2106.09685"]  # eprint; "arXiv preprint"


def test_mendeley_bibtex() -> None:
    (paper,) = read_file(fixture("mendeley.bib")).papers
    assert summary([paper]) == [(RESNET, RESNET_AUTHORS, 2016)]
    assert (paper.doi, paper.arxiv_id, paper.abstract) == ("10.1109/cvpr.2016.90", "1512.03385", ABSTRACTS["RESNET"])


def test_google_scholar_bibtex_has_no_abstract_and_says_so_by_key() -> None:
    result = read_file(fixture("google_scholar.bib"))
    assert result.papers == []
    assert [str(p) for p in result.problems] == [
        f"{fixture('google_scholar.bib')}:1: entry 'dao2023flashattention': title 'Flashattention-2: Faster "
        "attention with better parallelism a' has no 'abstract' field (or it is empty); skipped"]


ENTRY = ("@article{{{key},\n  title = {{{title}}},\n  author = {{Doe, Jane}},\n  year = {{2021}},\n"
         "  abstract = {{{key} is an abstract long enough to be one, with a second sentence too.}}\n}}\n")
BLOCKS = ["@comment{jabref-meta: databaseType:bibtex;}\n", '@string{conf = "Proc. of " # "ACL"}\n',
          '@preamble{ "\\newcommand{\\noop}[1]{}" }\n',
          "@comment{\n@article{ghost, title={Ghost}, abstract={Ghost.}}\n}\n", "% a line comment\n"]


@pytest.mark.parametrize("block", BLOCKS)
def test_no_entry_is_lost_around_comment_string_and_preamble_blocks(write_file: WriteFile, block: str) -> None:
    entries = [ENTRY.format(key=f"e{n}", title=f"Entry Number {n}") for n in range(3)]
    text = block + entries[0] + block + entries[1] + block + entries[2] + block  # before, between, after
    result = read_file(write_file("blocks.bib", text))
    assert result.problems == []
    assert summary(result.papers) == [(f"Entry Number {n}", ["Jane Doe"], 2021) for n in range(3)]


def test_bibtex_macros_concatenation_nested_braces_and_latex(write_file: WriteFile) -> None:
    text = ('@string{attn = "Attention"}\n@string{t = attn # " Is All"}\n'
            "@article{k1,\n  title = t # { You {N}eed} # \", {\\\"U}ber {\\&} {$\\alpha$}\",\n"
            "  author = {von Neumann, John and Schr{\\\"o}dinger, Erwin and {Google Brain Team}},\n"
            "  month = jun, year = 2017,\n  abstract = {A {nested {brace}} abstract costs 50\\% less -- really.}\n}\n")
    (paper,) = read_file(write_file("macros.bib", text)).papers
    assert paper.title == "Attention Is All You Need, Über & α"
    assert paper.authors == ["John von Neumann", "Erwin Schrödinger", "Google Brain Team"]
    assert paper.year == 2017 and paper.abstract == "A nested brace abstract costs 50% less – really."
    assert resolve_value('"a" # b # {c} # 2020 # jan', {"b": "B"}) == "aBc20201"


def test_bibtex_bare_percent_is_a_percent_sign_not_a_comment(write_file: WriteFile) -> None:
    text = "@misc{p, title = {Ninety {P}ercent}, abstract = {It wins 90% of the time. The rest follows here.}}\n"
    (paper,) = read_file(write_file("percent.bib", text)).papers
    assert paper.abstract == "It wins 90% of the time. The rest follows here."


# ---- RIS ---------------------------------------------------------------------------------------


def test_zotero_ris() -> None:
    result = read_file(fixture("zotero.ris"))
    assert result.problems == []
    assert summary(result.papers) == [(ZERO, ZERO_AUTHORS, 2020), (PAGED, PAGED_AUTHORS, 2023)]
    zero, paged = result.papers
    assert (zero.doi, zero.arxiv_id, zero.abstract) == ("10.48550/arxiv.1910.02054", "1910.02054", ABSTRACTS["ZERO"])
    assert paged.abstract == ABSTRACTS["PAGED"] and paged.doi == "10.1145/3600006.3613165"
    assert [p.sources for p in result.papers] == [["zotero.ris:1"], ["zotero.ris:19"]]


def test_endnote_ris_with_t1_a1_y1_n2_tags_and_crlf_lines() -> None:
    (paper,) = read_file(fixture("endnote.ris")).papers
    assert summary([paper]) == [(RESNET, RESNET_AUTHORS, 2016)]
    assert paper.abstract == ABSTRACTS["RESNET"] and paper.url == "https://doi.org/10.1109/CVPR.2016.90"


def test_ris_record_without_abstract_is_reported_with_its_line(write_file: WriteFile) -> None:
    text = ("TY  - JOUR\nT1  - Attention is all you need\nA1  - Vaswani, Ashish\nY1  - 2017\nER  - \n\n"
            "TY  - JOUR\nTI  - Second\nAB  - An abstract of the second record, long enough.\nER  - \n")
    result = read_file(write_file("scholar.ris", text))
    assert [p.title for p in result.papers] == ["Second"]
    assert [(p.where.line, p.reason) for p in result.problems] == [
        (1, "title 'Attention is all you need' has no 'abstract' field (or it is empty); skipped")]


# ---- CSL-JSON, JSON, JSON Lines --------------------------------------------------------------------


def test_zotero_csl_json() -> None:
    path = fixture("zotero_csl.json")
    result = read_file(path)
    assert summary(result.papers) == [(ZERO, ZERO_AUTHORS, 2020),
                                      (SPARSE, ["Gonçalo M. Correia", "Vlad Niculae", "André F. T. Martins"], 2019)]
    assert result.papers[1].abstract == ABSTRACTS["SPARSE"] and result.papers[0].arxiv_id == "1910.02054"
    assert [str(p) for p in result.problems] == [
        f"{path}:85: item 3 ('http://zotero.org/users/1234567/items/NOABSTR1'): title 'The Illustrated Transformer' "
        "has no 'abstract' field (or it is empty); skipped"]


def test_arxiv_snapshot_is_json_lines_under_a_json_name() -> None:
    result = read_file(fixture("arxiv-metadata-oai-snapshot.json"))
    assert result.problems == []
    assert summary(result.papers) == [
        (ZERO, ZERO_AUTHORS, 2019),  # the first version's year
        (SPARSE, ["Gonçalo M. Correia", "Vlad Niculae", "André F.T. Martins"], 2019),  # TeX names, "A, B and C"
        (FLASH, ["Tri Dao"], 2023),
    ]
    zero, sparse, _ = result.papers
    assert zero.abstract == ABSTRACTS["ZERO"] and sparse.abstract == ABSTRACTS["SPARSE"]
    assert [p.arxiv_id for p in result.papers] == ["1910.02054", "1909.00015", "2307.08691"]
    assert zero.url == "https://arxiv.org/abs/1910.02054"


def test_semantic_scholar_records_with_author_objects() -> None:
    path = fixture("semantic_scholar.jsonl")
    result = read_file(path)
    assert summary(result.papers) == [("Attention is All you Need", [
        "Ashish Vaswani", "Noam M. Shazeer", "Niki Parmar", "Jakob Uszkoreit", "Llion Jones", "Aidan N. Gomez",
        "Lukasz Kaiser", "Illia Polosukhin"], 2017)]
    assert result.papers[0].arxiv_id == "1706.03762"
    assert [(p.where.line, p.reason) for p in result.problems] == [
        (2, "title 'Language Models are Few-Shot Learners' has no 'abstract' field (or it is empty); skipped")]


def test_openalex_works_rebuild_the_inverted_abstract() -> None:
    result = read_file(fixture("openalex_works.json"))
    assert result.problems == []
    assert summary(result.papers) == [
        (RESNET, RESNET_AUTHORS, 2016),
        ("BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
         ["Jacob Devlin", "Ming-Wei Chang", "Kenton Lee", "Kristina Toutanova"], 2019)]
    assert [p.abstract for p in result.papers] == [ABSTRACTS["RESNET"], ABSTRACTS["BERT"]]
    assert result.papers[0].doi == "10.1109/cvpr.2016.90"
    assert [p.sources for p in result.papers] == [["openalex_works.json:item 1"], ["openalex_works.json:item 2"]]


@pytest.mark.parametrize(("name", "text"), [
    ("array.jsonl", '[{"title": "T1", "abstract": "A one."},\n {"title": "T2", "abstract": "A two."}]\n'),
    ("lines.json", '{"title": "T1", "abstract": "A one."}\n{"title": "T2", "abstract": "A two."}\n'),
    ("pretty.json", '{\n  "results": [\n    {"title": "T1", "abstract": "A one."},\n'
                    '    {"title": "T2", "abstract": "A two."}\n  ]\n}\n'),
])
def test_json_and_json_lines_are_told_apart_by_content(write_file: WriteFile, name: str, text: str) -> None:
    result = read_file(write_file(name, text))
    assert result.problems == []
    assert [(p.title, p.abstract) for p in result.papers] == [("T1", "A one."), ("T2", "A two.")]


def test_broken_json_array_names_its_line(write_file: WriteFile) -> None:
    path = write_file("broken.json", '[\n  {"title": "T1", "abstract": "A one."},\n  {"title": \n]\n')
    (problem,) = read_file(path).problems
    assert problem.where.line == 4 and problem.reason.startswith("malformed JSON")


# ---- CSV ---------------------------------------------------------------------------------------


def test_zotero_csv_export() -> None:
    path = fixture("zotero.csv")
    result = read_file(path)
    assert summary(result.papers) == [(LABEL, ["Rafael Müller", "Simon Kornblith", "Geoffrey Hinton"], 2019),
                                      (LORA, LORA_AUTHORS, 2021)]
    label, lora = result.papers
    assert label.metadata == {"tags": ["label smoothing", "regularization", "Computer Science - Machine Learning"]}
    assert (label.arxiv_id, lora.arxiv_id, lora.abstract) == ("1906.02629", "2106.09685", ABSTRACTS["LORA"])
    assert [(p.where.line, p.reason) for p in result.problems] == [
        (4, "title 'The Illustrated Transformer' has no 'abstract' field (or it is empty); skipped")]


def test_excel_semicolon_csv_with_bom_and_crlf() -> None:
    result = read_file(fixture("excel_semicolon.csv"))
    assert result.problems == []
    assert summary(result.papers) == [
        ("Mixture-of-Experts with Expert Choice Routing", ["Yanqi Zhou", "Tao Lei", "Hanxiao Liu"], 2022),
        ("Grokking: Generalization Beyond Overfitting on Small Algorithmic Datasets",
         ["Alethea Power", "Yuri Burda", "Harri Edwards", "Igor Babuschkin", "Vedant Misra"], 2022)]
    assert result.papers[0].abstract == ABSTRACTS["MOE"]  # "1,5 points": a comma inside a ;-separated field


def test_csv_without_a_title_or_abstract_column_lists_what_it_found_and_accepts(write_file: WriteFile) -> None:
    path = write_file("export.csv", "Key;Item Type;Heading;Body\nK1;journalArticle;A;B\n")
    (problem,) = read_file(path).problems
    assert problem.where.line == 1
    assert problem.reason == (
        "CSV header needs 'title' and 'abstract' columns and has no title or abstract column (read as "
        "semicolon-separated; found: 'Key', 'Item Type', 'Heading', 'Body'; accepted: title: 'title', 'paper_title', "
        "'name', 'Article Title', 'Document Title'; abstract: 'abstract', 'Abstract Note', 'summary', "
        "'abstract_text', 'description')")


# ---- Markdown ----------------------------------------------------------------------------------


def test_markdown_notes_strip_markup_from_titles() -> None:
    result = read_file(fixture("notes.md"))
    assert result.problems == []
    assert summary(result.papers) == [
        (LORA, LORA_AUTHORS, 2021),
        ("Grokking: Generalization Beyond Overfitting on Small Algorithmic Datasets", [], None)]
    assert [p.abstract for p in result.papers] == [ABSTRACTS["LORA"], ABSTRACTS["GROK"]]
    assert result.papers[0].arxiv_id == "2106.09685" and result.papers[0].sources == ["notes.md:5"]


def test_markdown_heading_without_abstract_is_reported(write_file: WriteFile) -> None:
    path = write_file("n.md", "# First Paper\n\nIts abstract, in one paragraph.\n\n# Second Paper\n")
    result = read_file(path)
    assert [p.title for p in result.papers] == ["First Paper"]
    assert [(p.where.line, p.reason) for p in result.problems] == [
        (5, "heading 'Second Paper' has no abstract paragraph under it; skipped")]


# ---- PDF ---------------------------------------------------------------------------------------


def test_pdf_title_from_metadata_and_abstract_up_to_the_introduction(tmp_path: Path) -> None:
    path = write_paper_pdf(tmp_path / "lora.pdf", LORA, LORA_AUTHORS, ABSTRACTS["LORA"], abstract_heading="ABSTRACT")
    (paper,) = read_file(path).papers
    assert summary([paper]) == [(LORA, LORA_AUTHORS, None)]
    assert paper.abstract == ABSTRACTS["LORA"] and paper.sources == ["lora.pdf:page 1"]


def test_pdf_title_from_the_first_page_and_year_from_the_arxiv_stamp(tmp_path: Path) -> None:
    path = write_paper_pdf(tmp_path / "1910.02054v3.pdf", ZERO, ZERO_AUTHORS, ABSTRACTS["ZERO"],
                           metadata_title=False, arxiv_stamp="arXiv:1910.02054v3  [cs.LG]  13 May 2020")
    (paper,) = read_file(path).papers
    assert summary([paper]) == [(ZERO, ZERO_AUTHORS, 2020)]
    assert paper.abstract == ABSTRACTS["ZERO"] and paper.arxiv_id == "1910.02054"


def test_pdf_without_an_abstract_or_readable_content_is_skipped_naming_the_file(tmp_path: Path) -> None:
    no_abstract = write_paper_pdf(tmp_path / "slides.pdf", "Quarterly Slides", ["Ann Lee"], "Some text here.",
                                  abstract_heading="Overview")
    assert [str(p) for p in read_file(no_abstract).problems] == [
        f"{no_abstract}: PDF 'Quarterly Slides': no 'Abstract' section found on its first 1 page(s); skipped"]
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF")
    (problem,) = read_file(broken).problems
    assert str(problem).startswith(f"{broken}: not a readable PDF (") and problem.reason.endswith("; skipped")


# ---- Zotero's own database -----------------------------------------------------------------------


def zotero_library(folder: Path) -> Path:
    """A Zotero data directory: zotero.sqlite, a backup, and storage/ with an attachment PDF."""
    items = [
        ZoteroItem("ZERO2020", "preprint", {"title": ZERO, "abstractNote": ABSTRACTS["ZERO"],
                                            "date": "2020-05-13 2020-05-13", "url": "http://arxiv.org/abs/1910.02054",
                                            "DOI": "10.48550/arXiv.1910.02054", "archiveID": "arXiv:1910.02054"},
                   [("author", first, last) for first, last in (name.split(" ", 1) for name in ZERO_AUTHORS)],
                   collections=["SYSTEMS1", "MEMORY01"], tags=["memory", "distributed training"]),
        ZoteroItem("PDFATTCH", "attachment", {"title": "Full Text PDF"}),
        ZoteroItem("NOTE0001", "note", {"title": "My notes on ZeRO"}),
        ZoteroItem("PAGED023", "conferencePaper", {
            "title": PAGED, "abstractNote": ABSTRACTS["PAGED"], "date": "2023-10-23 2023-10-23",
            "DOI": "10.1145/3600006.3613165", "publicationTitle": "SOSP '23"},
            [("author", *name.rsplit(" ", 1)) for name in PAGED_AUTHORS] + [("editor", "Ed", "Itor")],
            collections=["SYSTEMS1"]),
        ZoteroItem("GROUPED1", "book", {"title": "Deep Learning Book", "abstractNote": ABSTRACTS["RESNET"][:80],
                                        "date": "2016"}, [("author", "", "The Deep Learning Consortium")]),
        ZoteroItem("NOABSTR1", "journalArticle", {"title": "A Paper Kept Without Its Abstract", "date": "2021"}),
        ZoteroItem("TRASHED1", "journalArticle", {"title": "Deleted Paper", "abstractNote": "Deleted abstract."},
                   deleted=True),
    ]
    collections = {"SYSTEMS1": ("Systems", None), "MEMORY01": ("Memory", "SYSTEMS1")}
    db = build_zotero_sqlite(folder / "zotero.sqlite", items, collections)
    shutil.copyfile(db, folder / "zotero.sqlite.bak")
    write_paper_pdf(folder / "storage" / "PDFATTCH" / "Rajbhandari - ZeRO.pdf", ZERO, ZERO_AUTHORS, ABSTRACTS["ZERO"])
    (folder / "translators").mkdir()
    (folder / "translators" / "RIS.js").write_text("// Zotero's RIS translator\n")
    return db


ZOTERO_PAPERS = [(ZERO, ZERO_AUTHORS, 2020), (PAGED, PAGED_AUTHORS, 2023),
                 ("Deep Learning Book", ["The Deep Learning Consortium"], 2016)]


def test_zotero_database_items_with_collections_and_tags(tmp_path: Path) -> None:
    db = zotero_library(tmp_path / "Zotero")
    result = read_file(db)
    assert summary(result.papers) == ZOTERO_PAPERS  # no attachment, note or trashed item; editors are no authors
    zero, paged, _ = result.papers
    assert zero.metadata == {"collections": ["Systems", "Systems/Memory"], "tags": ["distributed training", "memory"]}
    assert paged.metadata == {"collections": ["Systems"]}
    assert (zero.doi, zero.arxiv_id, zero.abstract) == ("10.48550/arxiv.1910.02054", "1910.02054", ABSTRACTS["ZERO"])
    assert zero.sources == ["zotero.sqlite:item ZERO2020"]
    assert [str(p) for p in result.problems] == [
        f"{db}: item NOABSTR1 ('A Paper Kept Without Its Abstract'): no abstract; skipped"]


def test_zotero_directory_is_read_as_its_database_alone(tmp_path: Path) -> None:
    zotero_library(tmp_path / "Zotero")
    files, problems = expand_paths([tmp_path / "Zotero"])
    assert files == [tmp_path / "Zotero" / "zotero.sqlite"] and problems == []  # not storage/ PDFs, not the .bak
    papers, _, count = read_inputs([tmp_path / "Zotero"], 10**8, 10**5)
    assert count == 1 and summary(papers) == ZOTERO_PAPERS


def test_zotero_database_reads_while_zotero_holds_its_lock_and_is_never_changed(tmp_path: Path) -> None:
    db = zotero_library(tmp_path / "Zotero")
    before = (db.read_bytes(), db.stat().st_mtime_ns)
    zotero = sqlite3.connect(db)  # Zotero keeps an exclusive lock on its database while it runs
    zotero.execute("PRAGMA locking_mode = EXCLUSIVE")
    zotero.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            sqlite3.connect(db, timeout=0).execute("SELECT count(*) FROM items").fetchone()
        assert summary(read_file(db).papers) == ZOTERO_PAPERS
    finally:
        zotero.rollback()
        zotero.close()
    assert (db.read_bytes(), db.stat().st_mtime_ns) == before
    assert sorted(os.listdir(db.parent)) == ["storage", "translators", "zotero.sqlite", "zotero.sqlite.bak"]


def test_a_sqlite_file_that_is_not_zotero_is_reported(tmp_path: Path) -> None:
    other = tmp_path / "app.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    (problem,) = read_file(other).problems
    assert problem.reason.startswith("not a Zotero database (no table creators, fields,")


# ---- one paper across formats ----------------------------------------------------------------------


def test_the_same_paper_from_bibtex_jsonl_ris_csl_json_and_pdf_is_one_paper(tmp_path: Path) -> None:
    pdf = write_paper_pdf(tmp_path / "zero.pdf", ZERO, ZERO_AUTHORS, ABSTRACTS["ZERO"], metadata_title=False,
                          arxiv_stamp="arXiv:1910.02054v3  [cs.LG]  13 May 2020")
    inputs = [fixture("zotero.bib"), fixture("arxiv-metadata-oai-snapshot.json"), fixture("zotero.ris"),
              fixture("zotero_csl.json"), pdf]
    papers, problems, _ = read_inputs(inputs, 10**8, 10**5)
    assert [p.reason for p in problems] == [
        "item 3 ('http://zotero.org/users/1234567/items/NOABSTR1'): title 'The Illustrated Transformer' has no "
        "'abstract' field (or it is empty); skipped"]
    by_title = {p.title: p for p in papers}
    assert sorted(by_title) == sorted([ZERO, FLASH, SPARSE, LABEL, PAGED])
    zero = by_title[ZERO]
    assert zero.id == paper_id_for(ZERO) == "pc73740dc2be3b22"
    assert zero.sources == ["zotero.bib:3", "arxiv-metadata-oai-snapshot.json:1", "zotero.ris:1", "zotero_csl.json:2",
                            "zero.pdf:page 1"]
    # "Adaptively Sparse Transformers": $\alpha$ in BibTeX and the arXiv TeX, α in CSL-JSON; one DOI.
    assert by_title[SPARSE].sources == ["zotero.bib:35", "arxiv-metadata-oai-snapshot.json:2", "zotero_csl.json:51"]
    assert by_title[PAGED].sources == ["zotero.bib:61", "zotero.ris:19"]


def test_a_latex_title_and_its_unicode_copy_are_one_paper(write_file: WriteFile) -> None:
    bib = write_file("u.bib", "@article{u1, title = {{\\\"U}ber-{S}parse {A}ttention with $\\alpha$-entmax {\\&} "
                              "{F}riends}, abstract = {Sparse attention helps. It helps a lot.}}\n")
    records = write_file("u.jsonl", '{"title": "Über-sparse attention with α-entmax & friends", '
                                    '"abstract": "Sparse attention helps.  It helps a lot."}\n')
    papers, problems, _ = read_inputs([bib, records], 10**8, 10**5)
    assert problems == []
    (paper,) = papers
    assert paper.title == "Über-Sparse Attention with α-entmax & Friends"
    assert paper.sources == ["u.bib:1", "u.jsonl:1"]


def test_same_title_with_different_dois_are_two_papers_and_one_doi_merges_two_titles(write_file: WriteFile) -> None:
    text = ('{"title": "Scaling Laws", "abstract": "Workshop version.", "doi": "10.5555/ws"}\n'
            '{"title": "Scaling Laws", "abstract": "Journal version.", "doi": "https://doi.org/10.5555/JOURNAL"}\n'
            '{"title": "Scaling Laws (extended)", "abstract": "Journal version.", "doi": "doi:10.5555/journal"}\n')
    papers, problems, _ = read_inputs([write_file("s.jsonl", text)], 10**8, 10**5)
    assert problems == []
    assert [(p.title, p.doi, p.sources) for p in papers] == [
        ("Scaling Laws", "10.5555/ws", ["s.jsonl:1"]),
        ("Scaling Laws", "10.5555/journal", ["s.jsonl:2", "s.jsonl:3"])]
    assert len({p.id for p in papers}) == 2


LATEX_SAMPLES = [
    r"{ZeRO}: {Memory} {Optimizations} with $\alpha$-entmax \& 50\% -- really {\em while} {\"u}ber",
    r"M{\"u}ller, Gon{\c{c}}alo, Andr{\'e}, \'\i{}, {\L}ukasz, \"u and \'e and \^o and \c{c}",
    r"\textit{Trans-LoRA}: towards data-free {Transferable} ``quoted'' \url{http://x.org/a_b} a~b",
    r"Text with \textbf{bold {nested {deeper {four}}}} end", r"unbalanced { brace", r"display $$x^2$$ math",
    r"\(x\) inline, $\mathcal{O}(n^2)$ and \textbackslash{}cmd \textasciicircum{} \{x\} \# \_ \$",
]


@pytest.mark.parametrize("text", [*LATEX_SAMPLES, ABSTRACTS["SPARSE_TEX"]])
def test_span_by_span_latex_decoding_reads_as_pylatexenc_reads_the_whole_text(text: str) -> None:
    from pylatexenc.latex2text import LatexNodes2Text

    from ingest.readers.latex import decoder

    fast = decoder()
    assert fast.latex_to_text(text) == LatexNodes2Text.latex_to_text(fast, text)


def test_ris_arxiv_id_from_a_repeated_note(write_file: WriteFile) -> None:
    text = "TY  - GEN\nTI  - T\nAB  - An abstract here.\nN1  - first note\nN1  - arXiv:2101.00001 [cs]\nER  - \n"
    (paper,) = read_file(write_file("notes.ris", text)).papers
    assert paper.arxiv_id == "2101.00001"
