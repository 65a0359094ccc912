"""Ingest into a real store: SQLite catalog, embedded Chroma in a tmp dir, the real embedding model.

Tests that only read use the session's `small_service`; tests that change or damage a store build
their own from a few papers (embedding a handful of chunks takes well under a second).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import SMALL_CORPUS, WriteFile, jsonl, paper_titled, small_papers

from assistant.keyword import STAMP_FILE, KeywordIndex
from assistant.names import NameIndex
from assistant.service import PaperChat
from assistant.store import PaperStore, chunk_id
from ingest.chunking import embedding_text, paper_chunks
from ingest.pipeline import IngestSummary
from ingest.records import Paper, paper_id_for

MakeService = Callable[..., PaperChat]


def chroma_ids(service: PaperChat) -> set[str]:
    return set(service.store.collection.get(include=[])["ids"])


def chroma_docs(service: PaperChat, paper_id: str) -> dict[str, str]:
    got = service.store.collection.get(where={"paper_id": paper_id}, include=["documents"])
    return dict(zip(got["ids"], got["documents"], strict=True))


def assert_consistent(service: PaperChat) -> None:
    """Chroma holds exactly the catalog's chunks, and the keyword index matches the catalog."""
    store = service.store
    assert chroma_ids(service) == store.expected_chunk_ids()
    assert store.collection.count() == len(store.expected_chunk_ids())
    stamp = json.loads((store.settings.keyword_dir / STAMP_FILE).read_text())
    assert stamp["generation"] == store.catalog.generation
    assert store.keyword_index().papers == len(store.catalog)


def records(*prefixes: str) -> list[dict[str, str]]:
    return [paper_titled(prefix) for prefix in prefixes]


def pid(prefix: str) -> str:
    return paper_id_for(paper_titled(prefix)["title"])


def top_paper(service: PaperChat, query: str, mode: str) -> str:
    hits = service.search(query, 3, mode)  # type: ignore[arg-type]
    assert hits, f"no {mode} hits for {query!r}"
    return hits[0].paper.id


# ---- the shared small index ----------------------------------------------------------------


def test_first_ingest_counts(small_service: PaperChat, small_ingest_summary: IngestSummary) -> None:
    summary = small_ingest_summary
    papers = [Paper(title=r["title"], abstract=r["abstract"]) for r in small_papers()]
    expected_chunks = sum(len(paper_chunks(p, small_service.settings.chunk_max_words)) for p in papers)
    assert (summary.files, summary.records) == (1, 15)
    assert len(summary.added) == 15 and summary.updated == [] and summary.unchanged == 0
    assert summary.skipped == []
    assert summary.chunks_embedded == expected_chunks > 15  # long abstracts take several chunks
    assert summary.total_papers == 15
    stats = small_service.stats()
    assert stats["papers"] == 15 and stats["chunks"] == expected_chunks
    assert stats["source_files"] == ["small_papers.jsonl"]
    assert_consistent(small_service)
    assert summary.to_dict()["added"] == 15
    assert summary.lines()[0].startswith("1 file(s), 15 record(s): 15 added, 0 updated, 0 unchanged, 0 skipped")


def test_catalog_rows_match_the_input(small_service: PaperChat) -> None:
    stored = small_service.store.catalog.papers()
    for number, record in enumerate(small_papers(), 1):
        row = stored[paper_id_for(record["title"])]
        assert (row.title, row.abstract) == (record["title"], record["abstract"])
        assert row.sources == [f"small_papers.jsonl:{number}"]
        assert row.chunks == len(paper_chunks(Paper(title=row.title, abstract=row.abstract), 90))
        docs = chroma_docs(small_service, row.id)
        assert sorted(docs) == sorted(chunk_id(row.id, n) for n in range(row.chunks))
        assert " ".join(docs[chunk_id(row.id, n)] for n in range(row.chunks)) == row.abstract


def test_reingest_unchanged_embeds_nothing(small_service: PaperChat) -> None:
    store = small_service.store
    before = (store.catalog.generation, store.collection.count(), chroma_ids(small_service))
    summary = small_service.ingest([SMALL_CORPUS])
    assert summary.chunks_embedded == 0 and summary.chunks_removed == 0
    assert summary.unchanged == 15 and summary.added == [] and summary.updated == []
    assert summary.total_papers == 15
    assert (store.catalog.generation, store.collection.count(), chroma_ids(small_service)) == before
    assert_consistent(small_service)


