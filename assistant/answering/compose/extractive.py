"""The default composer: answers made only of sentences quoted from the abstracts, cited `[n]`.

Needs no LLM and cannot invent a number: every sentence after a `[n]`-free heading is a verbatim
abstract sentence (possibly shortened with an ellipsis in tables), cited to its paper. Which
sentences, and in which order, comes from the judge's Evidence: a direct question is answered by
the sentence that answers it first, then only what adds to it, within a word budget; the rest of
the abstract stays in the sources panel.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from assistant.answering.compose.sentences import BOILERPLATE, ScoredSentence, best_for, roles_of
from assistant.answering.plan import is_count_question
from assistant.answering.types import Evidence, Judgement, Plan, SentenceEvidence
from assistant.citations import CitationBook
from assistant.store import StoredPaper
from assistant.text import content_stems, name_key, sentence_stems

TABLE_CELL_WORDS = 22
ASPECTS = (("problem", "Problem"), ("method", "Method"), ("result", "Results"))
MIN_LABEL_IDF = 2.0  # a topic-summary heading word must be distinctive, not "from" or "task"


def short_name(title: str) -> str:
    """'ZeRO++: Extremely Efficient ...' -> 'ZeRO++'; titles without a short name stay whole."""
    head = title.split(":", 1)[0].strip()
    return head if ":" in title and len(head.split()) <= 5 else title


def _escape_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _words(text: str) -> int:
    return len(text.split())


def ranked(evidence: Evidence) -> list[SentenceEvidence]:
    """The paper's sentences, best answer first; boilerplate ("code is available") last."""
    return sorted(evidence.sentences, key=lambda s: (bool(BOILERPLATE.search(s.text)), -s.score, s.index))


def answer_sentences(evidence: Evidence, question_stems: set[str], limit: int, budget: int,
                     wants_figure: bool = False, own_names: frozenset[str] = frozenset()) -> list[SentenceEvidence]:
    """The sentence that answers best, then what a reader of a direct question needs next, in `budget` words.

    After the lead: the sentence that introduces the paper's method (it names it, or "we propose"),
    a sentence with a figure (any, when the question asks for one; else the headline result), then
    any sentence that adds a term of the question not yet covered. Each only while it fits the budget.
    """
    order = ranked(evidence)
    if not order:
        return []
    chosen = [order[0]]

    def fits(sentence: SentenceEvidence) -> bool:
        return (len(chosen) < limit and sentence not in chosen
                and sum(_words(s.text) for s in chosen) + _words(sentence.text) <= budget)

    def names_method(sentence: SentenceEvidence) -> bool:
        return bool(own_names & {name_key(w) for w in sentence.text.split()}) or "method" in roles_of(
            sentence.index, sentence.text)

    if not any(names_method(s) for s in chosen):
        method = next((s for s in order if names_method(s) and fits(s)), None)
        if method is not None:
            chosen.append(method)
    def gives_figure(sentence: SentenceEvidence) -> bool:
        # Any figure when the question asks for one ("how much faster?"), else the headline result.
        return sentence.has_number and (wants_figure or "result" in roles_of(sentence.index, sentence.text))

    if not any(s.has_number for s in chosen):
        figure = next((s for s in order if gives_figure(s) and fits(s)), None)
        if figure is not None:
            chosen.append(figure)
    covered = question_stems & set().union(*(sentence_stems(s.text) for s in chosen))
    for sentence in order:
        stems = question_stems & sentence_stems(sentence.text)
        if fits(sentence) and stems - covered:
            chosen.append(sentence)
            covered |= stems
    return chosen


def heading(paper: StoredPaper, n: int) -> str:
    """`**ZeRO++** [n]` for a titled short name, else the whole title: the marker names the paper."""
    return f"**{short_name(paper.title)}** [{n}]"


