"""What kind of answer a question wants: one paper, a comparison, a list, or a summary."""

from __future__ import annotations

import re
from typing import Literal

Intent = Literal["lookup", "compare", "list", "summary", "topic_summary"]

LIST = re.compile(
    r"^\s*(?:(?:which|what)\s+(?:other\s+)?(?:papers|works|studies|articles|publications|methods|approaches)\b"
    r"|(?:list|find|show)\s+(?:me\s+)?(?:all\s+)?(?:the\s+)?(?:papers|works|studies)\b"
    r"|(?:are|is)\s+there\s+(?:any\s+)?(?:other\s+)?papers\b"
    r"|(?:papers|works|studies)\s+(?:that|which|about|on)\b)",
    re.I,
)
TOPIC_SUMMARY = re.compile(
    r"\b(?:summari[sz]e|overview of|survey)\b.*\b(?:collection|papers|literature|research|work|works|studies)\b"
    r"|\bwhat does the (?:collection|corpus) say about\b",
    re.I,
)
SUMMARY = re.compile(r"\b(?:summari[sz]e|summary of|tl;?dr|tell me about|overview of)\b", re.I)
COMPARE = re.compile(
    r"\b(?:compare|comparison|contrast|versus|vs\.?|differ|difference|differences|both|each|how do .+ and .+)\b",
    re.I,
)
COUNT_WORDS = {"two": 2, "both": 2, "three": 3, "2": 2, "3": 3}


def intent_of(question: str, named_papers: int) -> Intent:
    if TOPIC_SUMMARY.search(question):
        return "topic_summary"
    if LIST.search(question):
        return "list"
    if COMPARE.search(question) and (named_papers >= 2 or re.search(r"\b(two|three|both)\b", question, re.I)):
        return "compare"
    if SUMMARY.search(question):
        return "summary"
    return "lookup"


def compare_count(question: str, named_papers: int) -> int:
    if named_papers >= 2:
        return min(named_papers, 3)
    for word, count in COUNT_WORDS.items():
        if re.search(rf"\b{word}\b", question, re.I):
            return count
    return 2