def test_search_finds_papers_by_meaning_and_by_keyword(small_service: PaperChat) -> None:
    assert top_paper(small_service, "eliminating memory redundancies in data-parallel and model-parallel training "
                     "of trillion-parameter models", "dense") == pid("ZeRO: Memory")
    assert top_paper(small_service, "quantized weight communication and hierarchical partitioning to reduce "
                     "communication volume", "dense") == pid("ZeRO++")
    assert top_paper(small_service, "block-quantization based all-gather", "keyword") == pid("ZeRO++")
    assert top_paper(small_service, "Einsum cascades attention accelerator", "hybrid") == pid("FuseMax")


def test_keyword_index_is_stamped_with_the_catalog_generation(small_service: PaperChat) -> None:
    settings = small_service.settings
    generation = small_service.store.catalog.generation
    loaded = KeywordIndex.load(settings.keyword_dir, generation)
    assert loaded is not None and loaded.papers == 15
    assert KeywordIndex.load(settings.keyword_dir, generation + 1) is None
    hits = loaded.search("FlashAttention thread blocks warps", 5)
    assert hits and hits[0][1] == pid("FlashAttention-2")
    assert {cid for cid, _, _ in hits} <= small_service.store.expected_chunk_ids()


# ---- stores of their own ------------------------------------------------------------------------


def test_changed_abstract_replaces_its_chunks(make_service: MakeService, write_file: WriteFile) -> None:
    three = records("FuseMax", "ZeRO: Memory", "ZeRO++")
    path = write_file("papers.jsonl", jsonl(three))
    service = make_service()
    first = service.ingest([path])
    fusemax = pid("FuseMax")
    old_chunks = service.store.catalog.papers()[fusemax].chunks
    assert old_chunks >= 3 and len(first.added) == 3
    old_ids = {chunk_id(fusemax, n) for n in range(old_chunks)}
    old_docs = chroma_docs(service, fusemax)
    assert set(old_docs) == old_ids
    title = three[0]["title"]
    old_first = embedding_text(title, old_docs[chunk_id(fusemax, 0)])
    assert service.retriever.dense(old_first)[0][::2] == (chunk_id(fusemax, 0), pytest.approx(1.0, abs=1e-3))

    new_abstract = ("FuseMax maps attention onto a spatial array with a zebra-striped dataflow. "
                    "It reaches 6.7times speedup over FLAT.")
    three[0] = {**three[0], "abstract": new_abstract}
    write_file("papers.jsonl", jsonl(three))
    summary = service.ingest([path])
    assert summary.updated == [fusemax] and summary.added == [] and summary.unchanged == 2
    assert summary.chunks_embedded == 1 and summary.chunks_removed == old_chunks
    row = service.store.catalog.papers()[fusemax]
    assert row.abstract == new_abstract and row.chunks == 1
    assert chroma_docs(service, fusemax) == {chunk_id(fusemax, 0): new_abstract}
    assert not (old_ids - {chunk_id(fusemax, 0)}) & chroma_ids(service)  # no orphans left behind
    assert_consistent(service)
    assert top_paper(service, "zebra-striped dataflow", "keyword") == fusemax
    # The stored vector is the new text's: searching with exactly that text finds it at cosine 1.
    assert service.retriever.dense(embedding_text(title, new_abstract))[0][::2] == (
        chunk_id(fusemax, 0), pytest.approx(1.0, abs=1e-3))
    assert service.retriever.dense(old_first)[0][2] < 0.99
    old_phrase = service.search("taxonomize non-trivial lower bounds", 5, "keyword")
    assert fusemax not in [hit.paper.id for hit in old_phrase]


