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
from assistant.answering.types import Evidence, Judgement, Plan
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
    # How many retrieved papers an Answer reports (settings.papers_top_k): the judge weighs a larger
    # candidate pool, but every channel sends `retrieved` on, and the pool would be most of the payload.
    reported: int


class AnsweringPipeline:
    def __init__(self, stages: Stages) -> None:
        self.stages = stages

    def stream(self, question: str, conversation: Conversation, mode: Mode,
               generator: str) -> Iterator[str | Answer]:
        """The answer text in pieces, then the final Answer (extractive first; an LLM rewrites it if chosen)."""
        judge = self.stages.llm_judge(generator) if generator != "extractive" else None
        answer = self.extractive(question, conversation, mode, judge)
        if generator != "extractive" and answer.status == "answered":
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
        candidates = self.stages.retriever.for_turn(resolved, mode)
        plan = planning.make_plan(resolved, candidates, self.stages.names(), self.stages.papers())
        timings = {"retrieve_ms": round((time.perf_counter() - started) * 1000, 2)}
        evidence = judge.weigh(plan, candidates)
        judgement = judge.decide(plan, evidence)
        timings["judge_ms"] = round((time.perf_counter() - started) * 1000 - timings["retrieve_ms"], 2)
        book = CitationBook()
        text = self.stages.composer.answer(plan, judgement, book)
        check = verify(text, book.sources)
        if not check.ok:  # cannot happen with verbatim quotes; guard the invariant all the same
            raise AssertionError("extractive answer failed citation verification: " + "; ".join(check.problems))
        return self._answer(plan, candidates, judgement, text, timings, book)

    def _answer(self, plan: Plan, candidates: Candidates, judgement: Judgement, text: str,
                timings: dict[str, float], book: CitationBook) -> Answer:
        focus = [e.paper.id for e in judgement.chosen] if judgement.status != "refused" else []
        kind = "refusal" if judgement.status == "refused" else plan.intent
        if kind == "compare" and len(focus) < 2:
            kind = "lookup"
        return Answer(plan.question, text, kind, book.sources,
                      ranked(candidates.hits, judgement.chosen, self.stages.reported),
                      judgement.status != "answered", plan.resolved.query, focus, list(judgement.notices), timings,
                      status=judgement.status, missing=list(judgement.missing))


def ranked(hits: list[PaperHit], chosen: list[Evidence], top_k: int) -> list[RetrievedPaper]:
    """The papers the answer is about first, then the rest of the retrieval ranking, `top_k` in all
    (or every chosen paper, when a list holds more)."""
    first = [e.hit for e in chosen]
    ids = {h.paper.id for h in first}
    rest = [h for h in hits if h.paper.id not in ids]
    return [RetrievedPaper(h.paper.id, h.paper.title, round(h.score, 5))
            for h in (first + rest)[: max(top_k, len(first))]]

