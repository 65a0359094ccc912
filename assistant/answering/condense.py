"""Condense: how a turn relates to the conversation, and the stand-alone query to retrieve with.

A follow-up points back by position ("the second one you mentioned"), by pronoun ("what does it
report?"), or asks for a new paper described in relation to the earlier ones ("is there another
paper that ..."). The earlier papers stay known, so "how do those two compare?" and "how does that
compare with X?" can set them side by side.
"""

from __future__ import annotations

import re

from assistant.answering.types import Resolved
from assistant.chat import Conversation
from assistant.store import StoredPaper
from assistant.text import QUESTION_BOILERPLATE, content_stems, paper_stems

REFERENCE = re.compile(
    r"\b(it|its|it's|they|them|their|this|that|these|those|the (paper|papers|model|method|approach|work|system|"
    r"study|two|three|latter|former|same|above|first|second|one)|above|former|latter)\b",
    re.I,
)
ANOTHER_PAPER = re.compile(
    r"\b(follow[- ]?ups?|later (paper|work)|another|other (paper|work|method)|different (paper|method)|"
    r"(is|are) there (also |even )?(a|an|any)|any (other )?(paper|work)|"
    r"an? (\w+ ){0,3}(paper|model|method|approach|work) that|"
    r"analogous|similar idea|(some|any)thing similar|similar (paper|work|method|approach)|"
    # "... that builds on it", "does anything extend this": not "what network does it build on?".
    r"(that|which) (builds? on|extends?|improves? (on|upon))|(builds? on|extends?|improves? (on|upon)) "
    r"(it|this|that|them|these|those)\b(?! (network|model|method|paper|work|architecture|approach)))\b",
    re.I,
)
CONTRAST = re.compile(r"\b(differ|differs|different from|compare|compares|comparison|contrast|versus|vs\.?)\b", re.I)
ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
            "fifth": 4, "5th": 4, "last": -1, "latter": -1, "former": 0}
# Not a compound: "the last-layer features", "second-order methods" point at no paper. "The third one you
# listed", "the second paper in your list": still the position, whatever says where it was listed.
POSITION = re.compile(r"\b(?:the\s+)?(" + "|".join(ORDINALS) + r")\b(?!-)(?:\s+(?:one|paper|work|method|result|item"
                      r"|entry|of (?:them|those|these)))?"
                      r"(?:\s+(?:(?:that\s+)?you\s+(?:just\s+)?(?:listed|mentioned|named|gave|showed|cited|found)"
                      r"|(?:in|on|from)\s+(?:the|that|this|your)\s+list|above))?", re.I)
# How a request for another paper says it relates to the earlier one, without saying what it is about.
SIMILARITY_WORDS = frozenset({"another", "other", "similar", "like", "analogous", "related", "same", "kind", "idea",
                              "something", "anything", "follow", "later", "builds", "extends", "improves"})
# The nouns a description of a paper is built on ("the streaming one", "the pruning paper"): they say
# nothing about which paper it is.
DESCRIPTION_NOUNS = frozenset({"paper", "study", "work", "one", "method", "approach", "model", "framework", "network",
                               "system", "technique", "survey", "benchmark"})
# "The second one, the intelligibility predictor: ...": what the position points at, described.
# A short noun phrase, not a clause: "the second one, the results on Urban100 are how good?" describes nothing.
APPOSITION = re.compile(r"\s*,\s*(?P<what>the(?:\s+(?!(?:is|are|was|were|does|do|did|how|what|which|has|"
                        r"have)\b)[\w/-]+){1,10})\s*(?=[:;,?.]|$)", re.I)
# A turn that carries on the conversation without naming what it is about ("what about memory?").
FOLLOW_ON = re.compile(r"^\s*(?:and|also|so|then|what about|how about|what happens|what if|same for)\b", re.I)
# Whole ANSI escape sequences (a question pasted from a colored terminal), other control characters,
# and lone surrogates (undecodable bytes in argv, a \ud800 escape in JSON), on which the tokenizer raises.
CONTROL_CHARS = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
# "The one where ...", "the one on stereo pairs", "the object-detection one": a paper pointed at by
# what it is about.
DESCRIBED = re.compile(r"\bthe one (?:on|about|where|that|which|with|for|using|in)\b"
                       r"|\bwhich (?:paper|work|study)\b(?! of\b)"
                       r"|\bthe (?!(?:first|second|third|fourth|fifth|last|same|other|former|latter)\b)"
                       r"[\w/-]+(?: [\w/-]+){0,2} one\b(?! of\b)", re.I)
