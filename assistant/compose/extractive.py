"""The default composer: answers made only of sentences quoted from the retrieved abstracts.

Needs no LLM and cannot invent a number: every sentence it writes after a `[n]`-free heading is
a verbatim abstract sentence (possibly shortened with an ellipsis in tables), cited to its paper.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from assistant.citations import CitationBook
from assistant.compose.sentences import ScoredSentence, best_for, pick, score_sentences
from assistant.retrieval import PaperHit
from assistant.store import StoredPaper

TABLE_CELL_WORDS = 22
LIST_SENTENCES = 3  # per paper in a "which papers" answer: what shows it matches, its method, its result
ASPECTS = (("problem", "Problem"), ("method", "Method"), ("result", "Results"))


def short_name(title: str) -> str:
    """'ZeRO++: Extremely Efficient ...' -> 'ZeRO++'; titles without a short name stay whole."""
    head = title.split(":", 1)[0].strip()
    return head if ":" in title and len(head.split()) <= 5 else title


def _escape_cell(text: str) -> str:
    return text.replace("|", "\\|")


class ExtractiveComposer:
    def __init__(self, idf: Callable[[str], float], lookup_sentences: int, compare_sentences: int,
                 own_names: Callable[[str], set[str]] = lambda _: set()) -> None:
        self.idf = idf
        self.own_names = own_names
        self.lookup_sentences = lookup_sentences
        self.compare_sentences = compare_sentences

    def _scored(self, paper: StoredPaper, question: str, with_names: bool = False) -> list[ScoredSentence]:
        own = self.own_names(paper.id) if with_names else set()
        return score_sentences(paper.sentences, question, self.idf, own)

    # ---- one paper -------------------------------------------------------------------------
    def lookup(self, question: str, paper: StoredPaper, book: CitationBook, limit: int | None = None) -> str:
        scored = self._scored(paper, question)
        chosen = pick(scored, limit or self.lookup_sentences, ("method", "result", "problem"))
        body = " ".join(book.cite(paper, s.text) for s in chosen)
        return f"**{paper.title}** [{book.number(paper)}]\n\n{body}"

    def summary(self, question: str, paper: StoredPaper, book: CitationBook) -> str:
        scored = self._scored(paper, question)
        parts = [f"**{paper.title}** [{book.number(paper)}]", ""]
        used: set[int] = set()
        for role, label in ASPECTS:
            picked = [s for s in scored if role in s.roles and s.index not in used]
            if role == "result":
                picked = picked[:3]
            elif role == "method":
                picked = picked[:2]
            else:
                picked = picked[:1] if picked else scored[:1]
            if not picked:
                continue
            used.update(s.index for s in picked)
            parts.append(f"- **{label}:** " + " ".join(book.cite(paper, s.text) for s in picked))
        return "\n".join(parts)

    # ---- several named papers -------------------------------------------------------------
    def compare(self, question: str, papers: list[StoredPaper], book: CitationBook) -> str:
        sections: list[str] = []
        table_cells: dict[str, list[str]] = {label: [] for _, label in ASPECTS}
        for paper in papers:
            n = book.number(paper)
            scored = self._scored(paper, question)
            chosen = pick(scored, self.compare_sentences, ("problem", "method", "result"))
            lines = [f"### {short_name(paper.title)} [{n}]", f"*{paper.title}*", ""]
            for sentence in chosen:
                lines.append(f"- {book.cite(paper, sentence.text)}")
            sections.append("\n".join(lines))
            for role, label in ASPECTS:
                best = best_for(role, chosen) or best_for(role, scored)
                if best is not None:
                    table_cells[label].append(_escape_cell(book.cite(paper, best.text, TABLE_CELL_WORDS)))
                else:
                    table_cells[label].append("not stated in the abstract")
        header = "| | " + " | ".join(f"{_escape_cell(short_name(p.title))} [{book.number(p)}]" for p in papers) + " |"
        rule = "|---" * (len(papers) + 1) + "|"
        rows = [f"| **{label}** | " + " | ".join(cells) + " |" for label, cells in table_cells.items()]
        names = " and ".join(f"*{short_name(p.title)}*" for p in papers)
        intro = f"Comparing {names}, from their abstracts:"
        return "\n\n".join([intro, *sections, "**Side by side**", "\n".join([header, rule, *rows])])

    # ---- many papers -------------------------------------------------------------------------
    def listing(self, question: str, hits: list[PaperHit], book: CitationBook, intro: str) -> str:
        lines = [intro, ""]
        for position, hit in enumerate(hits, 1):
            paper = hit.paper
            # What shows it matches (relevance), what it calls its method, and its headline number.
            quoted = pick(self._scored(paper, question, with_names=True), LIST_SENTENCES, ("names", "result"))
            lines.append(f"{position}. **{paper.title}** — " + " ".join(book.cite(paper, s.text) for s in quoted))
        return "\n".join(lines)

    def topic_summary(self, question: str, groups: list[tuple[str, list[PaperHit]]], book: CitationBook,
                      intro: str) -> str:
        parts = [intro]
        for label, hits in groups:
            parts.append(f"### {label}")
            for hit in hits:
                paper = hit.paper
                scored = self._scored(paper, question)
                chosen = pick(scored, 2, ("method",))
                parts.append(f"- **{short_name(paper.title)}**: " + " ".join(book.cite(paper, s.text) for s in chosen))
        return "\n\n".join(parts)

    # ---- nothing to say --------------------------------------------------------------------
    @staticmethod
    def refusal(reason: str, nearest: list[StoredPaper]) -> str:
        text = f"The collection does not contain the information to answer this: {reason}"
        if nearest:
            names = "; ".join(f"*{p.title}*" for p in nearest)
            text += f"\n\nThe nearest papers, which do not answer it: {names}."
        return text


def approach_label(papers: list[StoredPaper], exclude: set[str]) -> Callable[[StoredPaper], str]:
    """Group papers by a distinctive word their titles share (beyond the question's own words)."""
    from collections import Counter

    from assistant.text import content_stems

    title_stems = {p.id: set(content_stems(p.title)) - exclude for p in papers}
    counts = Counter(s for stems in title_stems.values() for s in stems)
    shared = {s for s, c in counts.items() if 2 <= c < len(papers)}

    def label(paper: StoredPaper) -> str:
        options = sorted(title_stems[paper.id] & shared, key=lambda s: (-counts[s], s))
        if not options:
            return "Other approaches"
        word = options[0]
        match = re.search(rf"\b{re.escape(word)}\w*", paper.title, re.I)
        return f"Papers on {match.group(0).lower() if match else word}"

    return label
