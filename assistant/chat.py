"""Chat memory: the turns of one conversation, and the papers each turn was about.

How a new turn relates to them (a follow-up, another paper, a comparison) is the condense
stage's business (assistant/answering/condense.py); this module only remembers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assistant.answer import Answer


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
