"""Conversation export: Markdown with one reference list, the cited papers as BibTeX, RIS and CSL-JSON (each
ingesting back to the same papers), and `/export` in the CLI."""

from __future__ import annotations

import io
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from assistant.answer import Answer, Source
from assistant.export import (
    bibtex,
    bibtex_escape,
    bibtex_key,
    cited_papers,
    conversation_markdown,
    export_conversation,
    renumber,
)

if TYPE_CHECKING:
    from assistant.service import PaperChat

SCRIPT = "<script>alert('x')</script>"


def source(number: int, paper_id: str, title: str, sentence: str = "", abstract: str = "") -> Source:
    return Source(number, paper_id, title, [f"{paper_id}.jsonl:1"], [sentence] if sentence else [],
                  abstract or sentence)


@dataclass
class Stored:
    """Stands in for StoredPaper: the fields the export reads."""

    id: str
    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    url: str | None = None
    sources: list[str] = field(default_factory=list)


def two_turns() -> list[tuple[str, Answer]]:
    a = source(1, "pa", "Alpha: A Paper", "Alpha is fast.")
    b = source(2, "pb", "Beta <b>Bold</b> Paper", f"Beta runs {SCRIPT} fine.")
    c = source(2, "pc", "Gamma_Net: 100% of $x$ & more", "Gamma cites LoRA \\[23\\].")
    first = Answer("Compare Alpha and Beta", "Alpha is fast. [1]\n\n| | A [1] | B [2] |\n|---|---|---|\n"
                   f"| **Method** | Alpha is fast. [1] | Beta runs {SCRIPT} fine. [2] |", "compare",
                   [a, b])
    second = Answer("And <i>Gamma</i>?", "Beta again. [1] Gamma cites LoRA \\[23\\]. [2]", "lookup",
                    [source(1, "pb", b.title, b.sentences[0]), c], notices=["fell back to <extractive>"])
    return [("Compare Alpha and Beta", first), ("And <i>Gamma</i>?", second)]


def test_citations_are_renumbered_across_the_conversation() -> None:
    markdown = conversation_markdown(two_turns())
    second = markdown.split("## 2.")[1].split("## References")[0]
    assert "Beta again. [2]" in second  # Beta was [1] in its answer, [2] in the conversation
    assert "Gamma cites LoRA \\[23\\]. [3]" in second  # the abstract's own reference stays escaped text
    references = markdown.split("## References")[1]
    assert re.findall(r"^(\d+)\. \*(.+?)\*", references, re.M) == [
        ("1", "Alpha: A Paper"), ("2", "Beta &lt;b&gt;Bold&lt;/b&gt; Paper"),
        ("3", "Gamma_Net: 100% of $x$ &amp; more")]
    assert "pa.jsonl:1" in references and "BibTeX key `alpha_pa`" in references


def test_markdown_escapes_abstract_and_user_html() -> None:
    markdown = conversation_markdown(two_turns())
    assert "<script" not in markdown and "<b>" not in markdown and "<i>" not in markdown
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in markdown
    assert "## 2. And &lt;i&gt;Gamma&lt;/i&gt;?" in markdown
    assert "> Note: fell back to &lt;extractive&gt;" in markdown
    assert "| **Method** | Alpha is fast. [1] |" in markdown  # the comparison table survives as a table


def test_renumber_leaves_escaped_markers() -> None:
    assert renumber("a [1] b \\[1\\] c [2]", {1: 5, 2: 6}) == "a [5] b \\[1\\] c [6]"


def test_bibtex_key_and_escaping() -> None:
    assert bibtex_key("ZeRO: Memory Optimizations", "pc73740dc2be3b22") == "zero_pc73740dc2be3b22"
    assert bibtex_key("$\\textit{Trans-LoRA}$: towards data-free", "p1") == "trans_p1"
    assert bibtex_key("Über Große Modelle", "p2") == "uber_p2"
    assert bibtex_key("!!!", "p3") == "paper_p3"
    assert bibtex_escape("50% of {x} & $y$ #1 a_b ~ ^ \\cmd") == (
        "50\\% of \\{x\\} \\& \\$y\\$ \\#1 a\\_b \\textasciitilde{} \\textasciicircum{} \\textbackslash{}cmd")


