"""Which records are one paper: the same DOI or arXiv id, else (when nothing says otherwise) the same title.

A paper comes in from many places: a BibTeX file with LaTeX in its title, a JSON Lines dump in
Unicode, a RIS or CSL-JSON export, a PDF. Two records are one paper when they share a DOI or an
arXiv id. When they share neither, they are one paper when their normalized titles (LaTeX decoded,
case, accents and punctuation folded) are equal, unless both carry DOIs (or both arXiv ids) that
differ: then they are two papers that happen to share a title (a workshop and a journal version).

The matcher is used twice: among the records of one ingest run (ingest.pipeline.read_inputs) and
between those and the papers already stored (IngestPipeline), so a paper keeps its id whatever
order its copies arrive in, and a store written before this matching existed keeps its ids.
"""

from __future__ import annotations

import re
from typing import Protocol

from ingest.records import normalize_title, paper_id_for

# DOIs are case-insensitive; resolvers and citation styles wrap them in prefixes.
DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
DOI_SHAPE = re.compile(r"^10\.\d{4,9}/\S+$")
# arXiv's own DOIs (10.48550/arXiv.1910.02054) name an arXiv id: matched as that id, not as a DOI,
# so a preprint's DOI never conflicts with the DOI of its published version.
ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(.+)$", re.IGNORECASE)
ARXIV_ID = r"(\d{4}\.\d{4,5}|[a-z][a-z.-]*/\d{7})(?:v\d+)?"
ARXIV_ID_ALONE = re.compile(rf"^(?:arxiv:\s*)?{ARXIV_ID}$", re.IGNORECASE)
# Where an arXiv id shows inside other text: a URL, an `arXiv:` label, a Google Scholar journal field.
ARXIV_ID_IN_TEXT = re.compile(rf"(?:arxiv\.org/(?:abs|pdf)/|arxiv[:.]\s*){ARXIV_ID}", re.IGNORECASE)


def normalize_doi(value: object) -> str | None:
    """`https://doi.org/10.1145/ABC` or `doi:10.1145/abc` -> `10.1145/abc`; None for anything else."""
    if not isinstance(value, str):
        return None
    doi = DOI_PREFIX.sub("", value.strip()).strip().rstrip(".").lower()
    return doi if DOI_SHAPE.match(doi) else None


def normalize_arxiv_id(value: object) -> str | None:
    """`arXiv:1910.02054v3` or `1910.02054` -> `1910.02054`; None for anything else."""
    if not isinstance(value, str):
        return None
    match = ARXIV_ID_ALONE.match(value.strip())
    return match.group(1).lower() if match else None


def arxiv_id_in(*texts: object) -> str | None:
    """The first arXiv id named in URLs, notes or DOIs, e.g. `http://arxiv.org/abs/1910.02054v2`."""
    for text in texts:
        if not isinstance(text, str) or not text:
            continue
        doi = ARXIV_DOI.match(normalize_doi(text) or "")
        found = normalize_arxiv_id(doi.group(1)) if doi else None
        if found:
            return found
        match = ARXIV_ID_IN_TEXT.search(text)
        if match:
            return match.group(1).lower()
    return None


class Identified(Protocol):
    """What matching reads of a paper: a Paper being ingested or a catalog row."""

    id: str
    title: str
    doi: str | None
    arxiv_id: str | None


def identity_doi(paper: Identified) -> str | None:
    """The DOI that identifies the paper, leaving out arXiv's DOIs (they are compared as arXiv ids)."""
    return paper.doi if paper.doi and not ARXIV_DOI.match(paper.doi) else None


def identity_arxiv_id(paper: Identified) -> str | None:
    if paper.arxiv_id:
        return paper.arxiv_id
    doi = ARXIV_DOI.match(paper.doi or "")
    return normalize_arxiv_id(doi.group(1)) if doi else None


def conflicting(a: Identified, b: Identified) -> bool:
    """Both carry a DOI, or both an arXiv id, and they differ: two papers, whatever their titles."""
    doi_a, doi_b = identity_doi(a), identity_doi(b)
    arxiv_a, arxiv_b = identity_arxiv_id(a), identity_arxiv_id(b)
    return bool((doi_a and doi_b and doi_a != doi_b) or (arxiv_a and arxiv_b and arxiv_a != arxiv_b))


def distinct_id(paper: Identified) -> str:
    """The id of a paper whose title is taken by another paper (with another DOI or arXiv id)."""
    return paper_id_for(f"{paper.title}\n{identity_doi(paper) or identity_arxiv_id(paper) or ''}")


class PaperMatcher:
    """Known papers by DOI, arXiv id and title key; `find` says which of them a record is."""

    def __init__(self) -> None:
        self._by_doi: dict[str, Identified] = {}
        self._by_arxiv: dict[str, Identified] = {}
        self._by_title: dict[str, list[Identified]] = {}

    def add(self, paper: Identified) -> None:
        """Index a paper; adding it again after it gained a DOI or arXiv id indexes those too."""
        doi, arxiv = identity_doi(paper), identity_arxiv_id(paper)
        if doi:
            self._by_doi.setdefault(doi, paper)
        if arxiv:
            self._by_arxiv.setdefault(arxiv, paper)
        same_title = self._by_title.setdefault(normalize_title(paper.title), [])
        if not any(known is paper for known in same_title):
            same_title.append(paper)

    def find(self, paper: Identified) -> tuple[Identified, str] | None:
        """(the known paper, what matched: "DOI", "arXiv id" or "title"), or None for a new paper."""
        doi, arxiv = identity_doi(paper), identity_arxiv_id(paper)
        if doi and doi in self._by_doi:
            return self._by_doi[doi], "DOI"
        if arxiv and arxiv in self._by_arxiv:
            return self._by_arxiv[arxiv], "arXiv id"
        for known in self._by_title.get(normalize_title(paper.title), ()):
            if not conflicting(paper, known):
                return known, "title"
        return None
