"""Researchers' files through the real store (SQLite catalog, embedded Chroma, the packaged encoder), and the
exports of cited papers read back: one paper per paper whatever the order and format its copies arrive in, a
catalog written before DOIs were kept still opens, and an exported BibTeX, RIS or CSL-JSON file ingests back
to the same papers.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from conftest import WriteFile
from library_files import ABSTRACTS, FORMATS_DIR, write_paper_pdf

from assistant.answer import Answer, Source
from assistant.export import cited_papers, export_conversation
from assistant.store import Catalog, StoredPaper
from ingest.pipeline import match_stored, read_inputs
from ingest.records import Paper, paper_id_for

if TYPE_CHECKING:
    from assistant.service import PaperChat

MakeService = Callable[..., "PaperChat"]
ZERO = "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models"
ALL_FIXTURES = sorted(path for path in FORMATS_DIR.iterdir() if path.name != "abstracts.json")


def test_every_fixture_ingests_once_and_again_changes_nothing(make_service: MakeService, tmp_path: Path) -> None:
    pdf = write_paper_pdf(tmp_path / "pdfs" / "zero.pdf", ZERO, ["Samyam Rajbhandari"], ABSTRACTS["ZERO"])
    service = make_service()
    first = service.ingest([*ALL_FIXTURES, pdf])
    assert first.files == len(ALL_FIXTURES) + 1
    stored = service.store.catalog.papers()
    titles = sorted(row.title for row in stored.values())
    assert len(titles) == len(set(titles)) == 12 == len(first.added), titles  # one row per paper
    zero = stored[paper_id_for(ZERO)]
    assert zero.doi == "10.48550/arxiv.1910.02054" and zero.arxiv_id == "1910.02054"
    assert len(zero.sources) == 5 and "zero.pdf:page 1" in zero.sources
    # The catalog keeps what Zotero said: tags and the DOI travel to the row.
    label = next(row for row in stored.values() if row.title == "When Does Label Smoothing Help?")
    assert label.metadata["tags"][:2] == ["label smoothing", "regularization"]

    again = service.ingest([*ALL_FIXTURES, pdf])
    assert (again.added, again.updated, again.chunks_embedded) == ([], [], 0)
    assert again.unchanged == 12 and len(service.store.catalog) == 12


def test_copies_in_later_runs_join_the_stored_paper(make_service: MakeService, write_file: WriteFile) -> None:
    service = make_service()
    service.ingest([FORMATS_DIR / "zotero_csl.json"])
    before = service.store.catalog.papers()
    # Another title for the same DOI (the published version's wording): the stored paper, not a new one.
    renamed = write_file("renamed.jsonl", json.dumps({
        "title": "ZeRO: memory optimizations toward training trillion-parameter models (SC20)",
        "abstract": ABSTRACTS["ZERO"], "doi": "https://doi.org/10.48550/arXiv.1910.02054"}) + "\n")
    summary = service.ingest([renamed, FORMATS_DIR / "zotero.bib"])
    after = service.store.catalog.papers()
    assert set(before) <= set(after) and len(after) == 5  # ZeRO and the Sparse paper met again, three new
    zero = after[paper_id_for(ZERO)]
    assert zero.sources == ["zotero_csl.json:2", "renamed.jsonl:1", "zotero.bib:3"]
    assert summary.unchanged == 1 and len(summary.updated) == 1  # ZeRO unchanged; the renamed copy's title is new
    # A copy without DOI, year or authors takes nothing away from the stored row.
    bare = write_file("bare.jsonl", json.dumps({"title": ZERO, "abstract": ABSTRACTS["ZERO"]}) + "\n")
    service.ingest([bare])
    row = service.store.catalog.papers()[paper_id_for(ZERO)]
    assert row.doi == "10.48550/arxiv.1910.02054" and row.authors[0] == "Samyam Rajbhandari"


def test_new_details_update_the_row_without_reembedding(make_service: MakeService, write_file: WriteFile) -> None:
    service = make_service()
    path = write_file("p.jsonl", json.dumps({"title": ZERO, "abstract": ABSTRACTS["ZERO"]}) + "\n")
    service.ingest([path])
    path.write_text(json.dumps({"title": ZERO, "abstract": ABSTRACTS["ZERO"], "year": 2020,
                                "doi": "10.48550/arXiv.1910.02054", "authors": ["Samyam Rajbhandari"]}) + "\n")
    summary = service.ingest([path])
    assert summary.chunks_embedded == 0 and summary.unchanged == 1
    row = service.store.catalog.papers()[paper_id_for(ZERO)]
    assert (row.year, row.doi, row.authors) == (2020, "10.48550/arxiv.1910.02054", ["Samyam Rajbhandari"])


def test_a_catalog_written_before_dois_were_kept_opens_and_keeps_its_ids(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE papers (id TEXT PRIMARY KEY, title TEXT NOT NULL, abstract TEXT NOT NULL,
            authors TEXT NOT NULL DEFAULT '[]', year INTEGER, url TEXT, sources TEXT NOT NULL DEFAULT '[]',
            content_hash TEXT NOT NULL, chunks INTEGER NOT NULL);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO papers VALUES ('pold', 'Über — A Study', 'An abstract.', '["Ann Lee"]', 2019, NULL,
                                   '["old.jsonl:1"]', 'h', 1);""")
    old.commit()
    old.close()
    catalog = Catalog(path)
    (row,) = catalog.papers().values()
    assert (row.id, row.title, row.authors, row.doi, row.arxiv_id, row.metadata) == (
        "pold", "Über — A Study", ["Ann Lee"], None, None, {})
    # Its id was the hash of the title as folded then ("über—astudy"); a copy now folds to "uberastudy",
    # another id, and is matched to the stored row by that key instead of being added twice.
    incoming = Paper(title="Uber - a study", abstract="An abstract.")
    assert incoming.id != "pold"
    match_stored([incoming], catalog.papers())
    assert incoming.id == "pold"
    catalog.close()


