"""The paper store: a SQLite catalog of papers, Chroma for chunk vectors, BM25 for keywords.

The catalog is the source of truth. Chroma holds one vector per chunk under the stable id
`<paper id>#<chunk no>`; the BM25 index is derived from the catalog and persisted with the
catalog generation it was built from, so a stale one is rebuilt, never trusted.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from assistant.settings import Settings
from ingest.chunking import split_sentences
from ingest.records import Paper

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
    chunks INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


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
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"paper catalog {path} is unreadable ({exc}); move it away and re-ingest") from exc
        self._cache: dict[str, StoredPaper] | None = None

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
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO papers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(p.id, p.title, p.abstract, json.dumps(p.authors), p.year, p.url, json.dumps(p.sources),
                  p.content_hash, n) for p, n in papers],
            )
            self._bump()

    def update_sources(self, updates: dict[str, list[str]]) -> None:
        with self._db:
            self._db.executemany("UPDATE papers SET sources = ? WHERE id = ?",
                                 [(json.dumps(s), pid) for pid, s in updates.items()])
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
        if self._cache is None:
            rows = self._db.execute(
                "SELECT id, title, abstract, authors, year, url, sources, content_hash, chunks FROM papers ORDER BY id"
            )
            self._cache = {
                r[0]: StoredPaper(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], json.loads(r[6]), r[7], r[8])
                for r in rows
            }
        return self._cache

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM papers").fetchone()[0]

    def close(self) -> None:
        self._db.close()


def open_chroma_collection(settings: Settings) -> Any:
    """The Chroma collection, embedded (files under the data dir) or on a `chroma run` server."""
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
        return client.get_or_create_collection(
            settings.collection, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
    except Exception as exc:  # chromadb raises many types; all mean "cannot open the store"
        where = (f"Chroma server at {settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host
                 else f"Chroma files under {settings.chroma_dir}")
        raise StoreError(f"cannot open {where}: {exc}") from exc


class PaperStore:
    """Catalog + Chroma vectors + BM25, opened once and kept consistent by the ingest pipeline."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog = Catalog(settings.catalog_path)
        self.collection = open_chroma_collection(settings)
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self.vectors = ChromaVectorStore(chroma_collection=self.collection)
        self._keyword_index: Any = None
        self._keyword_generation = -1

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

    # ---- keyword index ----------------------------------------------------------------------
    def keyword_index(self) -> Any:
        """BM25 over chunks, loaded from disk when it matches the catalog, else rebuilt and saved."""
        generation = self.catalog.generation
        if self._keyword_index is not None and self._keyword_generation == generation:
            return self._keyword_index
        from assistant.keyword import KeywordIndex

        index = KeywordIndex.load(self.settings.keyword_dir, generation)
        if index is None:
            index = KeywordIndex.build(self.catalog.papers().values(), self.settings.chunk_max_words)
            index.save(self.settings.keyword_dir, generation)
        self._keyword_index, self._keyword_generation = index, generation
        return index

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """One writer per data dir: a second ingest waits its turn instead of interleaving writes."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.settings.data_dir / "ingest.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
