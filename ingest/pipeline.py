"""Ingest: read files -> dedup Paper records -> diff against the catalog -> embed and upsert chunks.

Order of writes per batch is chosen so a crash at any point leaves a store the next run repairs:
old chunks are deleted and new ones added in Chroma first, the catalog row is written last. A
paper whose catalog row is missing or stale is simply re-embedded next time.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.identity import PaperMatcher, distinct_id
from ingest.readers import expand_paths, read_file
from ingest.records import Location, Paper, Problem, normalize_title

if TYPE_CHECKING:
    from assistant.store import StoredPaper

ProgressFn = Callable[[int, int], None]
EmbedFn = Callable[[list[str]], list[list[float]]]


@dataclass
class IngestSummary:
    """What one ingest run did, for the CLI, the UI and tests."""

    files: int = 0
    records: int = 0
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[Problem] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_loaded: int = 0  # of chunks_embedded, taken from vector files instead of the model
    chunks_removed: int = 0
    seconds: float = 0.0
    total_papers: int = 0

    def lines(self) -> list[str]:
        out = [
            f"{self.files} file(s), {self.records} record(s): {len(self.added)} added, {len(self.updated)} updated, "
            f"{self.unchanged} unchanged, {len(self.skipped)} skipped "
            f"({self.chunks_embedded} chunks embedded in {self.seconds:.1f}s"
            + (f", {self.chunks_loaded} of them from vector files" if self.chunks_loaded else "")
            + f"; {self.total_papers} papers indexed)"
        ]
        out += [f"  skipped {problem}" for problem in self.skipped]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files, "records": self.records, "added": len(self.added), "updated": len(self.updated),
            "unchanged": self.unchanged, "skipped": [str(p) for p in self.skipped],
            "chunks_embedded": self.chunks_embedded, "chunks_loaded": self.chunks_loaded,
            "seconds": round(self.seconds, 3),
            "total_papers": self.total_papers,
        }


def read_inputs(paths: Sequence[Path], max_file_bytes: int,
                max_abstract_chars: int) -> tuple[list[Paper], list[Problem], int]:
    """Read every file and merge the records that are one paper (see ingest.identity).

    Returns the unique papers, the problems and the file count. The first record read of a paper
    keeps its title and abstract; later copies add their sources and fill in what it lacks
    (authors, year, DOI, arXiv id, URL, metadata).
    """
    files, problems = expand_paths(list(paths))
    by_id: dict[str, Paper] = {}
    matcher = PaperMatcher()
    records = 0
    for path in files:
        result = read_file(path, max_file_bytes)
        problems.extend(result.problems)
        for paper in result.papers:
            records += 1
            where = paper.sources[0] if paper.sources else str(path)
            if len(paper.abstract) > max_abstract_chars:
                problems.append(Problem(Location(str(path), _line_of(where)),
                                        f"abstract of {paper.title[:60]!r} is {len(paper.abstract):,} characters, "
                                        f"over the {max_abstract_chars:,} limit; skipped"))
                continue
            match = matcher.find(paper)
            if match is None:
                if paper.id in by_id:  # the title of another paper, one with another DOI or arXiv id
                    paper.id = distinct_id(paper)
                by_id[paper.id] = paper
                matcher.add(paper)
                continue
            seen = by_id[match[0].id]
            fill_in(seen, paper)
            matcher.add(seen)  # it may have gained a DOI or arXiv id
            if text_key(seen.abstract) == text_key(paper.abstract):
                seen.sources.extend(s for s in paper.sources if s not in seen.sources)
                continue
            if match[1] == "title":
                reason = f"duplicate title {paper.title[:60]!r} with a different abstract"
            else:
                reason = f"{paper.title[:60]!r} has the {match[1]} of {seen.title[:60]!r} but a different abstract"
            problems.append(Problem(Location(str(path), _line_of(where)),
                                    f"{reason}; kept the one from {seen.sources[0]}"))
    return list(by_id.values()), problems, len(files)


def text_key(text: str) -> str:
    """Abstracts compared as titles are: a PDF's or a BibTeX file's copy differs in spacing and dashes only."""
    return normalize_title(text)


def fill_in(kept: Paper, other: Paper | StoredPaper) -> None:
    """Give `kept` what `other` knows and it does not: authors, year, URL, DOI, arXiv id, metadata."""
    kept.authors = kept.authors or list(other.authors or [])
    kept.year = kept.year or other.year
    kept.url = kept.url or other.url
    kept.doi = kept.doi or other.doi
    kept.arxiv_id = kept.arxiv_id or other.arxiv_id
    for name, values in (other.metadata or {}).items():
        kept.metadata.setdefault(name, list(values))  # what `kept` says (e.g. today's Zotero tags) stands


def paper_from_row(row: StoredPaper) -> Paper:
    return Paper(id=row.id, title=row.title, abstract=row.abstract, authors=row.authors, year=row.year,
                 url=row.url, sources=row.sources, doi=row.doi, arxiv_id=row.arxiv_id,
                 metadata={name: list(values) for name, values in row.metadata.items()})


def details(paper: Paper | StoredPaper) -> tuple[object, ...]:
    """What a catalog row says beyond its text: a change here rewrites the row, never the vectors."""
    return (paper.sources, paper.authors, paper.year, paper.url, paper.doi, paper.arxiv_id, paper.metadata)


def match_stored(papers: list[Paper], stored: dict[str, StoredPaper]) -> None:
    """Give each incoming paper the id of the stored paper it is (same DOI, arXiv id or title).

    A store written before titles were folded (accents, dashes) or before DOIs were kept has papers
    under ids the incoming copies would not get on their own; matching keeps those ids, so a
    re-ingest updates them instead of adding them twice.
    """
    if not stored:
        return
    matcher = PaperMatcher()
    for row in stored.values():
        matcher.add(row)
    claimed: set[str] = set()
    for paper in papers:
        match = matcher.find(paper)
        if match is not None and match[0].id not in claimed:
            paper.id = match[0].id
        elif paper.id in stored or paper.id in claimed:  # its title is another paper's (another DOI)
            paper.id = distinct_id(paper)
        claimed.add(paper.id)


@dataclass
class Repair:
    """What IngestPipeline.repair found and fixed in Chroma."""

    orphans: list[str] = field(default_factory=list)  # chunk ids dropped: no catalog row has them
    missing: set[str] = field(default_factory=set)  # catalog papers lacking some of their vectors
    unfinished: list[str] = field(default_factory=list)  # a crashed batch's new papers, not in the catalog


def _line_of(source: str) -> int:
    tail = source.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class IngestPipeline:
    """Diff incoming papers against the store and embed only what is new or changed."""

    # TEST HOOK, for tests/test_crash_recovery.py only: with this variable set to a point's name,
    # ingest stops itself (SIGSTOP) there, so a test can SIGKILL it exactly in a window a few
    # milliseconds wide that watching its output cannot hit. Points: "chroma-written:<batch no>"
    # (a batch's chunks are in Chroma, its catalog rows not yet written) and "keyword-index"
    # (every batch is written, the keyword index is not).
    TEST_PAUSE_ENV = "PAPERCHAT_TEST_HOOK_PAUSE"

    def __init__(self, store: Any, embed: EmbedFn, model_name: str, batch_papers: int = 32) -> None:
        self.store = store
        self.embed = embed  # called only when there is something to embed: the model loads lazily
        self.model_name = model_name
        self.batch_papers = batch_papers

    def run(self, paths: Sequence[Path], progress: ProgressFn | None = None) -> IngestSummary:
        started = time.perf_counter()
        settings = self.store.settings
        papers, problems, file_count = read_inputs(paths, settings.max_file_bytes, settings.max_abstract_chars)
        summary = IngestSummary(files=file_count, skipped=problems)
        summary.records = sum(len(p.sources) for p in papers)  # good records read, before dedup
        with self.store.write_lock():
            self._ingest(papers, summary, progress)
            summary.total_papers = len(self.store.catalog)
        summary.seconds = time.perf_counter() - started
        return summary

    def _ingest(self, papers: list[Paper], summary: IngestSummary, progress: ProgressFn | None) -> None:
        catalog = self.store.catalog
        relayout = not self.store.check_layout(self.model_name)
        if relayout:
            self.store.reset_vectors()  # every chunk is re-embedded below; old vectors may not even fit
        known = catalog.hashes()
        missing_vectors = self.repair()
        stored = catalog.papers()
        match_stored(papers, stored)
        to_embed: list[Paper] = []
        detail_updates: list[Paper] = []
        for paper in papers:
            row = stored.get(paper.id)
            if row is None or paper.id not in known:
                to_embed.append(paper)
                summary.added.append(paper.id)
                continue
            fill_in(paper, row)  # a copy without a DOI (or year, ...) does not erase the stored one
            paper.sources = row.sources + [s for s in paper.sources if s not in row.sources]
            if row.content_hash != paper.content_hash or relayout or paper.id in missing_vectors:
                to_embed.append(paper)
                summary.updated.append(paper.id)
            else:
                summary.unchanged += 1
                if details(paper) != details(row):
                    detail_updates.append(paper)
        if relayout or missing_vectors:
            # Chunk size or model changed: every stored paper must be re-embedded, not just these.
            # Papers whose vectors went missing are re-embedded from the catalog, whatever was passed.
            incoming = {p.id for p in papers}
            for pid, row in stored.items():
                if pid not in incoming and (relayout or pid in missing_vectors):
                    to_embed.append(paper_from_row(row))
                    summary.updated.append(pid)
        if detail_updates:
            catalog.update_details(detail_updates)
        self._embed_and_store(to_embed, known, summary, progress)
        if relayout:
            self.store.set_layout(self.model_name)
        self._test_pause("keyword-index")
        self.store.refresh_indexes()  # now, not on the first question (~25 s for names at 100k papers)

    def repair(self) -> set[str]:
        """Make Chroma agree with the catalog: drop orphan chunks, return papers lacking vectors."""
        return self._repair().missing

    def _repair(self) -> Repair:
        catalog = self.store.catalog
        pending = catalog.pending()
        if pending:
            # A batch that crashed between its Chroma write and its catalog upsert: its chunks may
            # be new text under an old row, and same-numbered ids hide that. Drop them all; rows
            # that exist are re-embedded from the catalog below, new papers come with the next ingest.
            self.store.remove_papers_chunks(pending)
        expected = self.store.expected_chunk_ids()
        actual = self.store.chunk_ids()
        orphans = sorted(actual - expected)
        if orphans:
            self.store.remove_chunks(orphans)
        if pending:
            catalog.clear_pending(pending)  # only now: a crash before this repeats the drop, harmlessly
        stored = catalog.papers()
        return Repair(orphans, {cid.rsplit("#", 1)[0] for cid in expected - actual},
                      [pid for pid in pending if pid not in stored])

    def check_store(self, progress: ProgressFn | None = None) -> str | None:
        """Start-up check of an existing store; repair it if catalog and Chroma disagree.

        Cheap when they agree (counts only, see PaperStore.check). Returns the one line to show
        (also sent to store.notify), or None when all is well.
        """
        store = self.store
        where = store.settings.data_dir
        first = store.check()
        if first.ok:
            return None
        try:
            with store.write_lock(wait=False) as held:
                if held:
                    message = self._recover(progress)
                else:  # mid-batch counts disagree while an ingest runs; it repairs what it finds itself
                    message = f"an ingest of {where} is in progress; answering from the papers indexed so far"
        except Exception as exc:  # whatever failed (model, disk, Chroma): keep answering, say how to fix it
            message = (f"the index in {where} disagrees with its catalog ({'; '.join(first.problems())}) and "
                       f"could not be repaired ({type(exc).__name__}: {exc}); run `paperchat ingest "
                       f"--data-dir {where}` to repair it")
        if message:
            store.notify(message)
        return message

    def _recover(self, progress: ProgressFn | None) -> str | None:
        """Repair under the write lock: drop orphans, re-embed from the catalog, rebuild keywords."""
        store = self.store
        where = store.settings.data_dir
        check = store.check()  # again, under the lock: an ingest may have finished meanwhile
        if check.ok:
            return None
        if check.vectors_ok:
            store.refresh_indexes()
            return f"the keyword index of {where} was out of date; rebuilt it"
        if not store.check_layout(self.model_name):
            # Re-embedding a few papers with other chunk settings would mix two layouts in one index.
            return (f"the index in {where} disagrees with its catalog ({'; '.join(check.problems())}) and its chunk "
                    f"settings changed; run `paperchat ingest --data-dir {where}` to re-embed it")
        repair = self._repair()
        stored = store.catalog.papers()
        papers = [paper_from_row(row) for pid in sorted(repair.missing) if (row := stored.get(pid)) is not None]
        summary = IngestSummary()
        # No bar for nothing: a bar closed at 0/0 would hide the one of an ingest that follows.
        self._embed_and_store(papers, store.catalog.hashes(), summary, progress if papers else None)
        store.refresh_indexes()
        done = [f"re-embedded {len(papers)} paper(s) from the catalog"]
        if repair.orphans:
            strays = {cid.rsplit("#", 1)[0] for cid in repair.orphans} - set(stored)
            done.append(f"dropped {len(repair.orphans)} chunk(s) no catalog row has"
                        + (f", of {len(strays)} paper(s) not in the catalog (ingest their files again "
                           "to add them back)" if strays else ""))
        if repair.unfinished:
            done.append(f"discarded the partial vectors of {len(repair.unfinished)} paper(s) an interrupted "
                        "ingest had not finished adding (run `paperchat ingest` again to add them)")
        return (f"the index in {where} disagreed with its catalog ({'; '.join(check.problems())}); "
                f"repaired it: {'; '.join(done)}")

    def _test_pause(self, point: str) -> None:
        """TEST HOOK (see TEST_PAUSE_ENV): never set outside tests; costs one dict lookup."""
        if os.environ.get(self.TEST_PAUSE_ENV) == point:
            print(f"paperchat: test hook: paused at {point}", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGSTOP)

    def _embed_sorted(self, texts: list[str]) -> list[list[float]]:
        """Embed in order of length so each model batch pads little (about 15% faster on CPU)."""
        if not texts:
            return []
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = self.embed([texts[i] for i in order])
        result: list[list[float]] = [[] for _ in texts]
        for position, index in enumerate(order):
            result[index] = vectors[position]
        return result

    def _embed_and_store(self, papers: list[Paper], known: dict[str, tuple[str, list[str]]],
                         summary: IngestSummary, progress: ProgressFn | None) -> None:
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

        from assistant.store import chunk_id
        from ingest.chunking import embedding_text, paper_chunks

        max_words = self.store.settings.chunk_max_words
        planned = [(paper, paper_chunks(paper, max_words)) for paper in papers]
        total = sum(len(chunks) for _, chunks in planned)
        done = 0
        if progress:
            progress(0, total)
        stored = self.store.catalog.papers()
        for batch_no, start in enumerate(range(0, len(planned), self.batch_papers), 1):
            batch = planned[start:start + self.batch_papers]
            texts = [embedding_text(p.title, c.text) for p, chunks in batch for c in chunks]
            vectors = self._embed_sorted(texts)
            nodes: list[TextNode] = []
            stale: list[str] = []
            vector_iter = iter(vectors)
            for paper, chunks in batch:
                if paper.id in known:
                    old = stored.get(paper.id)
                    stale += [chunk_id(paper.id, n) for n in range(old.chunks if old else 0)]
                for chunk in chunks:
                    node = TextNode(
                        id_=chunk_id(paper.id, chunk.number),
                        text=chunk.text,
                        embedding=next(vector_iter),
                        metadata={"paper_id": paper.id, "title": paper.title, "chunk": chunk.number,
                                  "sources": "; ".join(paper.sources)},
                        excluded_embed_metadata_keys=["paper_id", "title", "chunk", "sources"],
                        excluded_llm_metadata_keys=["paper_id", "chunk", "sources"],
                    )
                    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=paper.id)
                    nodes.append(node)
            # Mark, change Chroma, then write the rows (which clears the mark): a crash anywhere in
            # between leaves the batch marked, and the next start or ingest redoes it (see _repair).
            self.store.catalog.mark_pending([paper.id for paper, _ in batch])
            if stale:
                self.store.remove_chunks(stale)
                summary.chunks_removed += len(stale)
            if nodes:
                self.store.vectors.add(nodes)
            self._test_pause(f"chroma-written:{batch_no}")
            self.store.catalog.upsert([(paper, len(chunks)) for paper, chunks in batch])
            done += len(texts)
            summary.chunks_embedded += len(texts)
            if progress:
                progress(done, total)
