"""The normalized records every reader produces and every later stage consumes."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

# Accents that NFKD splits off Latin, Greek and Cyrillic letters (é -> e + U+0301). Marks outside this
# block (Japanese dakuten, Indic vowel signs) change the letter itself and are kept.
COMBINING_ACCENTS = re.compile(r"[\u0300-\u036f]+")
NOT_LETTER_OR_DIGIT = re.compile(r"[\W_]+")


def normalize_title(title: str) -> str:
    """Title key used for dedup: case, accents, punctuation and spacing folded away.

    Applied to LaTeX-decoded text, so `{\\"u}ber --- a study` from BibTeX and `Über — A Study` from
    JSON Lines get one key. Every title of the bundled corpus keeps the key (and so the paper id) it
    had before accents and non-ASCII punctuation were folded too (tests/test_readers.py checks it).
    """
    text = COMBINING_ACCENTS.sub("", unicodedata.normalize("NFKD", title)).casefold()
    return NOT_LETTER_OR_DIGIT.sub("", text)


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
    doi: str | None = None  # lower case, without a resolver prefix: "10.1145/3394486.3406703"
    arxiv_id: str | None = None  # without version: "1910.02054", "hep-th/9901001"
    # What a library knows beyond the citation, e.g. Zotero's {"collections": [...], "tags": [...]}.
    metadata: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.title = clean_text(self.title)
        self.abstract = clean_text(self.abstract)
        self.authors = [name for name in (clean_text(author) for author in self.authors) if name]
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
