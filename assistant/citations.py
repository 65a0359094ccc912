"""Citations as data: numbering papers as they are cited, and verifying every `[n]` in a text.

A claim is the text between one boundary (start of line, table cell, previous citation) and
its `[n]` marker. It is supported when, stripped of markdown labels and ellipses, it appears
word for word in the cited paper's abstract.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.answer import Source
from assistant.store import StoredPaper

CITATION = re.compile(r"(?<!\\)\[(\d+)\]")  # `\[12\]` in a quoted abstract is text, not a citation
CELL_SEPARATOR = re.compile(r"(?<!\\)\|")  # table cells escape a literal pipe as `\|`
ELLIPSIS = "…"


class CitationBook:
    """Hands out `[n]` in order of first use and remembers what each citation quotes."""

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}
        self._sources: list[Source] = []

    def number(self, paper: StoredPaper) -> int:
        if paper.id not in self._numbers:
            self._numbers[paper.id] = len(self._sources) + 1
            self._sources.append(Source(len(self._sources) + 1, paper.id, paper.title, list(paper.sources),
                                        abstract=paper.abstract))
        return self._numbers[paper.id]

    def cite(self, paper: StoredPaper, sentence: str, max_words: int | None = None) -> str:
        """`sentence [n]`, optionally shortened to `max_words` with an ellipsis."""
        n = self.number(paper)
        source = self._sources[n - 1]
        if sentence not in source.sentences:
            source.sentences.append(sentence)
        return f"{escape_markers(shorten(sentence, max_words) if max_words else sentence)} [{n}]"

    @property
    def sources(self) -> list[Source]:
        return list(self._sources)


def escape_markers(text: str) -> str:
    """Abstracts cite their own references ("LoRA [23]"); escaped, they stay text, not citations."""
    return re.sub(r"\[(\d+)\]", r"\\[\1\\]", text)


def _unescape(text: str) -> str:
    return re.sub(r"\\([\[\]|])", r"\1", text)


def shorten(sentence: str, max_words: int) -> str:
    words = sentence.split()
    if len(words) <= max_words:
        return sentence
    return " ".join(words[:max_words]).rstrip(",;:") + ELLIPSIS


@dataclass
class Verification:
    claims: int = 0
    supported: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _claim_text(segment: str) -> str:
    segment = _unescape(segment)
    whole_bold = re.fullmatch(r"\s*(?:[-*]|\d+\.)?\s*\*\*(.+)\*\*[\s:—–]*", segment)
    if whole_bold:
        return _squash(whole_bold.group(1))  # a bold heading: it must name the paper (see _names_source)
    segment = re.sub(r"\*\*[^*]*\*\*", " ", segment)  # bold labels such as **Method.**
    segment = re.sub(r"^\s*(?:[-*]|\d+\.)\s+", " ", segment)  # list bullets
    return _squash(segment.strip(" |*_\t\n").lstrip("—–:; "))


def claims(text: str) -> list[tuple[str, int]]:
    """(claim text, cited number) for every `[n]` in a rendered answer."""
    found: list[tuple[str, int]] = []
    for line in text.splitlines():
        for cell in CELL_SEPARATOR.split(line):
            start = 0
            for match in CITATION.finditer(cell):
                segment = cell[start:match.start()]
                start = match.end()
                found.append((_claim_text(segment), int(match.group(1))))
    return found


def _names_source(claim: str, title: str) -> bool:
    """An empty claim, or the paper's title (or its short name before the colon) as a heading."""
    label = claim.strip("#*_ ")
    return not label or label == title or (":" in title and label == title.split(":", 1)[0].strip())


def _quoted(piece: str, abstract: str) -> bool:
    """`piece` occurs in `abstract` without cutting a word or number ("nearly 10" is not in "nearly 100%")."""
    start = abstract.find(piece)
    while start >= 0:
        end = start + len(piece)
        cuts_before = piece[0].isalnum() and start > 0 and abstract[start - 1].isalnum()
        cuts_after = piece[-1].isalnum() and end < len(abstract) and abstract[end].isalnum()
        if not cuts_before and not cuts_after:
            return True
        start = abstract.find(piece, start + 1)
    return False


def verify(text: str, sources: list[Source]) -> Verification:
    """Check that every `[n]` names a listed source and its claim is quoted from that abstract."""
    by_number = {s.number: s for s in sources}
    result = Verification()
    for claim, number in claims(text):
        result.claims += 1
        source = by_number.get(number)
        if source is None:
            result.problems.append(f"[{number}] is not in the source list")
            continue
        if _names_source(claim, source.title):
            result.supported += 1  # a marker after a title or heading names the paper, quotes nothing
            continue
        abstract = _squash(source.abstract)
        pieces = [p.strip() for p in claim.split(ELLIPSIS) if p.strip()]
        if pieces and all(_quoted(p, abstract) for p in pieces):
            result.supported += 1
        else:
            result.problems.append(f"[{number}] claim not found in {source.title[:50]!r}: {claim[:80]!r}")
    return result