def test_a_title_shared_by_two_dois_gets_a_second_id_against_the_store() -> None:
    workshop = paper_id_for("Scaling Laws")
    stored = {workshop: StoredPaper(workshop, "Scaling Laws", "Workshop.", [], 2020, None, [], "h", 1, "10.5555/ws")}
    journal = Paper(title="Scaling Laws", abstract="Journal.", doi="10.5555/journal")
    same = Paper(title="scaling laws", abstract="Workshop.")
    match_stored([journal, same], stored)
    assert same.id == workshop and journal.id not in stored  # its own id, not the workshop paper's row


# ---- exports read back ------------------------------------------------------------------------------


def test_exported_bibtex_ris_and_csl_json_ingest_back_to_the_same_papers(tmp_path: Path) -> None:
    papers, _, _ = read_inputs([FORMATS_DIR / name for name in ("zotero.bib", "jabref.bib", "zotero.csv")],
                               10**8, 10**5)
    hostile = Paper(title="Tricky {Braces} & 100% $math$ -- ~x^2 \\cmd ''quoted'' #1 a_b",
                    abstract="Text with } unbalanced { braces, 50% and a <script>alert(1)</script>.",
                    authors=["Ann Lee", "Prince"], year=2024, url="javascript:alert(1)")
    papers.append(hostile)
    catalog = {paper.id: paper for paper in papers}
    sources = [Source(n, paper.id, paper.title, paper.sources) for n, paper in enumerate(papers, 1)]
    turns = [("Everything?", Answer("Everything?", "All of them.", "list", sources))]
    files = export_conversation(turns, tmp_path / "export" / "chat.md", catalog)
    for path in (files.bibtex, files.ris, files.csl_json):
        text = path.read_text(encoding="utf-8")
        assert "javascript:" not in text, path.name
        back, problems, _ = read_inputs([path], 10**8, 10**5)
        assert problems == [], (path.name, problems)
        expected = [(p.id, p.title, p.abstract, p.authors, p.year, p.doi, p.arxiv_id) for p in papers]
        assert [(p.id, p.title, p.abstract, p.authors, p.year, p.doi, p.arxiv_id) for p in back] == expected, path.name
        assert back[-1].url is None  # the javascript: URL is not a link anywhere
    assert [paper.key for paper in cited_papers(turns, catalog)][-1].startswith("tricky_p")