def _balanced(text: str) -> bool:
    depth = 0
    for match in re.finditer(r"\\[{}]|[{}]", text):
        token = match.group(0)
        if token in ("\\{", "\\}"):
            continue
        depth += 1 if token == "{" else -1
        if depth < 0:
            return False
    return depth == 0


def test_bibtex_of_cited_papers_uses_catalog_metadata() -> None:
    turns = two_turns()
    catalog = {"pa": Stored("pa", "Alpha: A Paper", "Alpha is fast. } { unbalanced", ["Ann Lee", "Bo Chen"], 2023,
                            "https://example.org/alpha", ["pa.jsonl:1"])}
    papers = cited_papers(turns, catalog)
    assert [p.paper_id for p in papers] == ["pa", "pb", "pc"]
    text = bibtex(papers)
    entries = re.findall(r"^@misc\{([^,]+),$", text, re.M)
    assert entries == ["alpha_pa", "beta_pb", "gamma_pc"]
    assert "  author = {Ann Lee and Bo Chen}," in text and "  year = {2023}," in text
    assert "url = {https://example.org/alpha}" in text
    assert "title = {Gamma\\_Net: 100\\% of \\$x\\$ \\& more}" in text
    assert "<script>" in text  # BibTeX is not HTML: the text is kept, only LaTeX specials are escaped
    for entry in text.split("\n\n"):
        assert _balanced(entry), entry


def test_export_writes_markdown_and_reference_files_beside_it(tmp_path: Path) -> None:
    files = export_conversation(two_turns(), tmp_path / "out" / "chat.md")
    assert files.paths == [tmp_path / "out" / name for name in ("chat.md", "chat.bib", "chat.ris", "chat.json")]
    assert files.markdown.read_text(encoding="utf-8").startswith("# paperchat conversation")
    assert files.bibtex.read_text(encoding="utf-8").count("@misc{") == 3
    assert files.ris.read_text(encoding="utf-8").count("TY  - GEN\n") == 3
    assert [item["id"] for item in json.loads(files.csl_json.read_text(encoding="utf-8"))] == [
        "alpha_pa", "beta_pb", "gamma_pc"]


def test_empty_answers_export_without_references() -> None:
    refusal = Answer("Anything on protein folding?", "No paper in the collection addresses this.", "refusal")
    markdown = conversation_markdown([("Anything on protein folding?", refusal)])
    assert "## References" not in markdown and "0 cited paper(s)" in markdown
    assert bibtex(cited_papers([("q", refusal)])) == ""


def test_cli_chat_export_command(small_service: PaperChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.cli import main

    settings = small_service.settings
    config = tmp_path / "empty.toml"
    config.write_text("")
    target = tmp_path / "exports" / "talk.md"
    monkeypatch.setattr(sys, "stdin", io.StringIO(
        f"/export {target}\nCompare ZeRO and ZeRO++\nHow does it reduce communication?\n/export {target}\n/quit\n"))
    assert main(["chat", "--data-dir", str(settings.data_dir), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "(nothing to export yet)" in out
    assert (f"(wrote {target}, {target.with_suffix('.bib')}, {target.with_suffix('.ris')} and "
            f"{target.with_suffix('.json')}: 2 question(s)") in out
    markdown = target.read_text(encoding="utf-8")
    assert "## 1. Compare ZeRO and ZeRO++" in markdown and "## 2. How does it reduce communication?" in markdown
    assert "| **Method** |" in markdown
    assert "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models" in markdown
    bib = target.with_suffix(".bib").read_text(encoding="utf-8")
    assert re.search(r"^@misc\{zero_p[0-9a-f]+,$", bib, re.M)
    assert "ZeRO++: Extremely Efficient Collective Communication for Giant Model Training" in bib
