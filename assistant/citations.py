"""Citations as data: numbering papers as they are cited, and verifying every `[n]` in a text.

A claim is the text between one boundary (start of line, table cell, previous citation) and
its `[n]` marker. It is supported when, stripped of markdown labels and ellipses, it appears
word for word in the cited paper's abstract.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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

    def quote(self, paper: StoredPaper, sentence: str) -> int:
        """Record `sentence` of `paper`'s abstract as supporting a claim; return its `[n]`."""
        n = self.number(paper)
        source = self._sources[n - 1]
        if sentence and sentence not in source.sentences:
            source.sentences.append(sentence)
        return n

    def cite(self, paper: StoredPaper, sentence: str, max_words: int | None = None) -> str:
        """`sentence [n]`, optionally shortened to `max_words` with an ellipsis."""
        n = self.quote(paper, sentence)
        return f"{quoted_text(sentence, max_words)} [{n}]"

    @property
    def sources(self) -> list[Source]:
        return list(self._sources)


def quoted_text(sentence: str, max_words: int | None = None) -> str:
    """How `CitationBook.cite` writes a quote, before its `[n]`: shortened, the abstract's own markers escaped."""
    return escape_markers(shorten(sentence, max_words) if max_words else sentence)


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


# ---- checking what an LLM wrote ------------------------------------------------------------------
NUMBER_TOKEN = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?:\.\d+)?")
# A model saying the sources do not answer ("do not say", "does not report this", "no information").
NO_ANSWER = re.compile(
    r"\b((does|do|did)(n't| not) (contain|say|state|report|mention|include|give|provide|specify)|"
    r"not (in|covered by|stated in|reported in|mentioned in) the (sources?|collection|abstracts?)|"
    r"cannot (answer|find)|no (information|source|mention))\b", re.I)
REFERENCE_HEADING = re.compile(r"^\s*(#+\s*)?\**(sources|references|citations)\**\s*:?\s*$", re.I)


@dataclass
class CheckedAnswer:
    """An LLM answer after verification: what survived, renumbered, and how much was kept."""

    text: str
    sources: list[Source]
    sentences: int = 0  # sentences that made a claim
    verified: int = 0  # claims kept with a citation that supports them
    reattached: int = 0  # of those, claims moved to the source that does support them
    removed: int = 0
    says_no_answer: bool = False
    notes: list[str] = field(default_factory=list)


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in NUMBER_TOKEN.findall(text)}


def supports(claim: str, paper: StoredPaper, min_support: float, sanitized_abstract: str) -> bool:
    """Enough of the claim's content words are in the paper, and all its numbers and names are."""
    from assistant.names import is_distinctive, name_words
    from assistant.text import content_stems, name_key

    words = set(content_stems(claim))
    if not words:
        return False
    text = f"{paper.title} {sanitized_abstract}"
    have = set(content_stems(text))
    if len(words & have) / len(words) < min_support:
        return False
    if not _numbers(claim) <= _numbers(text):
        return False
    if not numbers_bound(claim, sanitized_abstract):
        return False
    text_keys = {name_key(w) for w in text.split()}
    return all(name_key(w) in text_keys for w in name_words(claim) if is_distinctive(w))


NUMBER_WINDOW = 4  # words either side of a number that say what it measures


def _measure_words(words: list[str], index: int) -> list[str]:
    """The content word nearest before and nearest after position `index`: what the number there measures."""
    from assistant.text import content_stems

    before = range(index - 1, max(-1, index - 1 - NUMBER_WINDOW), -1)
    after = range(index + 1, min(len(words), index + 1 + NUMBER_WINDOW))
    found = []
    for side in (before, after):
        for position in side:
            stems = content_stems(words[position])
            if stems and not _numbers(words[position]):
                found.append(stems[0])
                break
    return found


def numbers_bound(claim: str, abstract: str) -> bool:
    """Each number of the claim stands in the abstract next to what the claim says it measures.

    The content word nearest the number in the claim (before it, or after it) must be among the
    words around the same number in some abstract sentence: "a tokens-to-parameters ratio of 7B"
    is not supported by "we train models of 7B parameters", where 7B is a model size.
    """
    from assistant.text import content_stems

    abstract_words = abstract.split()
    places: dict[str, list[set[str]]] = {}
    for index, word in enumerate(abstract_words):
        for number in _numbers(word):
            around = abstract_words[max(0, index - NUMBER_WINDOW): index + 1 + NUMBER_WINDOW]
            places.setdefault(number, []).append(set(content_stems(" ".join(around))))
    words = claim.split()
    for index, word in enumerate(words):
        for number in _numbers(word):
            measure = _measure_words(words, index)
            if measure and not any(set(measure) & around for around in places.get(number, [])):
                return False
    return True


def _supporting_sentence(claim: str, paper: StoredPaper) -> str:
    from assistant.text import content_stems

    words = set(content_stems(claim))
    return max(paper.sentences, key=lambda s: len(words & set(content_stems(s))), default="")


def check_generated(text: str, provided: list[StoredPaper], min_support: float,
                    sanitize: Callable[[str], str] = lambda t: t) -> CheckedAnswer:
    """Keep each sentence only with a citation that supports it; renumber densely by first use.

    A citation to a number outside the provided list, a number or name the cited abstract lacks,
    or too little word overlap fails. A failing sentence moves to the provided source that does
    support it, else it is removed. The model's own reference list is dropped; ours replaces it.
    """
    from ingest.chunking import split_sentences

    abstracts = [sanitize(p.abstract) for p in provided]
    book = CitationBook()
    result = CheckedAnswer("", [])
    out_lines: list[str] = []
    for line in text.splitlines():
        if REFERENCE_HEADING.match(line):
            break  # the model's own source list: ours is built from verified citations
        prefix = re.match(r"^\s*(?:[-*]|\d+\.)\s+|^\s*#+\s+", line)
        lead = prefix.group(0) if prefix else ""
        kept: list[str] = []
        for sentence in split_sentences(line[len(lead):]):
            cited = [int(n) for n in CITATION.findall(sentence)]
            claim = _squash(CITATION.sub("", sentence)).replace(" .", ".")
            if not claim:
                continue
            # "The sources do not say [1]." is a no-answer even when cited; with a figure it is a claim.
            if NO_ANSWER.search(claim) and not (cited and NUMBER_TOKEN.search(claim)):
                result.says_no_answer = True
                kept.append(claim)
                continue
            result.sentences += 1
            valid = [n for n in cited if 1 <= n <= len(provided)]
            if len(valid) < len(cited):
                result.notes.append(f"dropped citation(s) {sorted(set(cited) - set(valid))} not in the sources")
            good = [n for n in dict.fromkeys(valid) if supports(claim, provided[n - 1], min_support, abstracts[n - 1])]
            if not good:
                best = [n for n in range(1, len(provided) + 1)
                        if supports(claim, provided[n - 1], min_support, abstracts[n - 1])]
                if best:
                    good = best[:1]
                    result.reattached += 1
            if not good:
                result.removed += 1
                result.notes.append(f"removed an unsupported sentence: {claim[:80]!r}")
                continue
            result.verified += 1
            markers = ""
            for n in good:
                paper = provided[n - 1]
                markers += f" [{book.quote(paper, _supporting_sentence(claim, paper))}]"
            kept.append(claim.rstrip() + markers)
        if kept:
            out_lines.append(lead + " ".join(kept))
        elif not line.strip():
            out_lines.append("")
    result.text = re.sub(r"\n{3,}", "\n\n", "\n".join(out_lines)).strip()
    result.sources = book.sources
    return result
