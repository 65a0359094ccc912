"""The normalized records every reader produces and every later stage consumes."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field


def normalize_title(title: str) -> str:
    """Title key used for dedup: case, accents-as-written, punctuation and spacing folded away."""
    text = unicodedata.normalize("NFKC", title).lower()
    return re.sub(r"[^0-9a-z\u00c0-\uffff]+", "", text)


def clean_text(text: str) -> str:
    """Collapse whitespace and drop control characters that scraped pages carry."""
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFC", text))
    if not text.isprintable():  # rare: the per-character pass costs seconds on a multi-MB abstract
        # Every other whitespace character is non-printable too, so this folds exactly the same runs.
        text = re.sub(r"\s+", " ", "".join(ch if ch.isprintable() else " " for ch in text))
    return text.strip()


def paper_id_for(title: str, given_id: str | None = None) -> str:
    """A stable id: the given one when a source supplies it, else a hash of the normalized title."""
    if given_id:
        return re.sub(r"[^0-9A-Za-z._:-]+", "_", given_id.strip())[:64]
    return "p" + hashlib.sha1(normalize_title(title).encode("utf-8")).hexdigest()[:15]


@dataclass(frozen=True)
class Location:
    """Where a record (or a problem) came from: a file and a 1-based line."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path  # line 0: the file as a whole


@dataclass
class Paper:
    """One paper as the rest of paperchat sees it, whatever format it came from."""

    title: str
    abstract: str
    id: str = ""
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    url: str | None = None
    sources: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.title = clean_text(self.title)
        self.abstract = clean_text(self.abstract)
        if not self.id:
            self.id = paper_id_for(self.title)

    @property
    def content_hash(self) -> str:
        """Changes exactly when what gets embedded changes (title or abstract)."""
        return hashlib.sha1(f"{self.title}\n{self.abstract}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Problem:
    """A record a reader skipped, and why, so the ingest summary can name file and line."""

    where: Location
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class ReadResult:
    """Everything one file yielded: good records and the problems met on the way."""

    papers: list[Paper] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