# "Which one is faster?": a choice among the papers discussed, when there were several to choose from.
WHICH_ONE = re.compile(r"\bwhich one\b", re.I)
WHICH_OF = re.compile(r"\bwhich of (?:the|those|these|them|the two|both)\b", re.I)
BOTH = re.compile(r"\b(those|these|the) (two|three|papers|ones|methods|approaches)\b|\bboth\b", re.I)


def clean(question: str | None) -> str:
    return CONTROL_CHARS.sub(" ", question or "").strip()


def problem(question: str, max_chars: int, papers: int) -> str | None:
    """Why this question cannot be answered at all, for the user; None when it can."""
    if not question:
        return "Please type a question about the papers in the collection."
    if len(question) > max_chars:
        return f"The question is {len(question):,} characters long; the limit is {max_chars:,}. Please shorten it."
    if papers == 0:
        return "The collection is empty: run `paperchat ingest` first."
    return None


def earlier_papers(conversation: Conversation) -> list[list[str]]:
    """The papers each earlier turn was about, most recent turn first."""
    return [turn.answer.focus for turn in reversed(conversation.turns) if turn.answer.focus]


def fitting(description: str, ordered: list[str], papers: dict[str, StoredPaper], counted: str) -> str:
    """The paper of `ordered` a description fits: the one whose title and abstract hold the most of its
    words that not all of them hold. A user counts in their own order ("the second one, the
    intelligibility predictor" after a question that asked about it second): when the description fits
    another paper better than the counted one, it is the paper meant."""
    have = {pid: paper_stems(papers[pid]) for pid in ordered if pid in papers}
    if counted not in have or len(have) < 2:
        return counted
    wanted = set(content_stems(description, DESCRIPTION_NOUNS | QUESTION_BOILERPLATE))
    wanted -= frozenset.intersection(*have.values())
    held = {pid: len(wanted & stems) for pid, stems in have.items()}
    best = max(held, key=lambda pid: held[pid])
    return best if held[best] > held[counted] else counted


def resolve(question: str, conversation: Conversation, papers: dict[str, StoredPaper]) -> Resolved:
    history = earlier_papers(conversation)
    if not history:
        return Resolved(question, question)
    last = history[0]
    earlier = list(dict.fromkeys(pid for focus in history for pid in focus))
    referenced: list[str] = []
    # What a position counts over: the last answer's papers if it listed several ("the second one"),
    # else the papers of the turns so far, in the order they came ("the latter", "the former").
    ordered = last if len(last) > 1 else list(dict.fromkeys(focus[0] for focus in reversed(history)))
    if len(ordered) > 1:
        for position in POSITION.finditer(question):
            index = ORDINALS[position.group(1).lower()]
            if -len(ordered) <= index < len(ordered):
                pid = ordered[index]
                apposition = APPOSITION.match(question, position.end())
                if apposition:
                    pid = fitting(apposition.group("what"), ordered, papers, pid)
                if pid not in referenced:
                    referenced.append(pid)
    contrast = bool(CONTRAST.search(question) or WHICH_OF.search(question))
    other = bool(ANOTHER_PAPER.search(question)) and not referenced
    if not referenced and not other and BOTH.search(question) and contrast:
        # "How do those two compare?": the last answer's papers if it had several, else the last two turns'.
        earlier_two = last[:3] if len(last) > 1 else list(dict.fromkeys(f[0] for f in history))[:2]
        referenced = earlier_two if len(earlier_two) > 1 else []
    choice = bool(WHICH_ONE.search(question)) and len(ordered) > 1
    refers = bool(REFERENCE.search(question) or FOLLOW_ON.search(question)) or bool(referenced) or choice
    if not (refers or other):
        return Resolved(question, question, earlier=earlier)
    context = referenced or last
    # "Is there another paper that explains how adapters and prefix tuning relate?" describes the paper it
    # wants; the earlier paper's title would pull the search back to it and its neighbours.
    # "Is there another paper like it?" describes nothing, and is searched with the earlier title still.
    described_alone = other and len(set(content_stems(question, QUESTION_BOILERPLATE | SIMILARITY_WORDS))) >= 3
    titles = "" if described_alone else " ".join(papers[pid].title for pid in context if pid in papers)
    listed = last if len(last) > 1 and not referenced and not other else []
    return Resolved(question, f"{question} {titles}".strip(), is_follow_up=True, wants_other_paper=other,
                    earlier=earlier, referenced=referenced, compare_with_earlier=contrast, listed=listed,
                    described=bool(DESCRIBED.search(question)) and not referenced and not other)
