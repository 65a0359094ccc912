"""Scoring an abstract's sentences against a question, and labelling their role in the paper.

Roles follow how abstracts are written: the problem comes first ("however", "challenge"), the
method is introduced by the authors ("we propose"), results carry numbers or comparisons.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from assistant.text import INSTRUCTION_LIKE, content_stems, has_number, name_key

PROBLEM = re.compile(
    r"\b(however|challeng|problem|limitation|bottleneck|suffer|costly|expensive|inefficien|struggle|fail|"
    r"difficult|hinder|lack|redundan|overhead|issue|drawback|prohibitive|remain|critical)", re.I)
METHOD = re.compile(
    r"\b(we (propose|present|introduce|develop|design|build|adopt|construct|describe|leverage|use|employ|explore)|"
    r"this (paper|work) (propose|present|introduce)|in this (paper|work)|our (method|approach|framework|model)|"
    r"is proposed|called|dubbed|named)", re.I)
RESULT = re.compile(
    r"\b(outperform|achiev|improv|speed ?up|faster|reduc|state[- ]of[- ]the[- ]art|sota|surpass|"
    r"results? (show|demonstrat)|experiments? (show|demonstrat)|accuracy|gain|boost|match|competitive|up to|attain)",
    re.I)
MULTIPLIER = re.compile(r"\d(\.\d+)?\s*(%|x\b|×|times)")
ASKS_NUMBERS = re.compile(
    r"\b(how (much|many|big|large|fast|close|well)|what (\w+ ){0,3}(accuracy|score|fid|ap|bleu|rmse|speed|speedup|"
    r"throughput|size|number|gain|improvement|results?)|numbers?|results?|report|reach|achieve|speedup|faster|"
    r"accuracy|performance|gains?|savings?|scale)\b", re.I)

# "Code is available at ..." says nothing about the paper's content.
BOILERPLATE = re.compile(
    r"https?://|github\.com|\b(code|models?|data(set)?s?|project page|implementation)\b[^.]{0,40}\b"
    r"(available|released|public)", re.I)
BOILERPLATE_PENALTY = 3.0

Role = str  # "problem" | "method" | "result"


@dataclass
class ScoredSentence:
    index: int
    text: str
    relevance: float
    roles: set[Role]


def roles_of(index: int, text: str) -> set[Role]:
    roles: set[Role] = set()
    if METHOD.search(text):
        roles.add("method")
    quantified = has_number(text) and (RESULT.search(text) or MULTIPLIER.search(text))
    if quantified or (RESULT.search(text) and index > 0):
        roles.add("result")
    if (index == 0 or PROBLEM.search(text)) and "method" not in roles:
        roles.add("problem")
    return roles


def score_sentences(sentences: list[str], question: str, idf: Callable[[str], float],
                    own_names: set[str] | frozenset[str] = frozenset()) -> list[ScoredSentence]:
    """IDF-weighted overlap with the question's content words, plus a bonus for asked-for numbers.

    A sentence that uses one of the paper's own names (`own_names`, canonical keys) is marked as
    a method sentence: it is where the abstract introduces what the paper calls its method."""
    wanted = set(content_stems(question))
    wants_numbers = bool(ASKS_NUMBERS.search(question))
    scored = []
    for index, text in enumerate(sentences):
        if INSTRUCTION_LIKE.search(text):
            continue  # text addressed to a model, planted in an abstract: data, never quoted as a claim
        stems = set(content_stems(text))
        relevance = sum(idf(s) for s in wanted & stems)
        if wants_numbers and has_number(text):
            relevance += 1.5
        if BOILERPLATE.search(text):
            relevance -= BOILERPLATE_PENALTY
        roles = roles_of(index, text)
        if own_names and own_names & {name_key(w) for w in text.split()}:
            roles.add("names")
        scored.append(ScoredSentence(index, text, relevance, roles))
    return scored


def best_for(role: Role, candidates: list[ScoredSentence]) -> ScoredSentence | None:
    """The sentence that best shows a role: a result by its numbers, a problem by saying what is
    wrong ("however", "bottleneck"), then the most relevant; earlier sentences win ties."""
    with_role = [s for s in candidates if role in s.roles]
    if not with_role:
        return None

    def strength(s: ScoredSentence) -> tuple[bool, float, int]:
        if role == "result":
            return has_number(s.text), s.relevance, -s.index
        if role == "problem":
            return bool(PROBLEM.search(s.text)), s.relevance, -s.index
        return True, s.relevance, -s.index

    return max(with_role, key=strength)


def pick(scored: list[ScoredSentence], limit: int, required_roles: tuple[Role, ...] = ()) -> list[ScoredSentence]:
    """The best sentence of each required role, then the most relevant others; in abstract order."""
    chosen: dict[int, ScoredSentence] = {}
    for role in required_roles:
        best = best_for(role, [s for s in scored if s.index not in chosen])
        if best is not None and len(chosen) < limit:
            chosen[best.index] = best
    for sentence in sorted(scored, key=lambda s: (-s.relevance, s.index)):
        if len(chosen) >= limit:
            break
        chosen.setdefault(sentence.index, sentence)
    return sorted(chosen.values(), key=lambda s: s.index)
