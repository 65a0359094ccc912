"""HTML and Markdown for the web UI, as pure functions of what the service returned.

Every string that comes from an abstract, a title, a file name or the user is escaped here, so
`<script>` in an abstract is shown as text in the chat and the sources panel. Citation markers
`[n]` become links to the matching card of the sources panel (`#pc-src-<turn>-<n>`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

from assistant.answer import Answer, Source
from assistant.citations import CITATION
from assistant.safe_text import safe_markdown

KIND_LABELS = {
    "lookup": "lookup", "summary": "summary", "compare": "comparison", "list": "which papers",
    "topic_summary": "topic summary", "refusal": "not in the collection", "error": "error",
}
MAX_LISTED_PAPERS = 300


def attr(text: str) -> str:
    return html.escape(text, quote=True)


def source_anchor(turn: int, number: int) -> str:
    return f"pc-src-{turn}-{number}"


def link_citations(escaped: str, turn: int) -> str:
    """`[n]` -> a link to source card n of `turn`; escaped `\\[n\\]` (an abstract's own reference) stays text."""
    return CITATION.sub(
        lambda m: f'<a class="pc-cite" href="#{source_anchor(turn, int(m.group(1)))}" '
                  f'title="Show source {m.group(1)}">[{m.group(1)}]</a>', escaped)


def user_message(question: str) -> str:
    return safe_markdown(question)


def answer_message(text: str, turn: int, notices: Sequence[str] = ()) -> str:
    """The chat bubble: the answer's Markdown (tables render), escaped, with linked citations."""
    body = link_citations(safe_markdown(text), turn).rstrip()
    for notice in notices:
        body += f"\n\n> **Note:** {safe_markdown(' '.join(notice.split()))}"
    return body


def chat_messages(turns: Iterable[tuple[str, Answer]]) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    for turn, (question, answer) in enumerate(turns):
        messages.append({"role": "user", "content": user_message(question)})
        messages.append({"role": "assistant", "content": answer_message(answer.text, turn, answer.notices)})
    return messages


def _spans(abstract: str, sentences: Iterable[str]) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for sentence in sentences:
        sentence = sentence.strip()
        if not sentence:
            continue
        start = abstract.find(sentence)
        if start >= 0:
            found.append((start, start + len(sentence)))
            continue
        loose = re.search(r"\s+".join(re.escape(word) for word in sentence.split()), abstract)
        if loose:
            found.append(loose.span())
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(abstract: str, sentences: Iterable[str]) -> str:
    """The abstract as escaped HTML with each quoted sentence inside `<mark>`."""
    out: list[str] = []
    position = 0
    for start, end in _spans(abstract, sentences):
        out.append(html.escape(abstract[position:start], quote=False))
        out.append(f"<mark>{html.escape(abstract[start:end], quote=False)}</mark>")
        position = end
    out.append(html.escape(abstract[position:], quote=False))
    return "".join(out)


def source_card(source: Source, turn: int) -> str:
    files = ", ".join(source.files) or "unknown file"
    abstract = highlight(source.abstract, source.sentences) if source.abstract else ""
    quoted = len(source.sentences)
    return (
        f'<section class="pc-source" id="{source_anchor(turn, source.number)}">'
        f'<div class="pc-source-title"><span class="pc-num">[{source.number}]</span> '
        f"{html.escape(source.title, quote=False)}</div>"
        f'<div class="pc-files">{html.escape(files, quote=False)} · {quoted} quoted sentence(s) highlighted</div>'
        f'<p class="pc-abstract">{abstract}</p></section>'
    )


def generator_of(answer: Answer, default: str) -> str:
    return str(getattr(answer, "generator", None) or default)


def status_line(answer: Answer, default_generator: str) -> str:
    """Markdown under the chat: who answered, what kind of answer, how long it took, any notice."""
    parts = [f"Answered by **{safe_markdown(generator_of(answer, default_generator))}**",
             KIND_LABELS.get(answer.kind, answer.kind)]
    status = getattr(answer, "status", "answered")
    if status == "partial":
        missing = ", ".join(getattr(answer, "missing", []))
        parts.append(f"**partly answered**: the sources do not report {safe_markdown(missing)}" if missing
                     else "**partly answered**")
    if answer.sources:
        parts.append(f"{len(answer.sources)} source(s)")
    total = answer.timings.get("total_ms")
    if total is not None:
        parts.append(f"{total:.0f} ms")
    line = " · ".join(parts)
    for notice in answer.notices:
        line += f"\n\n⚠️ {safe_markdown(' '.join(notice.split()))}"
    return line


def sources_panel(answer: Answer | None, turn: int) -> str:
    if answer is None:
        return ('<div class="pc-sources"><p class="pc-empty">The papers an answer cites appear here, with the '
                "quoted sentences highlighted in each abstract. Click a [n] in an answer to jump to its "
                "source; click an earlier answer to show its sources.</p></div>")
    head = (f'<div class="pc-sources-head">Sources for <q>{html.escape(answer.question, quote=False)}</q></div>')
    notices = "".join(f'<div class="pc-notice">{html.escape(n, quote=False)}</div>' for n in answer.notices)
    if not answer.sources:
        nearest = "".join(f"<li>{html.escape(p.title, quote=False)}</li>" for p in answer.retrieved[:3])
        body = '<p class="pc-empty">No paper is cited: the answer does not come from the collection.</p>'
        if nearest:
            body += f'<p class="pc-empty">Nearest papers:</p><ul class="pc-nearest">{nearest}</ul>'
    else:
        body = "".join(source_card(source, turn) for source in answer.sources)
    return f'<div class="pc-sources">{head}{notices}{body}</div>'


def ingest_report(summary: Any, titles: dict[str, str] | None = None, rejected: Sequence[str] = (),
                  base: str = "") -> str:
    """Markdown for an upload: the counts, the added/updated titles, and every skipped record's reason.

    `base` (the data dir) is cut from the front of file paths, so a reason reads `uploads/x.jsonl:2: ...`.
    """
    titles = titles or {}
    lines: list[str] = []
    if summary is not None:
        lines.append(
            f"**{len(summary.added)} added, {len(summary.updated)} updated, {summary.unchanged} unchanged, "
            f"{len(summary.skipped) + len(rejected)} skipped** — {summary.files} file(s), {summary.records} "
            f"record(s), {summary.chunks_embedded} chunks embedded in {summary.seconds:.1f} s; "
            f"{summary.total_papers} papers in the collection.")
        for label, ids in (("Added", summary.added), ("Updated", summary.updated)):
            for paper_id in ids[:50]:
                lines.append(f"- {label}: {safe_markdown(titles.get(paper_id, paper_id))}")
            if len(ids) > 50:
                lines.append(f"- … and {len(ids) - 50} more {label.lower()}")
        skipped = [str(problem) for problem in summary.skipped]
    else:
        lines.append(f"**Nothing ingested; {len(rejected)} file(s) refused.**")
        skipped = []
    for reason in [*rejected, *skipped]:
        if base and reason.startswith(base):
            reason = reason[len(base):].lstrip("/\\")
        lines.append(f"- Skipped: {safe_markdown(reason)}")
    return "\n".join(lines)


def collection_summary(stats: dict[str, Any]) -> str:
    files = stats.get("source_files", [])
    shown = ", ".join(safe_markdown(f) for f in files[:20])
    more = f" and {len(files) - 20} more" if len(files) > 20 else ""
    return (f"**{stats.get('papers', 0)} papers** ({stats.get('chunks', 0)} chunks) from {len(files)} source "
            f"file(s): {shown or 'none'}{more}")


def paper_list(papers: Sequence[Any], title_filter: str = "") -> str:
    if not papers:
        what = f" with “{html.escape(title_filter, quote=False)}” in the title" if title_filter.strip() else ""
        return f'<p class="pc-empty">No papers{what}.</p>'
    rows = []
    for paper in papers[:MAX_LISTED_PAPERS]:
        year = str(paper.year) if getattr(paper, "year", None) else ""
        files = ", ".join(paper.sources)
        rows.append(f"<tr><td>{html.escape(paper.title, quote=False)}</td><td>{year}</td>"
                    f"<td>{html.escape(files, quote=False)}</td></tr>")
    more = (f'<p class="pc-empty">Showing {MAX_LISTED_PAPERS} of {len(papers)}; narrow the search.</p>'
            if len(papers) > MAX_LISTED_PAPERS else "")
    return (f'<p class="pc-count">{len(papers)} paper(s)</p><table class="pc-papers"><thead><tr><th>Title</th>'
            f"<th>Year</th><th>Source</th></tr></thead><tbody>{''.join(rows)}</tbody></table>{more}")
