"""PDF papers, read with pypdf: the title and the abstract, not the full text (paperchat answers from abstracts).

The title is the document's own (its metadata) when that is a real title, else the first page's
largest upright text. The abstract is the text after an "Abstract" heading (`Abstract`, `ABSTRACT`,
`Abstract—We ...`, `Abstract. We ...`) up to the first heading after it ("1 Introduction",
"I. INTRODUCTION", "Keywords", ...). Authors come from the metadata; the arXiv id and year from
the identifier arXiv stamps on the first page's margin; a DOI from a `doi:` or doi.org link there.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path
from typing import Any

from pypdf import PdfReader

from ingest.identity import ARXIV_ID, normalize_doi
from ingest.readers.fields import split_author_string, year_of
from ingest.records import Location, Paper, Problem, ReadResult, clean_text

# pypdf logs each repairable flaw of a file (and most real PDFs have some); what matters is
# reported by read_pdf itself, naming the file.
logging.getLogger("pypdf").setLevel(logging.CRITICAL)

PAGES_SEARCHED = 2  # the abstract is on the first page, at worst running onto the second
MAX_ABSTRACT_CHARS = 4000  # when no heading ends it: cut at a sentence end before this
ABSTRACT_HEADING = re.compile(r"^[ \t]*(?:abstract|a b s t r a c t)\b[ \t]*[:.—–-]?[ \t]*",
                              re.IGNORECASE | re.MULTILINE)
NEXT_HEADING = re.compile(
    r"^[ \t]*(?:(?:1|I)\.?[ \t]+[A-Z][A-Za-z][A-Za-z -]{0,40}[ \t]*$"  # "1 Introduction", "I. INTRODUCTION"
    r"|(?:Introduction|INTRODUCTION|Keywords|KEYWORDS|Key ?words|Index Terms|CCS Concepts|ACM Reference Format)\b)",
    re.MULTILINE)
ARXIV_STAMP = re.compile(rf"arXiv:{ARXIV_ID}\s*\[[^\]]+\]\s*(\d{{1,2}}\s+\w{{3}}\s+\d{{4}})", re.IGNORECASE)
DOI_IN_TEXT = re.compile(r"(?:doi\.org/|\bdoi:?\s*)(10\.\d{4,9}/[^\s\"<>]+)", re.IGNORECASE)
NOT_A_TITLE = re.compile(r"(^untitled$|^microsoft word|\.(pdf|dvi|tex|docx?|ps)$|^\s*$)", re.IGNORECASE)


def read_pdf(path: Path, data: bytes) -> ReadResult:
    where = Location(str(path), 0)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            return ReadResult(problems=[Problem(where, "PDF is encrypted with a password; skipped")])
        pages = [reader.pages[number] for number in range(min(PAGES_SEARCHED, len(reader.pages)))]
        if not pages:
            return ReadResult(problems=[Problem(where, "PDF has no pages; skipped")])
        runs: list[tuple[str, float]] = []
        first_text = pages[0].extract_text(visitor_text=_collector(runs)) or ""
        texts = [first_text] + [page.extract_text() or "" for page in pages[1:]]
        metadata = reader.metadata
        meta_title = str(metadata.title or "") if metadata else ""
        meta_author = str(metadata.author or "") if metadata else ""
    except Exception as exc:  # pypdf raises many kinds on damaged files; none may end the ingest
        return ReadResult(problems=[Problem(where, f"not a readable PDF ({type(exc).__name__}: {exc}); skipped")])
    title = meta_title.strip() if not NOT_A_TITLE.search(meta_title.strip()) else _largest_text(runs, first_text)
    if not title:
        return ReadResult(problems=[Problem(Location(str(path), 0), "no text on the first page (a scanned PDF "
                                            "without a text layer?); skipped")])
    abstract, page = _abstract(texts)
    if not abstract:
        return ReadResult(problems=[Problem(where, f"PDF {title[:60]!r}: no 'Abstract' section found on its first "
                                            f"{len(texts)} page(s); skipped")])
    stamp = ARXIV_STAMP.search(first_text)
    doi = DOI_IN_TEXT.search(first_text)
    return ReadResult(papers=[Paper(
        title=title,
        abstract=abstract,
        authors=split_author_string(meta_author),
        year=year_of(stamp.group(2)) if stamp else None,
        arxiv_id=stamp.group(1).lower() if stamp else None,
        doi=normalize_doi(doi.group(1).rstrip(".,;)")) if doi else None,
        url=f"https://arxiv.org/abs/{stamp.group(1).lower()}" if stamp else None,
        sources=[f"{path.name}:page {page}"],
    )])


def _collector(runs: list[tuple[str, float]]) -> Any:
    """A pypdf text visitor keeping (text, size in points) of each upright run: the title is the largest."""
    def visit(text: str, cm: list[float], tm: list[float], font: Any, font_size: float) -> None:
        if text.strip() and tm[1] == 0 and tm[2] == 0:  # rotated text (arXiv's margin stamp) is never the title
            runs.append((text, abs(font_size * tm[3] * cm[3])))
    return visit


def _largest_text(runs: list[tuple[str, float]], page_text: str) -> str:
    """The first page's first run of its largest text, else its first line."""
    if runs:
        largest = max(size for _, size in runs)
        body = sorted(size for _, size in runs)[len(runs) // 2]
        if largest > body + 0.5:
            picked: list[str] = []
            for text, size in runs:
                if size >= largest - 0.5:
                    picked.append(text.strip())
                elif picked:
                    break
            return clean_text(" ".join(picked))
    return next((clean_text(line) for line in page_text.splitlines() if line.strip()), "")


def _abstract(texts: list[str]) -> tuple[str, int]:
    """(the abstract's text, the page it starts on), or ("", 0)."""
    for number, text in enumerate(texts, 1):
        heading = ABSTRACT_HEADING.search(text)
        if not heading:
            continue
        rest = text[heading.end():] + "".join("\n" + later for later in texts[number:])
        end = NEXT_HEADING.search(rest)
        body = rest[:end.start()] if end else rest[:MAX_ABSTRACT_CHARS]
        if not end and len(rest) > MAX_ABSTRACT_CHARS:
            body = body[:body.rfind(". ") + 1] or body
        body = re.sub(r"(\w)-\n(\w)", r"\1\2", body)  # words hyphenated across lines
        return clean_text(body), number
    return "", 0
