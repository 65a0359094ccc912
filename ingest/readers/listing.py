"""Reader for scraped paper listings: a title line, then its abstract line, amid page chrome.

The bundled corpus is text copied from trending-paper pages. Besides title/abstract pairs it
carries navigation text ("Subscribe", "new", dates), sometimes glued to the next title with no
separator, and blank lines that may or may not separate entries.
"""

from __future__ import annotations

import re
from pathlib import Path

from ingest.records import Location, Paper, Problem, ReadResult

# Whole lines that are page furniture, never titles or abstracts.
CHROME_LINES = re.compile(
    r"^(new|subscribe|get trending papers in your email inbox( once a day)?!?"
    r"|by\s*ak and the research community"
    r"|(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d{1,2}(, \d{4})?"
    r"|\d{4}-\d{2}-\d{2}|\d+ (upvotes?|comments?)|submitted by .*)$",
    re.IGNORECASE,
)
# Chrome that a scrape glued onto the start of the following title ("SubscribeFuseMax: ...").
GLUED_CHROME_PREFIX = re.compile(
    r"^(?i:get trending papers in your email inbox(?: once a day)?!|subscribe)(?=[A-Z0-9$\\])"
)
# A title is a line of at most this many characters; an abstract is a longer line, or one
# that reads as prose (at least two sentences).
MAX_TITLE_CHARS = 300
MIN_ABSTRACT_CHARS = 120


def _strip_chrome(line: str) -> str:
    line = line.strip()
    if CHROME_LINES.match(line):
        return ""
    return GLUED_CHROME_PREFIX.sub("", line)


def _looks_like_abstract(line: str) -> bool:
    if len(line) > MAX_TITLE_CHARS:
        return True
    sentences = re.findall(r"[.!?](?:\s|$)", line)
    return len(line) >= MIN_ABSTRACT_CHARS and len(sentences) >= 2


def read_listing(path: Path, text: str) -> ReadResult:
    """Pair each title with the abstract that follows it, whether or not blank lines intervene."""
    result = ReadResult()
    pending_title: tuple[str, int] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = _strip_chrome(raw)
        if not line:
            continue
        if _looks_like_abstract(line):
            if pending_title is None:
                result.problems.append(
                    Problem(Location(str(path), number), "abstract with no title before it; skipped")
                )
                continue
            title, title_line = pending_title
            paper = Paper(title=title, abstract=line, sources=[f"{path.name}:{title_line}"])
            result.papers.append(paper)
            pending_title = None
        else:
            if pending_title is not None:
                title, title_line = pending_title
                result.problems.append(
                    Problem(Location(str(path), title_line), f"title {title[:60]!r} has no abstract; skipped")
                )
            pending_title = (line, number)
    if pending_title is not None:
        title, title_line = pending_title
        result.problems.append(
            Problem(Location(str(path), title_line), f"title {title[:60]!r} has no abstract; skipped")
        )
    return result
