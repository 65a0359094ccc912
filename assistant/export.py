"""Export a conversation: Markdown with one numbered reference list, and the cited papers as BibTeX, RIS and CSL-JSON.

Both the CLI (`/export PATH.md` in `paperchat chat`) and the web UI call these functions; they
only format what the service already answered. Each answer numbers its own citations from
`[1]`; in the export the numbers are made conversation-wide (a paper keeps one number however
often it is cited), so the reference list at the end serves every answer.

Everything that comes from an abstract or from the user goes through `assistant.safe_text` (the rule
every channel shares), so a `<script>` in an abstract is shown as text by any Markdown viewer, never
run, and a `[link](javascript:...)` stays text. Only http(s) URLs are written as links (BibTeX `url`,
RIS `UR`, CSL-JSON `URL`): a `javascript:` or `file:` URL that came in with a record is left out. The
three reference files ingest back (`paperchat ingest`) to the same papers.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.answer import Answer
from assistant.citations import CITATION
from assistant.safe_text import safe_markdown

ExportTurn = tuple[str, Answer]  # (question as asked, its answer)




@dataclass
class CitedPaper:
    """A paper as the export lists it: a number in the reference list and a BibTeX entry."""

    paper_id: str
    title: str
    files: list[str] = field(default_factory=list)
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    url: str | None = None
    doi: str | None = None
    arxiv_id: str | None = None

    @property
    def link(self) -> str | None:
        """The URL to write as a link: http(s) only, else (for an arXiv paper) its abstract page."""
        if self.url and re.match(r"https?://", self.url.strip(), re.IGNORECASE):
            return self.url.strip()
        return f"https://arxiv.org/abs/{self.arxiv_id}" if self.arxiv_id else None

    @property
    def key(self) -> str:
        return bibtex_key(self.title, self.paper_id)


def cited_papers(turns: Sequence[ExportTurn], catalog: Mapping[str, Any] | None = None) -> list[CitedPaper]:
    """Every cited paper once, in order of first citation in the conversation.

    `catalog` maps paper id to a stored paper (title, abstract, authors, year, url, sources); when
    a paper is in it, its metadata fills the entry, otherwise the answer's own source does.
    """
    papers: dict[str, CitedPaper] = {}
    for _, answer in turns:
        for source in answer.sources:
            if source.paper_id in papers:
                continue
            stored = (catalog or {}).get(source.paper_id)
            if stored is not None:
                papers[source.paper_id] = CitedPaper(
                    source.paper_id, stored.title, list(stored.sources or source.files), stored.abstract,
                    list(stored.authors or []), stored.year, stored.url, getattr(stored, "doi", None),
                    getattr(stored, "arxiv_id", None))
            else:
                papers[source.paper_id] = CitedPaper(source.paper_id, source.title, list(source.files),
                                                     source.abstract)
    return list(papers.values())


def renumber(text: str, numbers: Mapping[int, int]) -> str:
    """Replace each citation `[n]` by `[numbers[n]]`; escaped `\\[n\\]` (quoted from an abstract) stays."""
    return CITATION.sub(lambda m: f"[{numbers.get(int(m.group(1)), int(m.group(1)))}]", text)


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def conversation_markdown(turns: Sequence[ExportTurn], catalog: Mapping[str, Any] | None = None,
                          title: str = "paperchat conversation", when: datetime | None = None) -> str:
    """The conversation as Markdown: each question and answer, then one reference list."""
    papers = cited_papers(turns, catalog)
    global_number = {paper.paper_id: n for n, paper in enumerate(papers, 1)}
    when = when or datetime.now(UTC)
    out = [f"# {safe_markdown(title)}", "",
           f"Exported {when.strftime('%Y-%m-%d %H:%M UTC')}: {len(turns)} question(s), "
           f"{len(papers)} cited paper(s). Every quoted sentence is from the cited paper's abstract.", ""]
    for index, (question, answer) in enumerate(turns, 1):
        numbers = {s.number: global_number[s.paper_id] for s in answer.sources}
        out += [f"## {index}. {safe_markdown(_one_line(question)) or '(empty question)'}", ""]
        out += [safe_markdown(renumber(answer.text, numbers)).rstrip(), ""]
        out += [f"> Note: {safe_markdown(_one_line(notice))}" for notice in answer.notices]
        if answer.notices:
            out.append("")
    if papers:
        out += ["## References", ""]
        for number, paper in enumerate(papers, 1):
            out.append(f"{number}. {_reference(paper)}")
        out.append("")
    return "\n".join(out)


def _reference(paper: CitedPaper) -> str:
    parts = [f"*{safe_markdown(_one_line(paper.title))}*"]
    if paper.authors:
        parts.append(safe_markdown(", ".join(paper.authors)))
    if paper.year:
        parts.append(str(paper.year))
    if paper.url:
        parts.append(f"<{safe_markdown(paper.url)}>" if paper.url.startswith(("http://", "https://"))
                     else safe_markdown(paper.url))
    if paper.files:
        parts.append("source: " + safe_markdown(", ".join(paper.files)))
    parts.append(f"BibTeX key `{paper.key}`")
    return ". ".join(parts)


# ---- BibTeX ------------------------------------------------------------------------------------

# `--`, ``` `` ``` and `''` are a dash and quotes to LaTeX: split by `{}` so they read back as written.
_LATEX_LIGATURE = re.compile(r"-(?=-)|`(?=`)|'(?=')")
_BIBTEX_SPECIAL = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
    "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")


def bibtex_escape(text: str) -> str:
    """A field value safe inside `{...}`: LaTeX specials escaped, braces balanced, one line."""
    escaped = "".join(_BIBTEX_SPECIAL.get(ch, ch) for ch in _one_line(text))
    return _LATEX_LIGATURE.sub(lambda m: m.group(0) + "{}", escaped)


def bibtex_key(title: str, paper_id: str) -> str:
    """`<first word of the title, ASCII lower case>_<paper id>`, e.g. `zero_pc73740dc2be3b22`."""
    plain = unicodedata.normalize("NFKD", _LATEX_COMMAND.sub(" ", title)).encode("ascii", "ignore").decode()
    word = re.search(r"[A-Za-z0-9]+", plain)
    safe_id = re.sub(r"[^A-Za-z0-9]", "", paper_id)
    return f"{word.group(0).lower() if word else 'paper'}_{safe_id}"


def bibtex_entry(paper: CitedPaper) -> str:
    fields = [("title", paper.title)]
    if paper.authors:
        fields.append(("author", " and ".join(paper.authors)))
    if paper.year:
        fields.append(("year", str(paper.year)))
    if paper.link:
        fields.append(("url", paper.link))
    if paper.doi:
        fields.append(("doi", paper.doi))
    if paper.arxiv_id:
        fields += [("eprint", paper.arxiv_id), ("archiveprefix", "arXiv")]
    if paper.abstract:
        fields.append(("abstract", paper.abstract))
    fields.append(("note", _note(paper)))
    body = ",\n".join(f"  {name} = {{{bibtex_escape(value)}}}" for name, value in fields)
    return f"@misc{{{paper.key},\n{body}\n}}\n"


def bibtex(papers: Iterable[CitedPaper]) -> str:
    return "\n".join(bibtex_entry(paper) for paper in papers)


def _note(paper: CitedPaper) -> str:
    return f"paperchat paper {paper.paper_id}" + ("; source: " + ", ".join(paper.files) if paper.files else "")


# ---- RIS and CSL-JSON --------------------------------------------------------------------------


def ris_entry(paper: CitedPaper) -> str:
    """One RIS record (`TY  - GEN` ... `ER  - `), each value on one line."""
    tags = [("TY", "GEN"), ("TI", paper.title), *(("AU", author) for author in paper.authors)]
    if paper.year:
        tags.append(("PY", str(paper.year)))
    if paper.abstract:
        tags.append(("AB", paper.abstract))
    if paper.doi:
        tags.append(("DO", paper.doi))
    if paper.link:
        tags.append(("UR", paper.link))
    if paper.arxiv_id:
        tags.append(("N1", f"arXiv:{paper.arxiv_id}"))
    tags += [("N1", _note(paper)), ("ID", paper.key)]
    return "".join(f"{tag}  - {_one_line(value)}\n" for tag, value in tags) + "ER  - \n"


def ris(papers: Iterable[CitedPaper]) -> str:
    return "\n".join(ris_entry(paper) for paper in papers)


def csl_author(name: str) -> dict[str, str]:
    """"Given Family" as CSL's {given, family}; a one-word name (an organisation, a mononym) as a literal."""
    given, _, family = _one_line(name).rpartition(" ")
    return {"given": given, "family": family} if given else {"literal": family}


