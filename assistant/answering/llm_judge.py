"""The LLM judge: the model scores each candidate abstract against the question (as PaperQA2 does).

Used when an LLM generator answers. It starts from the default judge's evidence (the same
candidates, the same literal checks of what is asked) and lets the model's relevance scores decide
which paper a lookup is about and which papers a list keeps. Every score below `on_topic` refuses
when the default judge refuses too; when the default judge found a paper, the answer is partial
(the two disagree) and shows that paper. One call scores all candidates; any
failure (no endpoint, a timeout, an unreadable reply) leaves the default judge's decision, with
a notice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from assistant.answering.compose.llm import ChatGenerator, GeneratorError
from assistant.answering.compose.prompts import judge_messages
from assistant.answering.judge import TermDenseJudge
from assistant.answering.retrieve import Candidates
from assistant.answering.types import Evidence, Judgement, Plan
from assistant.settings import Settings

SCORE_LINE = re.compile(r"^\s*\[?(\d{1,2})\]?\s*[:=\-]\s*(\d{1,2}(?:\.\d+)?)\b", re.M)


@dataclass(frozen=True)
class LLMJudgeSettings:
    """From assistant.settings.Settings (llm_judge_*), where the defaults live."""

    candidates: int  # abstracts the model scores (each costs prompt tokens)
    answers: float  # of 10: the abstract states the answer
    on_topic: float  # of 10: below this a paper is not about the question at all

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMJudgeSettings:
        return cls(settings.llm_judge_candidates, settings.llm_judge_answers, settings.llm_judge_on_topic)


def parse_scores(reply: str, count: int) -> dict[int, float]:
    """`n: score` lines -> {n: score out of 10}; numbers outside 1..count and scores above 10 are ignored."""
    scores: dict[int, float] = {}
    for number, score in SCORE_LINE.findall(reply):
        n, value = int(number), float(score)
        if 1 <= n <= count and 0 <= value <= 10:
            scores.setdefault(n, value)
    return scores


class LLMJudge:
    """Relevance by the model; literal checks (a benchmark the abstract never names) by the default judge."""

    def __init__(self, base: TermDenseJudge, generator: Callable[[], ChatGenerator],
                 settings: LLMJudgeSettings) -> None:
        self.base = base
        self.generator = generator
        self.settings = settings

    def weigh(self, plan: Plan, candidates: Candidates) -> list[Evidence]:
        return self.base.weigh(plan, candidates)

    def decide(self, plan: Plan, evidence: list[Evidence]) -> Judgement:
        judgement = self.base.decide(plan, evidence)
        resolved = plan.resolved
        if plan.intent == "compare" or plan.named or resolved.referenced or (
                resolved.is_follow_up and not resolved.wants_other_paper):
            return judgement  # named papers, or the one discussed, are what the question is about
        scored = evidence[: self.settings.candidates]
        try:
            reply = self.generator().complete(judge_messages(plan.question, [e.paper for e in scored]))
        except GeneratorError as exc:
            judgement.notices.append(f"The LLM judge was not used ({exc}); papers were chosen without it.")
            return judgement
        scores = parse_scores(reply, len(scored))
        if len(scores) * 2 < len(scored):  # a score for one of six is no ranking
            judgement.notices.append(f"The LLM judge's reply held {len(scores) or 'no'} score(s) for {len(scored)} "
                                     "abstracts; papers were chosen without it.")
            return judgement
        rated = {id(e): scores.get(n, -1.0) for n, e in enumerate(scored, 1)}
        judgement.notices.append("Papers chosen by the LLM judge's relevance scores: " + ", ".join(
            f"[{n}] {scores[n]:g}" for n in sorted(scores)) + " (of 10).")
        if plan.intent in ("list", "topic_summary"):
            return self._list(plan, judgement, scored, rated)
        return self._one(plan, judgement, scored, rated)

    def _list(self, plan: Plan, judgement: Judgement, scored: list[Evidence], rated: dict[int, float]) -> Judgement:
        s = self.settings
        # Unscored candidates (beyond those the model saw) keep the default judge's verdict.
        keep = [e for e in judgement.chosen if rated.get(id(e), s.answers) >= s.on_topic]
        keep += [e for e in scored if rated[id(e)] >= s.answers and e not in keep]
        if not keep:
            return Judgement([], "refused", reason="the LLM judge found no abstract about what was asked.",
                             nearest=scored[:3], notices=judgement.notices)
        return Judgement([self.base.detail(plan, e) for e in keep], "answered", notices=judgement.notices)

    def _one(self, plan: Plan, judgement: Judgement, scored: list[Evidence], rated: dict[int, float]) -> Judgement:
        s = self.settings
        best = max(scored, key=lambda e: (rated[id(e)], e.relevance))
        if rated[id(best)] < s.on_topic and not plan.resolved.is_follow_up:
            if judgement.status == "refused" or not judgement.chosen:
                return Judgement([], "refused", reason="the LLM judge found no abstract about this question.",
                                 nearest=scored[:3], notices=judgement.notices)
            # The judges disagree: retrieval and the literal checks found the paper, the model rated no
            # abstract as being about the question. Neither is trusted alone (a small model misreads,
            # retrieval finds near misses): the paper is shown with what it says, as a partial answer.
            paper = judgement.chosen[0]
            judgement.notices.append(f"The LLM judge rated every abstract under {s.on_topic:g} of 10; the paper "
                                     "retrieval chose is shown as a partial answer.")
            return Judgement([paper], "partial", missing=["what was asked (by the LLM judge's reading)"],
                             notices=judgement.notices)
        # Whether the paper states the answer is left to the literal checks and to the writer, whose
        # "the sources do not say" stands: a small model's 5 of 10 is too noisy to call an answer partial.
        if self.base.detail(plan, best).missing:
            return Judgement([best], "partial", missing=list(best.missing), notices=judgement.notices)
        return Judgement([best], "answered", notices=judgement.notices)
