"""The role of an abstract's sentences in the paper (problem, method, result), for the composers.

Roles follow how abstracts are written: the problem comes first ("however", "challenge"), the
method is introduced by the authors ("we propose"), in the passive ("a gate is then introduced") or by
its parts ("consists of"), results carry numbers or comparisons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.text import has_figure

PROBLEM = re.compile(
    r"\b(however|challeng|problem|limitation|bottleneck|suffer|costly|expensive|inefficien|struggle|fail|"
    r"difficult|hinder|lack|redundan|overhead|issue|drawback|prohibitive|remain|critical)", re.I)
METHOD = re.compile(
    r"\b(we (propose|present|introduce|develop|design|build|adopt|construct|describe|leverage|use|employ|explore)|"
    r"this (paper|work) (propose|present|introduce)|in this (paper|work)|our (method|approach|framework|model)|"
    r"called|dubbed|named|consists? of|comprises?|composed of|"
    r"(is|are) (then |further |also |first )?(introduced|proposed|designed|developed))", re.I)
RESULT = re.compile(
    r"\b(outperform|achiev|improv|speed ?up|faster|reduc|state[- ]of[- ]the[- ]art|sota|surpass|"
    r"results? (show|demonstrat)|experiments? (show|demonstrat)|accuracy|gain|boost|match|competitive|up to|attain)",
    re.I)
MULTIPLIER = re.compile(r"\d(\.\d+)?\s*(%|x\b|×|times)")
# "Code is available at ..." says nothing about the paper's content.
BOILERPLATE = re.compile(
    r"https?://|github\.com|\b(code|models?|data(set)?s?|project page|implementation)\b[^.]{0,40}\b"
    r"(available|released|public)", re.I)

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
    quantified = has_figure(text) and (RESULT.search(text) or MULTIPLIER.search(text))
    if quantified or (RESULT.search(text) and index > 0):
        roles.add("result")
    if (index == 0 or PROBLEM.search(text)) and "method" not in roles:
        roles.add("problem")
    return roles


def best_for(role: Role, candidates: list[ScoredSentence]) -> ScoredSentence | None:
    """The sentence that best shows a role: a result by its numbers, a problem by saying what is
    wrong ("however", "bottleneck"), then the most relevant; earlier sentences win ties."""
    with_role = [s for s in candidates if role in s.roles]
    if not with_role:
        return None

    def strength(s: ScoredSentence) -> tuple[bool, float, int]:
        if role == "result":
            return has_figure(s.text), s.relevance, -s.index
        if role == "problem":
            return bool(PROBLEM.search(s.text)), s.relevance, -s.index
        return True, s.relevance, -s.index

    return max(with_role, key=strength)