def csl_item(paper: CitedPaper) -> dict[str, Any]:
    item: dict[str, Any] = {"id": paper.key, "type": "article", "title": _one_line(paper.title)}
    if paper.authors:
        item["author"] = [csl_author(author) for author in paper.authors]
    if paper.year:
        item["issued"] = {"date-parts": [[paper.year]]}
    if paper.abstract:
        item["abstract"] = _one_line(paper.abstract)
    if paper.doi:
        item["DOI"] = paper.doi
    if paper.link:
        item["URL"] = paper.link
    item["note"] = (f"arXiv:{paper.arxiv_id}; " if paper.arxiv_id else "") + _note(paper)
    return item


def csl_json(papers: Iterable[CitedPaper]) -> str:
    """CSL-JSON, an array of items, as Zotero's "Export -> CSL JSON" writes and reads it."""
    return json.dumps([csl_item(paper) for paper in papers], ensure_ascii=False, indent=2) + "\n"


@dataclass(frozen=True)
class ExportedFiles:
    """The files one export wrote, side by side: `<name>.md`, `.bib`, `.ris` and `.json` (CSL-JSON)."""

    markdown: Path
    bibtex: Path
    ris: Path
    csl_json: Path

    @property
    def paths(self) -> list[Path]:
        return [self.markdown, self.bibtex, self.ris, self.csl_json]


def export_conversation(turns: Sequence[ExportTurn], markdown_path: Path,
                        catalog: Mapping[str, Any] | None = None) -> ExportedFiles:
    """Write the Markdown to `markdown_path` and the reference files beside it (same name, other suffixes)."""
    markdown_path = Path(markdown_path)
    files = ExportedFiles(markdown_path, markdown_path.with_suffix(".bib"), markdown_path.with_suffix(".ris"),
                          markdown_path.with_suffix(".json"))
    markdown_path.parent.mkdir(parents=True, exist_ok=True)
    papers = cited_papers(turns, catalog)
    markdown_path.write_text(conversation_markdown(turns, catalog), encoding="utf-8")
    files.bibtex.write_text(bibtex(papers), encoding="utf-8")
    files.ris.write_text(ris(papers), encoding="utf-8")
    files.csl_json.write_text(csl_json(papers), encoding="utf-8")
    return files
