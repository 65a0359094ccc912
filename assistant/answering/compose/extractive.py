"""The default composer: answers made only of sentences quoted from the abstracts, cited `[n]`.

Needs no LLM and cannot invent a number: every sentence after a `[n]`-free heading is a verbatim
abstract sentence (possibly shortened with an ellipsis in tables), cited to its paper. Which
sentences, and in which order, comes from the judge's Evidence: a direct question is answered by
the sentence that answers it first, then a sentence for each further part it asks, the method and a
figure, then what the method does or achieves, within a word budget (`answer_sentences`); the rest
of the abstract stays in the sources panel.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from assistant.answering.compose.sentences import BOILERPLATE, ScoredSentence, best_for, roles_of
from assistant.answering.plan import ASKS_NUMBER, REQUEST_WORDS, is_count_question
from assistant.answering.types import Evidence, Judgement, Plan, SentenceEvidence
from assistant.citations import CITATION, CitationBook, quoted_text
from assistant.names import spelled_out
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


# "How big / cold / fast / long ...": the units a figure of that dimension is written in. A sentence giving
# such a figure ("a 505 mm sapphire plate", "cooled to 50 K", "rotates at 2 Hz") holds the dimension word,
# however it words the rest.
_FIGURE = r"\d(?:[.,]\d+)?\s*"
DIMENSION_UNITS = {
    "size": re.compile(_FIGURE + r"(?:mm|cm|m|km|µm|nm|inch(?:es)?|[KMGT]B|[KMBT]|(?:billion|million) parameters|"
                       r"parameters|params)(?![\w-])"),
    "temperature": re.compile(_FIGURE + r"(?:m?K|°\s?[CF]|kelvin)(?![\w-])"),
    "speed": re.compile(_FIGURE + r"(?:[kMG]?Hz|rpm|ms|FPS|fps|x|×|times|tokens/s|images/s|it/s)(?![\w-])"),
    "duration": re.compile(_FIGURE + r"(?:s|sec|seconds|min|minutes|h|hours|days|weeks|epochs|steps|frames|tokens)"
                           r"(?![\w-])"),
}
DIMENSIONS = {"big": "size", "large": "size", "small": "size", "tiny": "size", "huge": "size", "wide": "size",
              "cold": "temperature", "hot": "temperature", "warm": "temperature",
              "fast": "speed", "slow": "speed", "quick": "speed", "quickly": "speed", "long": "duration"}
HOW_DIMENSION = re.compile(r"\bhow\s+(" + "|".join(DIMENSIONS) + r")\b", re.I)


@dataclass(frozen=True)
class Part:
    """One thing the question asks (`Ask.parts`), as the IDF weights of its terms."""

    weights: dict[str, float]
    number: bool  # it asks how many / how much: a sentence with a figure answers it better
    acronyms: dict[str, str] = field(default_factory=dict)  # stem -> the acronym the part writes ("MRR")
    dimensions: dict[str, str] = field(default_factory=dict)  # stem -> the dimension "how big/cold/..." asks

    @classmethod
    def of(cls, text: str, idf: Callable[[str], float]) -> Part:
        acronyms = {stems[0]: word for word in re.findall(r"\b[A-Z]{2,6}\b", text) if (stems := content_stems(word))}
        dimensions = {stems[0]: DIMENSIONS[m.group(1).lower()] for m in HOW_DIMENSION.finditer(text)
                      if (stems := content_stems(m.group(1)))}
        return cls({stem: idf(stem) for stem in content_stems(text, REQUEST_WORDS)}, bool(ASKS_NUMBER.search(text)),
                   acronyms, dimensions)

    def support(self, sentence: SentenceEvidence) -> float:
        """The IDF-weighted share of the part's terms the sentence holds, plus FIGURE_BONUS for a figure
        when the part asks how many or how much; 0 when it holds none of the terms (a figure alone
        does not answer "how few parameters"). An acronym is held where the sentence spells it out
        ("what MRR change": "from 34.4 to 35.1 Mean Reciprocal Rank")."""
        stems = sentence_stems(sentence.text)

        def held(stem: str) -> bool:
            return stem in stems or (stem in self.acronyms and spelled_out(self.acronyms[stem], sentence.text)) or (
                stem in self.dimensions and bool(DIMENSION_UNITS[self.dimensions[stem]].search(sentence.text)))

        share = sum(w for stem, w in self.weights.items() if held(stem)) / (sum(self.weights.values()) or 1.0)
        return share + FIGURE_BONUS * (self.number and sentence.has_figure) if share else 0.0


FIGURE_BONUS = 0.5  # half a part's term weight, for a figure when the part asks how many or how much
PART_SUPPORT = 0.25  # a quarter of the part's term weight: below that no sentence answers the part itself
# A sentence that says what the method does or achieves (its method or result role) ranks this much
# above one that only sets the scene when the rest of a budget is filled: about a quarter of the
# question's terms. Chosen on dev.jsonl, checked on dev2.jsonl; bonuses for figures and coined
# names on top of it changed neither set.
FACT_ROLE_BONUS = 0.25


def answer_sentences(evidence: Evidence, limit: int, budget: int, wants_figure: bool = False,
                     own_names: frozenset[str] = frozenset(), parts: tuple[Part, ...] = (),
                     name_as_subject: bool = False, part_words: int = 0) -> list[SentenceEvidence]:
    """The sentence that answers best, then what a reader of a direct question needs next, in `budget` words.

    After the lead, each while it fits the budget:
    - for each part of a question that asks several things, the sentence that answers that part
      best, unless one already chosen answers it as well; from the third part on, each part widens
      the budget of these part sentences together by `part_words` (and one sentence), never that of
      the sentences after them: a question that asks four things needs more words than one that
      asks one, but not more background;
    - the sentence that introduces the paper's method (it names it, or "we propose");
    - a sentence with a figure (any, when the question asks for one; else the headline result);
    - then the best remaining sentences, those saying what the method does or achieves before
      background; never boilerplate ("code is available at"). With `name_as_subject` (a comparison,
      which asks how each method works), a sentence opening with one of the paper's own names
      ("Compacter inserts ...", "PCB-Merging employs ...") says what the method does too.
    """
    order = ranked(evidence)
    if not order:
        return []
    chosen = [order[0]]

    def fits(sentence: SentenceEvidence, more_parts: int = 0) -> bool:
        return (len(chosen) < limit + more_parts and sentence not in chosen
                and sum(_words(s.text) for s in chosen) + _words(sentence.text) <= budget + part_words * more_parts)

    more_parts = max(0, len(parts) - 2)
    for part in parts if len(parts) > 1 else ():
        best = max(order, key=lambda s: (part.support(s), s.score))
        if part.support(best) >= PART_SUPPORT and all(part.support(s) < part.support(best) for s in chosen) \
                and fits(best, more_parts):
            chosen.append(best)

    def names_method(sentence: SentenceEvidence) -> bool:
        return bool(own_names & {name_key(w) for w in sentence.text.split()}) or "method" in roles_of(
            sentence.index, sentence.text)

    def gives_figure(sentence: SentenceEvidence) -> bool:
        # Any figure when the question asks for one ("how much faster?"), else the headline result.
        return sentence.has_figure and (wants_figure or "result" in roles_of(sentence.index, sentence.text))

    if not any(names_method(s) for s in chosen):
        method = next((s for s in order if names_method(s) and fits(s)), None)
        if method is not None:
            chosen.append(method)
    if not any(s.has_figure for s in chosen):
        figure = next((s for s in order if gives_figure(s) and fits(s)), None)
        if figure is not None:
            chosen.append(figure)
    def bonus(sentence: SentenceEvidence) -> float:
        opens_with_name = name_as_subject and own_names & {name_key(w) for w in sentence.text.split()[:3]}
        return FACT_ROLE_BONUS if opens_with_name else _fact_bonus(sentence)

    for sentence in sorted(order, key=lambda s: -(s.score + bonus(s))):
        if fits(sentence) and not BOILERPLATE.search(sentence.text):
            chosen.append(sentence)
    return chosen


def _fact_bonus(sentence: SentenceEvidence) -> float:
    return FACT_ROLE_BONUS if roles_of(sentence.index, sentence.text) & {"method", "result"} else 0.0


def heading(paper: StoredPaper, n: int) -> str:
    """`**ZeRO++** [n]` for a titled short name, else the whole title: the marker names the paper."""
    return f"**{short_name(paper.title)}** [{n}]"


class ExtractiveComposer:
    def __init__(self, lookup_sentences: int, lookup_words: int, compare_sentences: int, list_sentences: int,
                 idf: Callable[[str], float], own_names: Callable[[str], set[str]] = lambda _: set(),
                 compare_share: float = 1.0, compare_words: int = 120, part_words: int = 0) -> None:
        self.part_words = part_words
        self.own_names = own_names
        self.compare_share = compare_share
        self.compare_words = compare_words
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
            return self.partial(chosen[0], judgement.missing, book)
        if plan.intent == "list":
            intro = (f"{len(chosen)} paper(s) in the collection are about this:" if is_count_question(question)
                     else f"{len(chosen)} paper(s) in the collection match:")
            return self.listing(chosen, book, intro)
        if plan.intent == "topic_summary":
            intro = f"What the collection says, from {len(chosen)} matching paper(s), grouped by approach:"
            return self.topic_summary(question, chosen, book, intro)
        if plan.intent == "compare" and len(chosen) >= 2:
            return self.compare(chosen, book, self.parts(plan))
        if plan.intent == "summary":
            return self.summary(chosen[0], book)
        return self.lookup(chosen[0], book, plan.ask.number, self.parts(plan))

    def main_name(self, paper: StoredPaper) -> frozenset[str]:
        """The name the paper goes by most ("COSMO" in four sentences, not "GZSL" in three): authors
        repeat their method's name, and a list item should quote the sentence that gives it."""
        counts = Counter(key for sentence in paper.sentences
                         for key in {name_key(w) for w in sentence.split()} & self.own_names(paper.id))
        return frozenset(key for key, _ in counts.most_common(1))

    def parts(self, plan: Plan) -> tuple[Part, ...]:
        return tuple(Part.of(text, self.idf) for text in plan.ask.parts)

    # ---- one paper -------------------------------------------------------------------------
    def lookup(self, evidence: Evidence, book: CitationBook, wants_figure: bool = False,
               parts: tuple[Part, ...] = ()) -> str:
        chosen = answer_sentences(evidence, self.lookup_sentences, self.lookup_words, wants_figure,
                                  frozenset(self.own_names(evidence.paper.id)), parts, part_words=self.part_words)
        body = " ".join(book.cite(evidence.paper, s.text) for s in chosen)
        return f"{heading(evidence.paper, book.number(evidence.paper))}\n\n{body}"

    def partial(self, evidence: Evidence, missing: list[str], book: CitationBook) -> str:
        """The paper the question is about, what its abstract lacks, and the closest thing it does say."""
        paper = evidence.paper
        lacking = ", ".join(missing)
        chosen = answer_sentences(evidence, 2, self.lookup_words)
        said = " ".join(book.cite(paper, s.text) for s in chosen)
        return (f"Only in part: the paper this is about does not report {lacking} in its abstract.\n\n"
                f"{heading(paper, book.number(paper))}\n\n**What it does say:** {said}")

    def summary(self, evidence: Evidence, book: CitationBook) -> str:
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
    def compare(self, evidence: list[Evidence], book: CitationBook, parts: tuple[Part, ...] = ()) -> str:
        """A section of quoted sentences per paper, then a side-by-side table of problem, method and
        results, never longer than `compare_share` of the compared abstracts' words (counted as the
        eval counts them, without the [n] markers). Over that, the sections give up their last-chosen
        sentences, the longest section first; when one sentence each is still too long with the
        table, the sections keep their sentences and the table goes instead (and then they shrink)."""
        papers = [e.paper for e in evidence]
        numbers = [book.number(p) for p in papers]  # numbered in the order compared, whatever is quoted first
        picked = [answer_sentences(item, self.compare_sentences, self.compare_words, False,
                                   frozenset(self.own_names(item.paper.id)), parts, name_as_subject=True,
                                   part_words=self.part_words)
                  for item in evidence]
        cap = self.compare_share * sum(_words(p.abstract) for p in papers)

        def measured(paper: StoredPaper, text: str, max_words: int | None) -> str:
            return quoted_text(text, max_words)  # as book.cite writes it, less its [n]: nothing is recorded

        for with_table in (True, False):
            chosen = [list(section) for section in picked]
            while True:
                cells = self._cells(evidence, chosen) if with_table else None
                # Counted as the eval counts an answer's words: without its [n] markers.
                if _words(CITATION.sub(" ", self._render(papers, numbers, chosen, cells, measured))) <= cap:
                    return self._render(papers, numbers, chosen, cells, book.cite)
                if not any(len(section) > 1 for section in chosen):
                    break
                max((q for q in chosen if len(q) > 1), key=lambda q: sum(_words(s.text) for s in q)).pop()
        return self._render(papers, numbers, chosen, None, book.cite)  # one sentence each: as short as it gets

    @staticmethod
    def _cells(evidence: list[Evidence], chosen: list[list[SentenceEvidence]]) -> list[list[ScoredSentence | None]]:
        """Per paper, the table's problem, method and results cells: they say what its section does not
        (the best sentence in the role not quoted above; a quoted one only when no other has the role)."""
        cells = []
        for item, quoted in zip(evidence, chosen, strict=True):
            scored = [_scored(s) for s in ranked(item)]
            shown = {q.index for q in quoted}
            row: list[ScoredSentence | None] = []
            for role, _ in ASPECTS:  # no sentence in two cells of one paper's column
                unused = [s for s in scored if s not in row]
                row.append(best_for(role, [s for s in unused if s.index not in shown]) or best_for(role, unused))
            cells.append(row)
        return cells

    @staticmethod
    def _render(papers: list[StoredPaper], numbers: list[int], chosen: list[list[SentenceEvidence]],
                cells: list[list[ScoredSentence | None]] | None,
                cite: Callable[[StoredPaper, str, int | None], str]) -> str:
        # The whole title under a short-name heading; a title without a short name is the heading already.
        sections = ["\n".join([f"### {short_name(p.title)} [{n}]",
                               *([f"*{p.title}*"] if short_name(p.title) != p.title else []), "",
                               *(f"- {cite(p, s.text, None)}" for s in quoted)])
                    for p, n, quoted in zip(papers, numbers, chosen, strict=True)]
        names = " and ".join(f"*{short_name(p.title)}*" for p in papers)
        blocks = [f"Comparing {names}, from their abstracts:", *sections]
        if cells is not None:
            header = "| | " + " | ".join(f"{_escape_cell(short_name(p.title))} [{n}]"
                                         for p, n in zip(papers, numbers, strict=True)) + " |"
            rows = [f"| **{label}** | " + " | ".join(
                _escape_cell(cite(p, row[k].text, TABLE_CELL_WORDS)) if row[k] else "not stated in the abstract"
                for p, row in zip(papers, cells, strict=True)) + " |" for k, (_, label) in enumerate(ASPECTS)]
            blocks += ["**Side by side**", "\n".join([header, "|---" * (len(papers) + 1) + "|", *rows])]
        return "\n\n".join(blocks)

    # ---- many papers -------------------------------------------------------------------------
    def listing(self, evidence: list[Evidence], book: CitationBook, intro: str) -> str:
        lines = [intro, ""]
        for position, item in enumerate(evidence, 1):
            chosen = answer_sentences(item, self.list_sentences, self.lookup_words,
                                      own_names=self.main_name(item.paper))
            quoted = " ".join(book.cite(item.paper, s.text) for s in sorted(chosen, key=lambda s: s.index))
            lines.append(f"{position}. **{item.paper.title}** — {quoted}")
        return "\n".join(lines)

    def topic_summary(self, question: str, evidence: list[Evidence], book: CitationBook, intro: str) -> str:
        label = approach_label([e.paper for e in evidence], set(content_stems(question)), self.idf)
        groups: dict[str, list[Evidence]] = {}
        for item in evidence:
            groups.setdefault(label(item.paper), []).append(item)
        ordered = sorted(groups.items(), key=lambda g: (g[0] == "Other approaches", -len(g[1])))
        parts = [intro]
        for heading, items in ordered:
            parts.append(f"### {heading}")
            for item in items:
                chosen = answer_sentences(item, 2, self.lookup_words, own_names=self.main_name(item.paper))
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
