"""Markdown notes (`.md`), parsed with markdown-it-py. The form, one paper per heading:

    # ZeRO: Memory Optimizations Toward Training Trillion Parameter Models

    Authors: Samyam Rajbhandari, Jeff Rasley
    Year: 2020
    DOI: 10.1109/SC41405.2020.00024

    Large deep learning models offer significant accuracy gains, but ...

Each heading of the file's deepest heading level is a title, with its markup (`**`, `_`, links,
code) stripped; the paragraphs under it up to the next heading are the abstract. Headings above
that level are sections grouping papers (`# Reading notes`, then `## <paper>`): they and any intro
text under them are not papers. An optional first paragraph of `Authors:`, `Year:`, `DOI:`, `URL:`
or `arXiv:` lines gives the paper's details. A heading named "Abstract" is a label inside the paper
above it. A Markdown file without headings is read as a listing (a title line, then its abstract),
as `.md` files were before this form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

from ingest.identity import arxiv_id_in, normalize_arxiv_id, normalize_doi
from ingest.readers.fields import add_item, first_url, split_author_string, year_of
from ingest.readers.listing import read_listing
from ingest.records import Location, Paper, Problem, ReadResult

DETAIL_LINE = re.compile(r"^\s*(authors?|year|doi|url|arxiv)\s*:\s*(.+?)\s*$", re.IGNORECASE)
SECTION_LABEL = re.compile(r"^\s*abstract\s*:?\s*$", re.IGNORECASE)
PARSER = MarkdownIt("commonmark")


@dataclass
class Section:
    title: str
    line: int
    paragraphs: list[str] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)


def plain_text(inline: Token) -> str:
    """An inline token's text without markup: emphasis and code marks dropped, links as their text."""
    parts: list[str] = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(plain_text(child))
    return "".join(parts).strip()


def _details(inline: Token) -> dict[str, str] | None:
    """{"authors": ..., "year": ...} when every line of a paragraph is a `Name: value` detail line."""
    found: dict[str, str] = {}
    for line in inline.content.splitlines():
        match = DETAIL_LINE.match(line)
        if not match:
            return None
        found[match.group(1).lower().rstrip("s")] = match.group(2)  # "authors" and "author" alike
    return found or None


def _paper(path: Path, section: Section) -> Paper | Problem:
    where = Location(str(path), section.line)
    if not section.paragraphs:
        return Problem(where, f"heading {section.title[:60]!r} has no abstract paragraph under it; skipped")
    details = section.details
    return Paper(
        title=section.title,
        abstract=" ".join(section.paragraphs),
        authors=split_author_string(details.get("author", "")),
        year=year_of(details.get("year")),
        url=first_url(details.get("url")),
        doi=normalize_doi(details.get("doi")),
        arxiv_id=normalize_arxiv_id(details.get("arxiv")) or arxiv_id_in(details.get("url"), details.get("doi")),
        sources=[f"{path.name}:{section.line}"],
    )


def read_markdown(path: Path, text: str) -> ReadResult:
    tokens = PARSER.parse(text)
    levels = [len(token.markup) for index, token in enumerate(tokens) if token.type == "heading_open"
              and not SECTION_LABEL.match(plain_text(tokens[index + 1]))]
    if not levels:
        return read_listing(path, text)
    paper_level = max(levels)
    result = ReadResult()
    current: Section | None = None
    in_section = False  # under a heading above the paper level: grouping text, not a paper
    for index, token in enumerate(tokens):
        if token.type != "inline":
            continue
        opener = tokens[index - 1]
        line = (token.map or opener.map or [0])[0] + 1
        if opener.type == "heading_open":
            heading = plain_text(token)
            if SECTION_LABEL.match(heading) and current is not None:
                continue
            if current is not None:
                add_item(result, _paper(path, current))
            is_paper = len(opener.markup) == paper_level and bool(heading)
            current, in_section = (Section(heading, line) if is_paper else None), not is_paper
        elif current is None:
            if not in_section:
                result.problems.append(Problem(Location(str(path), line), "text before the first heading (a title "
                                               "line starting with '#'); skipped"))
        elif not current.paragraphs and not current.details and (details := _details(token)):
            current.details = details
        else:
            paragraph = plain_text(token)
            if paragraph:
                current.paragraphs.append(paragraph)
    if current is not None:
        add_item(result, _paper(path, current))
    return result
