"""The answering pipeline: condense -> retrieve -> plan -> judge -> compose -> verify.

Each stage is its own module; this one only passes one stage's output to the next and builds the
Answer. Policy (which paper, which papers, whether the question is answered) lives in the judge;
wording lives in the composers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from assistant.answer import Answer, RetrievedPaper
from assistant.answering import condense
from assistant.answering import plan as planning
from assistant.answering.compose.extractive import ExtractiveComposer
from assistant.answering.generate import LLMWriter
from assistant.answering.judge import EvidenceJudge
from assistant.answering.retrieve import CandidateRetriever, Candidates
from assistant.answering.types import Evidence, Judgement, Plan, Resolved
from assistant.chat import Conversation
from assistant.citations import CitationBook, verify
from assistant.names import NameIndex
from assistant.retrieval import Mode, PaperHit
from assistant.store import StoredPaper


@dataclass
class Stages:
    retriever: CandidateRetriever
    judge: EvidenceJudge  # the default judge (no LLM)
    llm_judge: Callable[[str], EvidenceJudge | None]  # generator name -> its judge, None to use the default
    composer: ExtractiveComposer
    writer: LLMWriter
    names: Callable[[], NameIndex]
    papers: Callable[[], dict[str, StoredPaper]]


class AnsweringPipeline:
    def __init__(self, stages: Stages) -> None:
        self.stages = stages

    def stream(self, question: str, conversation: Conversation, mode: Mode,
               generator: str) -> Iterator[str | Answer]:
        """The answer text in pieces, then the final Answer (extractive first; an LLM rewrites it if chosen)."""
        judge = self.stages.llm_judge(generator) if generator != "extractive" else None
        answer = self.extractive(question, conversation, mode, judge)
        if generator != "extractive" and answer.status == "answered" and answer.kind != "error":
            history = [(t.question, t.answer.text) for t in conversation.turns]
            answer = yield from self.stages.writer.write(question, answer, generator, history)
        else:
            yield from answer.text.splitlines(keepends=True)
        yield answer

    def extractive(self, question: str, conversation: Conversation, mode: Mode,
                   judge: EvidenceJudge | None = None) -> Answer:
        """The planned answer, composed from quoted sentences; `judge` replaces the default judge."""
        judge = judge or self.stages.judge
        started = time.perf_counter()
        resolved = condense.resolve(question, conversation, self.stages.papers())
        candidates = self.stages.retriever.retrieve(resolved.query, question, mode)
        if resolved.wants_other_paper:  # the new paper is found by this turn's own words, not the earlier titles
            own = self.stages.retriever.retrieve(question, question, mode)
            known = {h.paper.id for h in candidates.hits}
            candidates.hits += [h for h in own.hits if h.paper.id not in known]
        plan = self.plan(resolved, candidates)
        timings = {"retrieve_ms": round((time.perf_counter() - started) * 1000, 2)}
        if plan.unknown_names and not plan.named:
            judgement = Judgement([], "refused", reason=f"it names {', '.join(plan.unknown_names)}, which no paper "
                                  "in the collection mentions.")
            return self._answer(plan, candidates, judgement, "", timings)
        evidence = judge.weigh(plan, candidates)
        judgement = judge.decide(plan, evidence)
        timings["judge_ms"] = round((time.perf_counter() - started) * 1000 - timings["retrieve_ms"], 2)
        book = CitationBook()
        text = self.compose(plan, judgement, book)
        check = verify(text, book.sources)
        if not check.ok:  # cannot happen with verbatim quotes; guard the invariant all the same
            raise AssertionError("extractive answer failed citation verification: " + "; ".join(check.problems))
        return self._answer(plan, candidates, judgement, text, timings, book)

    def plan(self, resolved: Resolved, candidates: Candidates) -> Plan:
        question = resolved.question
        named = candidates.named
        intent, plural = planning.intent_of(question, len(named), resolved)
        names = self.stages.names()
        own_keys: set[str] = set()
        for pid in [*named, *resolved.referenced]:
            own_keys |= names.own_names(pid)
        papers = self.stages.papers()
        from assistant.text import name_key

        for pid in named:
            if pid in papers:
                own_keys.add(name_key(papers[pid].title.split(":", 1)[0]))
        for match in names.mentions(question):
            own_keys.add(match.key)
        return Plan(resolved, intent, named, planning.facets_of(question), planning.asked_for(question, own_keys),
                    plural, names.unknown_names(question), planning.compare_count(question, len(named)),
                    planning.topic_of(question))

    def compose(self, plan: Plan, judgement: Judgement, book: CitationBook) -> str:
        composer = self.stages.composer
        question = plan.question
        if judgement.status == "refused":
            return composer.refusal(judgement.reason, [e.paper for e in judgement.nearest])
        chosen = judgement.chosen
        if judgement.status == "partial":
            return composer.partial(question, chosen[0], judgement.missing, book)
        if plan.intent == "list":
            count = planning.is_count_question(question)
            intro = (f"{len(chosen)} paper(s) in the collection are about this:" if count else
                     f"{len(chosen)} paper(s) in the collection match:")
            return composer.listing(question, chosen, book, intro)
        if plan.intent == "topic_summary":
            intro = f"What the collection says, from {len(chosen)} matching paper(s), grouped by approach:"
            return composer.topic_summary(question, chosen, book, intro)
        if plan.intent == "compare" and len(chosen) >= 2:
            return composer.compare(question, chosen, book)
        if plan.intent == "summary":
            return composer.summary(question, chosen[0], book)
        return composer.lookup(question, chosen[0], book, plan.ask.number)

    def _answer(self, plan: Plan, candidates: Candidates, judgement: Judgement, text: str,
                timings: dict[str, float], book: CitationBook | None = None) -> Answer:
        if judgement.status == "refused" and not text:
            text = self.stages.composer.refusal(judgement.reason, [e.paper for e in judgement.nearest] or
                                                [h.paper for h in candidates.hits[:3]])
        focus = [e.paper.id for e in judgement.chosen] if judgement.status != "refused" else []
        kind = "refusal" if judgement.status == "refused" else plan.intent
        if kind == "compare" and len(focus) < 2:
            kind = "lookup"
        sources = book.sources if book else []
        return Answer(plan.question, text, kind, sources, ranked(candidates.hits, judgement.chosen),
                      judgement.status != "answered", plan.resolved.query, focus, list(judgement.notices), timings,
                      status=judgement.status, missing=list(judgement.missing))


def ranked(hits: list[PaperHit], chosen: list[Evidence]) -> list[RetrievedPaper]:
    """The papers the answer is about first, then the rest of the retrieval ranking."""
    first = [e.hit for e in chosen]
    ids = {h.paper.id for h in first}
    return [RetrievedPaper(h.paper.id, h.paper.title, round(h.score, 5)) for h in first + [h for h in hits
                                                                                         if h.paper.id not in ids]]