def test_paper_in_two_files_keeps_both_sources(make_service: MakeService, write_file: WriteFile) -> None:
    zero = paper_titled("ZeRO: Memory")
    a = write_file("a.jsonl", jsonl([zero, paper_titled("FuseMax")]))
    b = write_file("b.txt", f"Subscribe\n\n{zero['title']}\n\n{zero['abstract']}\n")
    service = make_service()
    summary = service.ingest([a, b])
    assert (summary.files, summary.records, len(summary.added)) == (2, 3, 2)  # 3 records, 2 papers
    assert service.store.catalog.papers()[pid("ZeRO: Memory")].sources == ["a.jsonl:1", "b.txt:3"]

    # The same paper in a third file, in a later run: sources grow, nothing is re-embedded.
    c = write_file("c.csv", f'title,abstract\n"{zero["title"]}","{zero["abstract"]}"\n')
    generation = service.store.catalog.generation
    summary = service.ingest([c])
    assert summary.unchanged == 1 and summary.chunks_embedded == 0
    assert service.store.catalog.papers()[pid("ZeRO: Memory")].sources == ["a.jsonl:1", "b.txt:3", "c.csv:2"]
    assert service.store.catalog.generation > generation
    assert service.stats()["source_files"] == ["a.jsonl", "b.txt", "c.csv"]
    assert_consistent(service)


def test_bad_records_are_skipped_and_indexed_papers_kept(make_service: MakeService, write_file: WriteFile,
                                                          tmp_path: Path) -> None:
    good = write_file("good.jsonl", jsonl(records("ZeRO++", "MoE++")))
    service = make_service()
    service.ingest([good])
    before = chroma_ids(service)
    bad = write_file("bad.jsonl", "\n".join([
        '{"title": "Broken", ',
        '["a list"]',
        '{"title": "No abstract"}',
        json.dumps(paper_titled("ParZC")),
    ]) + "\n")
    binary = write_file("blob.txt", b"\x00\x01\x02" * 50)
    summary = service.ingest([bad, binary, tmp_path / "missing.csv"])
    assert summary.added == [pid("ParZC")] and summary.total_papers == 3
    where = sorted(f"{Path(p.where.path).name}:{p.where.line}" for p in summary.skipped)
    assert where == ["bad.jsonl:1", "bad.jsonl:2", "bad.jsonl:3", "blob.txt:0", "missing.csv:0"]
    assert all(f"  skipped {p}" in summary.lines() for p in summary.skipped)
    assert before < chroma_ids(service)
    assert_consistent(service)

    # A run with nothing usable at all changes nothing.
    generation = service.store.catalog.generation
    summary = service.ingest([tmp_path / "missing.jsonl"])
    assert summary.total_papers == 3 and summary.files == 0 and len(summary.skipped) == 1
    assert service.store.catalog.generation == generation
    assert_consistent(service)


def test_duplicate_title_with_a_different_abstract_is_reported(make_service: MakeService,
                                                                write_file: WriteFile) -> None:
    zero = paper_titled("ZeRO: Memory")
    a = write_file("a.jsonl", jsonl([zero]))
    b = write_file("b.jsonl", jsonl([paper_titled("FuseMax"), {"title": zero["title"], "abstract": "Something else."}]))
    service = make_service()
    summary = service.ingest([a, b])
    assert len(summary.added) == 2
    (problem,) = summary.skipped
    assert str(problem) == (f"{b}:2: duplicate title {zero['title'][:60]!r} with a different abstract; "
                            "kept the one from a.jsonl:1")
    assert service.store.catalog.papers()[pid("ZeRO: Memory")].abstract == zero["abstract"]


def test_ids_are_stable_across_fresh_data_dirs(make_service: MakeService, write_file: WriteFile) -> None:
    path = write_file("p.jsonl", jsonl(records("FlashAttention-2", "Tiny Time Mixers", "ZeroRF")))
    one, two = make_service("one"), make_service("two")
    one.ingest([path])
    # Same papers, different file, format and order: same ids.
    other = write_file("q.csv", "title,abstract\n" + "".join(
        f'"{r["title"]}","{r["abstract"]}"\n' for r in reversed(records("FlashAttention-2", "Tiny Time Mixers",
                                                                        "ZeroRF"))))
    two.ingest([other])
    assert set(one.store.catalog.papers()) == set(two.store.catalog.papers()) == {
        pid("FlashAttention-2"), pid("Tiny Time Mixers"), pid("ZeroRF")}
    assert chroma_ids(one) == chroma_ids(two)


