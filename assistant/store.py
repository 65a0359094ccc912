"""The paper store: a SQLite catalog of papers, Chroma for chunk vectors, BM25 for keywords.

The catalog is the source of truth. Chroma holds one vector per chunk under the stable id
`<paper id>#<chunk no>`; the BM25 index is derived from the catalog and persisted with the
catalog generation it was built from, so a stale one is rebuilt, never trusted.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.settings import Settings
from ingest.chunking import split_sentences
from ingest.records import Paper

if TYPE_CHECKING:
    from assistant.names import NameIndex

SCHEMA = """
CREATE TABLE IF NOT EXISTS papers (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    abstract TEXT NOT NULL,
    authors TEXT NOT NULL DEFAULT '[]',
    year INTEGER,
    url TEXT,
    sources TEXT NOT NULL DEFAULT '[]',
    content_hash TEXT NOT NULL,
    chunks INTEGER NOT NULL,
    doi TEXT,
    arxiv_id TEXT,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending (id TEXT PRIMARY KEY);
"""
# Columns added after the first release: a catalog written before them gets them (empty) on open.
ADDED_COLUMNS = {"doi": "TEXT", "arxiv_id": "TEXT", "metadata": "TEXT NOT NULL DEFAULT '{}'"}
PAPER_COLUMNS = "id, title, abstract, authors, year, url, sources, content_hash, chunks, doi, arxiv_id, metadata"


class StoreError(RuntimeError):
    """The store cannot be opened or used; the message says what to do."""


def chunk_id(paper_id: str, number: int) -> str:
    return f"{paper_id}#{number}"


@dataclass
class StoredPaper:
    """A catalog row, with its abstract's sentences split once and cached."""

    id: str
    title: str
    abstract: str
    authors: list[str]
    year: int | None
    url: str | None
    sources: list[str]
    content_hash: str
    chunks: int
    doi: str | None = None
    arxiv_id: str | None = None
    metadata: dict[str, list[str]] = field(default_factory=dict)

    @cached_property
    def sentences(self) -> list[str]:
        return split_sentences(self.abstract)


class Catalog:
    """Papers by id in SQLite; every write bumps a generation counter that derived indexes check."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
            self._db.executescript(SCHEMA)
            self._add_missing_columns()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"paper catalog {path} is unreadable ({exc}); move it away and re-ingest") from exc
        self._cache: dict[str, StoredPaper] | None = None
        self._cache_generation = -1
        self._read_lock = threading.Lock()  # UI threads share this connection and its cache

    def _add_missing_columns(self) -> None:
        present = {row[1] for row in self._db.execute("PRAGMA table_info(papers)")}
        with self._db:
            for name, kind in ADDED_COLUMNS.items():
                if name not in present:
                    self._db.execute(f"ALTER TABLE papers ADD COLUMN {name} {kind}")

    def get_meta(self, key: str, default: str = "") -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        return int(self.get_meta("generation", "0"))

    def hashes(self) -> dict[str, tuple[str, list[str]]]:
        """id -> (content hash, sources) for every paper: what incremental ingest compares against."""
        rows = self._db.execute("SELECT id, content_hash, sources FROM papers")
        return {r[0]: (r[1], json.loads(r[2])) for r in rows}

    def upsert(self, papers: list[tuple[Paper, int]]) -> None:
        """Write the rows and, in the same transaction, clear their pending marks (see mark_pending)."""
        with self._db:
            self._db.executemany(
                f"INSERT OR REPLACE INTO papers ({PAPER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(p.id, p.title, p.abstract, json.dumps(p.authors), p.year, p.url, json.dumps(p.sources),
                  p.content_hash, n, p.doi, p.arxiv_id, json.dumps(p.metadata)) for p, n in papers],
            )
            self._db.executemany("DELETE FROM pending WHERE id = ?", [(p.id,) for p, _ in papers])
            self._bump()

    def mark_pending(self, ids: list[str]) -> None:
        """Record, before their chunks change in Chroma, which papers are being written.

        A crash between the Chroma write and the catalog upsert then leaves a mark saying whose
        chunks cannot be trusted (new text under an old row, or half of a batch); ids alone
        cannot tell, since an updated paper reuses the ids `<id>#0..`.
        """
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO pending VALUES (?)", [(i,) for i in ids])

    def pending(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT id FROM pending ORDER BY id")]

    def clear_pending(self, ids: list[str]) -> None:
        with self._db:
            self._db.executemany("DELETE FROM pending WHERE id = ?", [(i,) for i in ids])

    def expected_chunks(self) -> int:
        """How many chunks Chroma should hold: one indexed SUM, cheap even at 100k papers."""
        return int(self._db.execute("SELECT COALESCE(SUM(chunks), 0) FROM papers").fetchone()[0])

    def update_sources(self, updates: dict[str, list[str]]) -> None:
        with self._db:
            self._db.executemany("UPDATE papers SET sources = ? WHERE id = ?",
                                 [(json.dumps(s), pid) for pid, s in updates.items()])
            self._bump()

    def update_details(self, papers: list[Paper]) -> None:
        """Sources, authors, year, links, identifiers and metadata of papers whose text (and vectors) stay."""
        with self._db:
            self._db.executemany(
                "UPDATE papers SET sources = ?, authors = ?, year = ?, url = ?, doi = ?, arxiv_id = ?, metadata = ? "
                "WHERE id = ?",
                [(json.dumps(p.sources), json.dumps(p.authors), p.year, p.url, p.doi, p.arxiv_id,
                  json.dumps(p.metadata), p.id) for p in papers])
            self._bump()

    def delete(self, ids: list[str]) -> None:
        with self._db:
            self._db.executemany("DELETE FROM papers WHERE id = ?", [(i,) for i in ids])
            self._bump()

    def _bump(self) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO meta VALUES ('generation', "
            "CAST(COALESCE((SELECT value FROM meta WHERE key = 'generation'), '0') AS INTEGER) + 1)"
        )
        self._cache = None

    def papers(self) -> dict[str, StoredPaper]:
        """All papers by id, read once per generation and kept in memory."""
        return self.snapshot()[1]

    def snapshot(self) -> tuple[int, dict[str, StoredPaper]]:
        """(generation, papers) read in one transaction, so the two always belong together.

        The cache is keyed by the generation, not only cleared by this process's own writes: an
        ingest in another process (CLI beside the UI) must not leave this one on stale rows, nor
        let it stamp a keyword index built from them with the newer generation.
        """
        with self._read_lock:
            generation = self.generation
            if self._cache is not None and self._cache_generation == generation:
                return generation, self._cache
            while True:
                # Every write bumps the generation in its own transaction, so an unchanged generation
                # around the read means the rows are exactly that generation's (no explicit BEGIN:
                # it would clash with a write in progress on this shared connection).
                rows = self._db.execute(f"SELECT {PAPER_COLUMNS} FROM papers ORDER BY id").fetchall()
                after = self.generation
                if after == generation:
                    break
                generation = after
            self._cache = {
                r[0]: StoredPaper(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], json.loads(r[6]), r[7], r[8],
                                  r[9], r[10], json.loads(r[11] or "{}"))
                for r in rows
            }
            self._cache_generation = generation
            return generation, self._cache

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM papers").fetchone()[0]

    def close(self) -> None:
        self._db.close()


def open_chroma_collection(settings: Settings, fresh: bool = False) -> Any:
    """The Chroma collection, embedded (files under the data dir) or on a `chroma run` server;
    `fresh` drops the old one first."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if settings.chroma_host:
            client = chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
            client.heartbeat()
        else:
            settings.chroma_dir.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
        if fresh:
            # Nothing to delete is fine; chromadb's error type for that varies by version.
            with contextlib.suppress(Exception):
                client.delete_collection(settings.collection)
        return client.get_or_create_collection(
            settings.collection, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
    except Exception as exc:  # chromadb raises many types; all mean "cannot open the store"
        raise StoreError(f"cannot open {chroma_where(settings)}: {exc}; {chroma_advice(settings)}") from exc


def chroma_where(settings: Settings) -> str:
    return (f"Chroma server at {settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host
            else f"Chroma files under {settings.chroma_dir}")


def chroma_advice(settings: Settings) -> str:
    """What the user can do about a Chroma failure (shown after the error, never a traceback)."""
    if settings.chroma_host:
        return (f"start the server (`chroma run --host {settings.chroma_host} --port {settings.chroma_port} "
                "--path <its data path>`) and ask again, or unset chroma_host to use embedded files; "
                "paperchat reconnects by itself")
    return (f"check that {settings.chroma_dir} is readable and its disk not full; if its files are damaged, "
            "move them away and re-ingest")


def chroma_failure(settings: Settings, exc: BaseException) -> StoreError | None:
    """`exc` as a StoreError naming the Chroma server (or files) and what to do; None if Chroma did not raise it.

    An HttpClient whose server went away raises httpx transport errors, not Chroma's own types.
    """
    if isinstance(exc, StoreError):
        return exc
    import httpx
    from chromadb.errors import ChromaError

    if not isinstance(exc, httpx.HTTPError | ChromaError):
        return None
    problem = "is not answering" if isinstance(exc, httpx.TransportError) else "failed"
    return StoreError(f"the {chroma_where(settings)} {problem} ({type(exc).__name__}: {exc}); "
                      f"{chroma_advice(settings)}")


def _stderr_notice(message: str) -> None:
    print(f"paperchat: {message}", file=sys.stderr, flush=True)


@dataclass
class StoreCheck:
    """What the cheap start-up comparison of catalog, Chroma and keyword index found."""

    expected_chunks: int
    stored_chunks: int
    pending: int
    generation: int
    keyword_generation: int

    @property
    def vectors_ok(self) -> bool:
        return self.pending == 0 and self.expected_chunks == self.stored_chunks

    @property
    def keyword_ok(self) -> bool:
        # Generation 0: the catalog was never written, so there is no keyword index to be stale (a new data dir).
        return self.keyword_generation == self.generation or self.generation == 0

    @property
    def ok(self) -> bool:
        return self.vectors_ok and self.keyword_ok

    def problems(self) -> list[str]:
        found = []
        if self.expected_chunks != self.stored_chunks:
            found.append(f"Chroma holds {self.stored_chunks} chunks, the catalog expects {self.expected_chunks}")
        if self.pending:
            found.append(f"{self.pending} paper(s) were being written when an ingest stopped")
        if not self.keyword_ok:
            found.append("the keyword index is out of date")
        return found


class PaperStore:
    """Catalog + Chroma vectors + BM25, opened once and kept consistent by the ingest pipeline."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Where one-line notices (waiting for a lock, a repair) go; the UI may point it elsewhere.
        self.notify: Callable[[str], None] = _stderr_notice
        self.catalog = Catalog(settings.catalog_path)
        self.collection = open_chroma_collection(settings)
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self.vectors = ChromaVectorStore(chroma_collection=self.collection)
        self._keyword_index: Any = None
        self._keyword_generation = -1
        self._name_index: NameIndex | None = None
        self._name_generation = -1

    # ---- layout ---------------------------------------------------------------------------
    def _layout(self, model: str) -> str:
        return json.dumps({"chunk_max_words": self.settings.chunk_max_words, "model": Path(model).name})

    def check_layout(self, model: str) -> bool:
        """True when chunks were made with these settings; False means a full re-embed is due."""
        layout = self._layout(model)
        stored = self.catalog.get_meta("layout")
        if stored == layout:
            return True
        if not stored:
            self.catalog.set_meta("layout", layout)
            return True
        return False

    def set_layout(self, model: str) -> None:
        self.catalog.set_meta("layout", self._layout(model))

    def reset_vectors(self) -> None:
        """Start the vector collection afresh: a new model may embed into another dimension, which
        Chroma refuses to mix into an existing collection. The catalog keeps every paper to re-embed."""
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self.collection = open_chroma_collection(self.settings, fresh=True)
        self.vectors = ChromaVectorStore(chroma_collection=self.collection)

    # ---- vectors ----------------------------------------------------------------------------
    def chunk_ids(self) -> set[str]:
        ids: set[str] = set()
        offset, page = 0, 5000
        while True:
            batch = self.collection.get(include=[], limit=page, offset=offset)["ids"]
            ids.update(batch)
            if len(batch) < page:
                return ids
            offset += page

    def remove_chunks(self, ids: list[str]) -> None:
        for start in range(0, len(ids), 5000):
            self.vectors.delete_nodes(node_ids=ids[start:start + 5000])

    def expected_chunk_ids(self) -> set[str]:
        return {chunk_id(p.id, n) for p in self.catalog.papers().values() for n in range(p.chunks)}

    def remove_papers_chunks(self, paper_ids: list[str]) -> None:
        """Every chunk Chroma holds for these papers, whatever their numbers (by metadata, not by id)."""
        for start in range(0, len(paper_ids), 500):
            self.collection.delete(where={"paper_id": {"$in": paper_ids[start:start + 500]}})

    def check(self) -> StoreCheck:
        """Compare catalog and Chroma by counts only: no id scan, so it stays cheap at 100k papers.

        Counts can agree while ids differ (one chunk lost, one orphan), which only a full
        comparison (`paperchat ingest`) finds; every crash of an ingest is caught here though:
        its unfinished batch is in the pending table.
        """
        return StoreCheck(self.catalog.expected_chunks(), int(self.collection.count()),
                          len(self.catalog.pending()), self.catalog.generation, self._keyword_stamp())

    def _keyword_stamp(self) -> int:
        from assistant.keyword import STAMP_FILE

        try:
            return int(json.loads((self.settings.keyword_dir / STAMP_FILE).read_text())["generation"])
        except (OSError, ValueError, KeyError, TypeError):
            return -1

    # ---- keyword index ----------------------------------------------------------------------
    def keyword_index(self) -> Any:
        """BM25 over chunks, loaded from disk when it matches the catalog, else rebuilt and saved."""
        generation = self.catalog.generation
        if self._keyword_index is not None and self._keyword_generation == generation:
            return self._keyword_index
        from assistant.keyword import KeywordIndex

        # Readers and an ingest in other processes save this index too, through one temporary
        # directory: the file lock keeps two saves (or a save and a load) from interleaving.
        with self._file_lock("keyword.lock", fcntl.LOCK_SH):
            index = KeywordIndex.load(self.settings.keyword_dir, generation)
        if index is None:
            with self._file_lock("keyword.lock", fcntl.LOCK_EX):
                generation, papers = self.catalog.snapshot()
                index = KeywordIndex.load(self.settings.keyword_dir, generation)  # another process built it
                if index is None:
                    index = KeywordIndex.build(papers.values(), self.settings.chunk_max_words)
                    index.save(self.settings.keyword_dir, generation)
        self._keyword_index, self._keyword_generation = index, generation
        return index

    # ---- name index -------------------------------------------------------------------------
    def name_index(self) -> NameIndex:
        """Which paper a question names: loaded from disk when it matches the catalog, else built and saved.

        Building it reads every abstract (~20 s at 100k papers); loading the saved one is what a start costs.
        """
        from assistant.names import NameIndex

        generation = self.catalog.generation
        if self._name_index is not None and self._name_generation == generation:
            return self._name_index
        index = NameIndex.load(self.settings.names_path, generation)
        if index is None:
            generation, papers = self.catalog.snapshot()
            index = NameIndex(papers.values())
            with contextlib.suppress(OSError):  # a read-only data dir: answer from memory, save nothing
                index.save(self.settings.names_path, generation)
        self._name_index, self._name_generation = index, generation
        return index

    def refresh_indexes(self) -> None:
        """After a write (ingest, repair): bring the saved keyword and name indexes up to the catalog now, so
        the next start loads them instead of building them. A current name index is not even read."""
        from assistant.names import NameIndex

        self.keyword_index()
        if NameIndex.saved_generation(self.settings.names_path) != self.catalog.generation:
            self.name_index()

    @contextmanager
    def _file_lock(self, name: str, mode: int) -> Iterator[None]:
        try:
            handle = open(self.settings.data_dir / name, "a")  # noqa: SIM115 - closed below
        except OSError:
            handle = None  # a read-only data dir: nobody can be writing it, so no lock is needed
        if handle is None:
            yield
            return
        with handle:
            fcntl.flock(handle, mode)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def write_lock(self, wait: bool = True) -> Iterator[bool]:
        """One writer per data dir: a second ingest waits its turn instead of interleaving writes.

        Yields True once the lock is held. With wait=False it yields False at once when another
        process holds it (a start-up repair must not stall a reader behind a long ingest).
        """
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.settings.data_dir / "ingest.lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not wait:
                    yield False
                    return
                self.notify(f"waiting for another ingest of {self.settings.data_dir} to finish")
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
