"""Conversation state and follow-up resolution for the extractive path.

A follow-up either asks more about the papers already discussed ("what AP does it reach?") or
asks for a different paper related to them ("is there a later paper that ..."). Both become a
stand-alone query: the earlier papers' names are added so retrieval can find them, or papers
that mention them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.answer import Answer

REFERENCE = re.compile(
    r"\b(it|its|it's|they|them|their|this|that|these|those|the (paper|papers|model|method|approach|work|system|"
    r"study|two|three|latter|former|same|above|first|second|one)|above|former|latter)\b",
    re.I,
)
ANOTHER_PAPER = re.compile(
    r"\b(follow[- ]?ups?|later (paper|work)|another|other (paper|work|method)|different (paper|method)|"
    r"(is|are) there (a|an|any)|any (other )?(paper|work)|a (\w+ ){0,3}(paper|model|method|approach|work) that|"
    r"builds? on|extends?|improves? (on|upon))\b",
    re.I,
)
CONTRAST = re.compile(r"\b(differ|compare|comparison|contrast|versus|vs\.?|than)\b", re.I)


@dataclass
class Turn:
    question: str
    answer: Answer


@dataclass
class Conversation:
    """The turns of one chat; `focus` is what 'it' refers to next."""

    turns: list[Turn] = field(default_factory=list)
    max_turns: int = 6

    def add(self, question: str, answer: Answer) -> None:
        self.turns.append(Turn(question, answer))
        del self.turns[: -self.max_turns or None]

    @property
    def focus(self) -> list[str]:
        for turn in reversed(self.turns):
            if turn.answer.focus:
                return turn.answer.focus
        return []

    def clear(self) -> None:
        self.turns.clear()


@dataclass
class FollowUp:
    """How a question relates to the conversation so far."""

    is_follow_up: bool
    wants_other_paper: bool
    earlier: list[str]  # paper ids of the earlier focus


def classify(question: str, conversation: Conversation) -> FollowUp:
    earlier = conversation.focus
    if not earlier:
        return FollowUp(False, False, [])
    refers = bool(REFERENCE.search(question))
    other = bool(ANOTHER_PAPER.search(question))
    return FollowUp(refers or other, other, earlier)