class ExtractiveComposer:
    def __init__(self, lookup_sentences: int, lookup_words: int, compare_sentences: int, list_sentences: int,
                 idf: Callable[[str], float], own_names: Callable[[str], set[str]] = lambda _: set()) -> None:
        self.own_names = own_names
        self.lookup_sentences = lookup_sentences
        self.lookup_words = lookup_words
        self.compare_sentences = compare_sentences
        self.list_sentences = list_sentences
        self.idf = idf

    def answer(self, plan: Plan, judgement: Judgement, book: CitationBook) -> str:
        """The text for the judge's decision, in the shape the plan's intent asks for."""
        question = plan.question
        if judgement.status == "refused":
            return self.refusal(judgement.reason, [e.paper for e in judgement.nearest])
        chosen = judgement.chosen
        if judgement.status == "partial":
            return self.partial(question, chosen[0], judgement.missing, book)
        if plan.intent == "list":
            intro = (f"{len(chosen)} paper(s) in the collection are about this:" if is_count_question(question)
                     else f"{len(chosen)} paper(s) in the collection match:")
            return self.listing(question, chosen, book, intro)
        if plan.intent == "topic_summary":
            intro = f"What the collection says, from {len(chosen)} matching paper(s), grouped by approach:"
            return self.topic_summary(question, chosen, book, intro)
        if plan.intent == "compare" and len(chosen) >= 2:
            return self.compare(question, chosen, book)
        if plan.intent == "summary":
            return self.summary(question, chosen[0], book)
        return self.lookup(question, chosen[0], book, plan.ask.number)

    # ---- one paper -------------------------------------------------------------------------
    def lookup(self, question: str, evidence: Evidence, book: CitationBook, wants_figure: bool = False) -> str:
        chosen = answer_sentences(evidence, set(content_stems(question)), self.lookup_sentences, self.lookup_words,
                                  wants_figure, frozenset(self.own_names(evidence.paper.id)))
        body = " ".join(book.cite(evidence.paper, s.text) for s in chosen)
        return f"{heading(evidence.paper, book.number(evidence.paper))}\n\n{body}"

    def partial(self, question: str, evidence: Evidence, missing: list[str], book: CitationBook) -> str:
        """The paper the question is about, what its abstract lacks, and the closest thing it does say."""
        paper = evidence.paper
        lacking = ", ".join(missing)
        chosen = answer_sentences(evidence, set(content_stems(question)), 2, self.lookup_words)
        said = " ".join(book.cite(paper, s.text) for s in chosen)
        return (f"Only in part: the paper this is about does not report {lacking} in its abstract.\n\n"
                f"{heading(paper, book.number(paper))}\n\n**What it does say:** {said}")

    def summary(self, question: str, evidence: Evidence, book: CitationBook) -> str:
        paper = evidence.paper
        order = ranked(evidence)
        parts = [f"**{paper.title}** [{book.number(paper)}]", ""]
        used: set[int] = set()
        for role, label in ASPECTS:
            picked = [s for s in order if role in roles_of(s.index, s.text) and s.index not in used]
            picked = picked[: 2 if role == "result" else 1] or ([] if used else order[:1])
            if not picked:
                continue
            picked.sort(key=lambda s: s.index)
            used.update(s.index for s in picked)
            parts.append(f"- **{label}:** " + " ".join(book.cite(paper, s.text) for s in picked))
        return "\n".join(parts)

    # ---- several named papers -------------------------------------------------------------
    def compare(self, question: str, evidence: list[Evidence], book: CitationBook) -> str:
        stems = set(content_stems(question))
        sections: list[str] = []
        table_cells: dict[str, list[str]] = {label: [] for _, label in ASPECTS}
        for item in evidence:
            paper = item.paper
            n = book.number(paper)
            chosen = answer_sentences(item, stems, self.compare_sentences, self.lookup_words, False,
                                      frozenset(self.own_names(paper.id)))
            lines = [f"### {short_name(paper.title)} [{n}]", f"*{paper.title}*", ""]
            lines += [f"- {book.cite(paper, s.text)}" for s in chosen]
            sections.append("\n".join(lines))
            scored = [_scored(s) for s in ranked(item)]
            for role, label in ASPECTS:
                best = best_for(role, scored)
                if best is not None:
                    table_cells[label].append(_escape_cell(book.cite(paper, best.text, TABLE_CELL_WORDS)))
                else:
                    table_cells[label].append("not stated in the abstract")
        papers = [e.paper for e in evidence]
        header = "| | " + " | ".join(f"{_escape_cell(short_name(p.title))} [{book.number(p)}]" for p in papers) + " |"
        rule = "|---" * (len(papers) + 1) + "|"
        rows = [f"| **{label}** | " + " | ".join(cells) + " |" for label, cells in table_cells.items()]
        names = " and ".join(f"*{short_name(p.title)}*" for p in papers)
        return "\n\n".join([f"Comparing {names}, from their abstracts:", *sections, "**Side by side**",
                            "\n".join([header, rule, *rows])])

    # ---- many papers -------------------------------------------------------------------------
    def listing(self, question: str, evidence: list[Evidence], book: CitationBook, intro: str) -> str:
        stems = set(content_stems(question))
        lines = [intro, ""]
        for position, item in enumerate(evidence, 1):
            chosen = answer_sentences(item, stems, self.list_sentences, self.lookup_words)
            quoted = " ".join(book.cite(item.paper, s.text) for s in sorted(chosen, key=lambda s: s.index))
            lines.append(f"{position}. **{item.paper.title}** — {quoted}")
        return "\n".join(lines)

    def topic_summary(self, question: str, evidence: list[Evidence], book: CitationBook, intro: str) -> str:
        label = approach_label([e.paper for e in evidence], set(content_stems(question)), self.idf)
        groups: dict[str, list[Evidence]] = {}
        for item in evidence:
            groups.setdefault(label(item.paper), []).append(item)
        ordered = sorted(groups.items(), key=lambda g: (g[0] == "Other approaches", -len(g[1])))
        stems = set(content_stems(question))
        parts = [intro]
        for heading, items in ordered:
            parts.append(f"### {heading}")
            for item in items:
                chosen = answer_sentences(item, stems, 2, self.lookup_words)
                quoted = " ".join(book.cite(item.paper, s.text) for s in sorted(chosen, key=lambda s: s.index))
                parts.append(f"- **{short_name(item.paper.title)}**: {quoted}")
        return "\n\n".join(parts)

    # ---- nothing to say --------------------------------------------------------------------
    @staticmethod
    def refusal(reason: str, nearest: list[StoredPaper]) -> str:
        text = f"The collection does not contain the information to answer this: {reason}"
        if nearest:
            names = "; ".join(f"*{p.title}*" for p in nearest)
            text += f"\n\nThe nearest papers, which do not answer it: {names}."
        return text


def _scored(sentence: SentenceEvidence) -> ScoredSentence:
    return ScoredSentence(sentence.index, sentence.text, sentence.score, roles_of(sentence.index, sentence.text))


def approach_label(papers: list[StoredPaper], exclude: set[str],
                   idf: Callable[[str], float]) -> Callable[[StoredPaper], str]:
    """Group papers by a distinctive word their titles share (beyond the question's own words).

    Only words rare in the collection head a group: a word most titles use ("from", "task") says
    nothing about an approach.
    """
    title_stems = {p.id: {s for s in content_stems(p.title) if len(s) >= 4 and idf(s) >= MIN_LABEL_IDF} - exclude
                   for p in papers}
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