def test_stale_or_damaged_keyword_index_is_rebuilt(make_service: MakeService, write_file: WriteFile) -> None:
    path = write_file("p.jsonl", jsonl(records("ZeRO++", "FuseMax")))
    service = make_service()
    service.ingest([path])
    settings = service.settings
    generation = service.store.catalog.generation
    stamp = settings.keyword_dir / STAMP_FILE

    stamp.write_text(json.dumps({"generation": generation - 1}))  # e.g. a crash after a catalog write
    fresh = PaperStore(settings)
    index = fresh.keyword_index()
    assert json.loads(stamp.read_text())["generation"] == generation
    assert index.papers == 2 and index.search("block-quantization all-gather", 3)[0][1] == pid("ZeRO++")

    (settings.keyword_dir / "terms.json").write_text("{not json")
    assert KeywordIndex.load(settings.keyword_dir, generation) is None
    assert PaperStore(settings).keyword_index().papers == 2
    assert KeywordIndex.load(settings.keyword_dir, generation) is not None

    # The catalog moves on (a new paper): the in-memory index notices the new generation.
    store = service.store
    old = store.keyword_index()
    service.ingest([write_file("more.jsonl", jsonl(records("MoE++")))])
    assert store.keyword_index() is not old and store.keyword_index().papers == 3
    assert_consistent(service)


def test_name_index_is_saved_once_per_catalog_generation(make_service: MakeService, write_file: WriteFile) -> None:
    service = make_service()
    first = write_file("p.jsonl", jsonl(records("ZeRO++", "FuseMax")))
    service.ingest([first])
    settings, generation = service.settings, service.store.catalog.generation
    assert NameIndex.saved_generation(settings.names_path) == generation  # saved by the ingest, before any question
    stamp = settings.names_path.stat().st_mtime_ns
    service.ingest([first])  # nothing changed: the saved index is neither rebuilt nor rewritten
    assert settings.names_path.stat().st_mtime_ns == stamp
    built = service.store.name_index()
    assert [m.paper_ids for m in built.mentions("Compare ZeRO++ and FuseMax")] == [[pid("ZeRO++")], [pid("FuseMax")]]

    # A new process loads the saved file instead of reading every abstract: same answers.
    loaded = NameIndex.load(settings.names_path, generation)
    assert loaded is not None and loaded.to_state() == built.to_state()
    fresh = PaperStore(settings).name_index()
    assert fresh.unknown_names("Does FlashAttention-3 beat FuseMax?") == ["FlashAttention-3"]
    assert fresh.own_names(pid("FuseMax")) == built.own_names(pid("FuseMax"))
    assert NameIndex.load(settings.names_path, generation + 1) is None  # stale: rebuilt, never trusted

    settings.names_path.write_text(json.dumps({"generation": generation}) + '\n{"names": ')  # cut short
    assert NameIndex.load(settings.names_path, generation) is None
    assert PaperStore(settings).name_index().mentions("What is ZeRO++?")[0].paper_ids == [pid("ZeRO++")]
    assert NameIndex.load(settings.names_path, generation) is not None  # rebuilt and saved again

    # An ingest moves the catalog on: it saves the new index, and the running store picks it up.
    service.ingest([write_file("more.jsonl", jsonl(records("MoE++")))])
    assert NameIndex.saved_generation(settings.names_path) == service.store.catalog.generation
    assert service.store.name_index().mentions("What is MoE++?")[0].paper_ids == [pid("MoE++")]
    assert not list(settings.data_dir.glob("names.json.*"))  # no partial files left


def test_repair_reembeds_missing_chunks_and_drops_orphans(make_service: MakeService, write_file: WriteFile) -> None:
    path = write_file("p.jsonl", jsonl(records("FuseMax", "ZeRO++", "ZeRO: Memory")))
    service = make_service()
    service.ingest([path])
    collection = service.store.collection
    fusemax = pid("FuseMax")
    lost = chunk_id(fusemax, 1)
    collection.delete(ids=[lost])
    assert lost not in chroma_ids(service)

    summary = service.ingest([path])
    assert summary.updated == [fusemax] and summary.unchanged == 2
    assert summary.chunks_embedded == service.store.catalog.papers()[fusemax].chunks
    assert lost in chroma_ids(service)
    assert_consistent(service)

    orphan = "pdeadbeefdeadbee#0"
    collection.add(ids=[orphan, chunk_id(fusemax, 99)], embeddings=[[0.05] * 384, [0.05] * 384],
                   metadatas=[{"paper_id": "pdeadbeefdeadbee", "chunk": 0}, {"paper_id": fusemax, "chunk": 99}],
                   documents=["stray", "stray"])
    summary = service.ingest([path])
    assert summary.chunks_embedded == 0 and summary.unchanged == 3
    assert orphan not in chroma_ids(service) and chunk_id(fusemax, 99) not in chroma_ids(service)
    assert_consistent(service)


