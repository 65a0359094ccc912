"""Sentence splitting and sentence-aware chunking of abstracts.

Chunks are whole sentences packed up to a word budget, so a chunk never cuts a claim in half
and every sentence an answer quotes is one the index saw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.records import Paper

# Tokens ending in a period that do not end a sentence.
ABBREVIATIONS = {
    "e.g", "i.e", "etc", "et al", "al", "vs", "fig", "figs", "eq", "eqs", "sec", "no", "cf", "approx",
    "resp", "ref", "refs", "dr", "mr", "ms", "prof", "inc", "ltd", "st", "tab", "w.r.t", "a.k.a", "viz",
}
ENUMERATOR_AFTER_COLON = re.compile(r"[:;]\s+\(?\d{1,2}[.)]$")
# A sentence ends at . ! or ? before a capital, a digit or markup ("... by 75%. <script>..."): text
# glued to an injected tag or instruction is its own sentence, so dropping that one keeps this one.
SENTENCE_END = re.compile(r"[.!?](?:[\"')\]]*)(?:\s+(?=[\"'(\[]?[A-Z0-9$\\<])|(?=<[A-Za-z/!]))")


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences without breaking on abbreviations, decimals or initials."""
    sentences: list[str] = []
    start = 0
    for match in SENTENCE_END.finditer(text):
        end = match.start() + 1
        before = text[start:end]
        last_word = re.search(r"([A-Za-z][A-Za-z.]*)\.$", before)
        if last_word:
            word = last_word.group(1).lower().rstrip(".")
            if word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                continue
        sentence = text[start:match.end()].strip()
        if re.fullmatch(r"\(?\w{1,3}[.)]", sentence) or ENUMERATOR_AFTER_COLON.search(sentence):
            continue  # an enumerator such as "2." (or "are: 1.") belongs to the sentence it opens
        if sentence:
            sentences.append(sentence)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of one abstract: `first`..`last` are sentence indexes."""

    number: int
    text: str
    first: int
    last: int


def chunk_sentences(sentences: list[str], max_words: int) -> list[Chunk]:
    """Pack consecutive sentences into chunks of at most `max_words` words.

    A single sentence longer than the budget is split at word boundaries, so the embedding
    model never silently truncates it.
    """
    chunks: list[Chunk] = []
    words: list[str] = []
    first = 0

    def flush(last: int) -> None:
        nonlocal words
        if words:
            chunks.append(Chunk(len(chunks), " ".join(words), first, last))
            words = []

    for index, sentence in enumerate(sentences):
        sentence_words = sentence.split()
        if words and len(words) + len(sentence_words) > max_words:
            flush(index - 1)
        if not words:
            first = index
        while len(sentence_words) > max_words:
            words.extend(sentence_words[:max_words])
            sentence_words = sentence_words[max_words:]
            flush(index)
            first = index
        words.extend(sentence_words)
    flush(len(sentences) - 1)
    return chunks


def paper_chunks(paper: Paper, max_words: int) -> list[Chunk]:
    return chunk_sentences(split_sentences(paper.abstract), max_words)


def embedding_text(title: str, chunk_text: str) -> str:
    """What gets embedded: the chunk with its paper's title as context."""
    return f"{title}. {chunk_text}"
