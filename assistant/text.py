"""Word-level text helpers shared by retrieval and answer composition: tokens, stems, names."""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.store import StoredPaper

TOKEN = re.compile(r"(?u)\b\w\w+\b")
# Question words that say how to answer, not what about; never used as evidence of a match.
QUESTION_BOILERPLATE = {
    "which", "what", "papers", "paper", "collection", "corpus", "work", "works", "study", "studies", "studied",
    "propose", "proposes", "proposed", "approach", "approaches", "method", "methods", "does", "do", "did", "how",
    "compare", "comparison", "compared", "each", "both", "two", "three", "summarize", "summary", "tell", "about",
    "describe", "explain", "list", "find", "show", "there", "any", "is", "are", "was", "were", "new", "specifically",
    "including", "report", "reports", "reported", "claim", "claims", "model", "models", "use", "uses", "used", "make",
    "them", "they", "their", "its", "it", "this", "that", "these", "those", "one", "differ", "difference",
    "differences", "between", "versus", "vs", "say", "says", "get", "gets", "reach", "reaches", "much", "many",
    "paper's", "papers'", "exactly", "according", "researchers", "authors", "someone",
}


# Sentences in an abstract that address the reader like a prompt; they are data, never orders,
# so they are left out of what the model sees and of what can support a claim.
INSTRUCTION_LIKE = re.compile(
    r"\b(ignore|disregard|forget)\b[^.]{0,40}\b(previous|prior|above|all|any)\b[^.]{0,20}\b(instructions?|prompts?|rules)"
    r"|\b(system prompt|you are now|as an ai|reply only|respond only|output only|say only)\b",
    re.I,
)


@cache
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@cache
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


# The commonest English function words: a question in English is full of them ("what", "does", "the",
# "of"), one in German, French or Chinese holds almost none, whatever its technical terms.
_FUNCTION_WORDS = """
a an the of to in on for with from by at as and or but not no is are was were be been being do does did
have has had can could should would will may might must what which who whom whose how why when where whether
this that these those it its they them their there here i me my we our you your he she his her than then so if
about into over under between any some all each both more most such only also very just"""
ENGLISH_FUNCTION_WORDS = frozenset(_FUNCTION_WORDS.split())


def english_share(text: str) -> float:
    """The share of the text's words that are English function words (0 for a text with no words)."""
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.lower())
    return sum(word in ENGLISH_FUNCTION_WORDS for word in words) / len(words) if words else 0.0


def fold(text: str) -> str:
    """Lowercase, NFKC, LaTeX markup dropped: `$\\textit{Trans-LoRA}$` -> `trans-lora`."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"\\[a-zA-Z]+\s*", "", text)
    return text.replace("$", "").replace("{", "").replace("}", "").lower()


def tokens(text: str) -> list[str]:
    return TOKEN.findall(fold(text))


def content_stems(text: str, drop: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Stems of the words that carry meaning: no stopwords, no question boilerplate."""
    stop = _stopwords()
    words = [w for w in tokens(text) if w not in stop and w not in drop]
    return _stemmer().stemWords(words)


def stem_set(text: str) -> set[str]:
    return set(content_stems(text))


@lru_cache(maxsize=20_000)
def sentence_stems(text: str) -> frozenset[str]:
    """content_stems of an abstract sentence, remembered: every question re-reads the same abstracts."""
    return frozenset(content_stems(text))


@lru_cache(maxsize=4096)
def _text_stems(text: str) -> frozenset[str]:
    return frozenset(content_stems(text))


def paper_stems(paper: StoredPaper) -> frozenset[str]:
    """The content stems of a paper's title and abstract, remembered for the papers questions keep meeting."""
    return _text_stems(f"{paper.title} {paper.abstract}")


# Clipped words a question may use for the abstracts' full ones ("how many params": "parameters").
CLIPPED = {"params": "parameters", "param": "parameter", "hparams": "hyperparameters", "imgs": "images",
           "iters": "iterations", "seqs": "sequences", "dims": "dimensions", "feats": "features",
           "exps": "experiments", "docs": "documents", "gens": "generations", "toks": "tokens"}


def expanded(text: str) -> str:
    """The text with clipped words written out ("params" -> "parameters")."""
    return re.sub(r"[A-Za-z]+", lambda m: CLIPPED.get(m.group(0).lower(), m.group(0)), text)


def name_key(text: str) -> str:
    """Canonical form of a paper or method name: `ZeRO++` -> `zero++`, `Trans-LoRA` -> `translora`."""
    return re.sub(r"[^0-9a-z+]", "", fold(text))


# A figure: a number standing on its own or with a unit ("83.5%", "1.71x", "12 hours", "300M"), or a
# spelled-out count ("eighteen models", "fifteen times"); digits inside names ("ResNet-50",
# "NAS-Bench-201", "GPT-4V") are not figures, nor are hyphenated compounds ("two-stage",
# "half-precision"). "one" is left out: "one of the" counts nothing.
FIGURE = re.compile(
    r"(?<![\w.-])\d+(?:[.,]\d+)*(?:\s*(?:%|\\%|x\b|×|times|fold|[kmbt]\b|[KMBT]\b))?(?![\w-])"
    r"|\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|(?:thir|four|fif|six|seven|eigh|nine)teen|"
    r"(?:twen|thir|for|fif|six|seven|eigh|nine)ty|hundreds?|thousands?|millions?|billions?|trillions?|dozens?|"
    r"twice|half|double|triple|orders? of magnitude)\b(?!-)", re.I)


def has_figure(text: str) -> bool:
    return bool(FIGURE.search(text))