def test_repair_does_not_need_the_damaged_papers_file(make_service: MakeService, write_file: WriteFile) -> None:
    """The catalog is the source of truth: a paper whose vectors were lost is re-embedded from it."""
    first = write_file("first.jsonl", jsonl(records("FuseMax", "ZeRO++")))
    service = make_service()
    service.ingest([first])
    zeropp = pid("ZeRO++")
    service.store.collection.delete(ids=[chunk_id(zeropp, 0)])
    summary = service.ingest([write_file("second.jsonl", jsonl(records("MoE++")))])
    assert summary.added == [pid("MoE++")] and zeropp in summary.updated
    assert_consistent(service)
    assert top_paper(service, "block-quantization based all-gather", "dense") == zeropp


def test_lost_catalog_row_is_re_added_without_duplicate_vectors(make_service: MakeService,
                                                                  write_file: WriteFile) -> None:
    path = write_file("p.jsonl", jsonl(records("FuseMax", "ZeRO++")))
    service = make_service()
    service.ingest([path])
    count = service.store.collection.count()
    service.store.catalog.delete([pid("FuseMax")])  # as if a crash hit before the catalog write
    assert chroma_ids(service) > service.store.expected_chunk_ids()
    summary = service.ingest([path])
    assert summary.added == [pid("FuseMax")]
    assert service.store.collection.count() == count
    assert_consistent(service)


def test_changed_chunk_size_reembeds_everything(make_service: MakeService, write_file: WriteFile) -> None:
    path = write_file("p.jsonl", jsonl(records("FuseMax", "ZeRO++")))
    make_service("data").ingest([path])
    smaller = make_service("data", chunk_max_words=30)
    summary = smaller.ingest([write_file("other.jsonl", jsonl(records("MoE++")))])
    assert summary.added == [pid("MoE++")]
    assert sorted(summary.updated) == sorted([pid("FuseMax"), pid("ZeRO++")])
    rows = smaller.store.catalog.papers()
    assert all(row.chunks == len(paper_chunks(Paper(title=row.title, abstract=row.abstract), 30))
               for row in rows.values())
    assert_consistent(smaller)
    assert json.loads(smaller.store.catalog.get_meta("layout"))["chunk_max_words"] == 30
    again = smaller.ingest([path])
    assert again.chunks_embedded == 0 and again.unchanged == 2


def test_progress_reports_every_batch(make_service: MakeService, write_file: WriteFile) -> None:
    path = write_file("p.jsonl", jsonl(records("FuseMax", "ZeRO++", "MoE++", "ParZC")))
    calls: list[tuple[int, int]] = []
    service = make_service()
    summary = service.ingest([path], progress=lambda done, total: calls.append((done, total)))
    total = summary.chunks_embedded
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_empty_store_searches_return_nothing(make_service: MakeService, tmp_path: Path) -> None:
    service = make_service()
    summary = service.ingest([tmp_path / "nothing.jsonl"])
    assert summary.total_papers == 0 and summary.added == []
    assert service.search("attention", 5, "hybrid") == []
    assert service.stats()["papers"] == 0


def test_first_start_on_a_new_data_dir_reports_no_repair(make_service: MakeService) -> None:
    service = make_service()
    summary = service.ensure_index()  # nothing there yet: the configured corpus is ingested, nothing "repaired"
    assert summary is not None and summary.total_papers == 15
    assert service.store_notice is None


@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid"])
def test_search_modes_return_catalog_papers(small_service: PaperChat, mode: str) -> None:
    hits = small_service.search("memory efficient training of large models", 5, mode)  # type: ignore[arg-type]
    catalog = small_service.store.catalog.papers()
    assert 0 < len(hits) <= 5
    assert all(hit.paper.id in catalog for hit in hits)
    assert len({hit.paper.id for hit in hits}) == len(hits)
