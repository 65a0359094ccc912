"""Names of papers and methods: which paper a question names, and which names the collection lacks.

A paper is known by its title, the short name before a colon ("ZeRO++", "FuseMax"), name-like
tokens in its title ("YOLOv10", "GLM-130B") and names its abstract coins ("... (CoTTA)",
"we propose PETAL"). Matching is on a canonical key, so LaTeX, case and hyphens do not matter.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from assistant.text import fold, name_key

WORD = re.compile(r"[A-Za-z0-9$\\][\w$\\{}+\-./']*[\w+}$]|[A-Za-z0-9]")
COINED_IN_PARENS = re.compile(r"\(([A-Za-z][\w+\-.]{1,30})\)")
COINED_BY_VERB = re.compile(
    r"\b(?:propose|present|introduce|develop|call|name|dub|term|coin)(?:s|d|ed)?\b[^.;:]{0,80}?"
    r"\b([A-Z][\w+\-]*[A-Z0-9+][\w+\-]*|[a-z]+[A-Z][\w+\-]*)"
)
VERSIONED_PHRASE = re.compile(r"\b((?:[A-Z][\w\-]*\s){1,3}v?\d+(?:\.\d+)?[A-Za-z]?)\b")
CAPITALIZED_RUN = re.compile(r"\b([A-Z][\w\-+]*(?:\s+[A-Z][\w\-+]*){1,4})")
MAX_OWNERS = 2
GENERIC_NAMES = {"ai", "ml", "dl", "nlp", "cv", "llm", "llms", "gpu", "gpus", "cpu", "sota", "api", "i", "ii", "iii"}


def is_name_like(word: str) -> bool:
    """Looks coined rather than dictionary: inner capitals, digits with letters, or '+'."""
    core = word.strip("$\\{}()[],.;:'\"").removesuffix("'s")
    if len(core) < 2 or not core[0].isalnum():
        return False
    has_alpha = any(c.isalpha() for c in core)
    inner_upper = any(c.isupper() for c in core[1:])
    has_digit = any(c.isdigit() for c in core)
    return has_alpha and (inner_upper or has_digit or "+" in core)


def name_words(text: str) -> list[str]:
    return [w.removesuffix("'s") for w in WORD.findall(text) if is_name_like(w)]


@dataclass
class NameMatch:
    key: str
    paper_ids: list[str]


class NameIndex:
    """key -> {paper id: strength}; strength 3 = in the title, 2 = coined with a verb, 1 = in parentheses."""

    def __init__(self, papers: Iterable[object]) -> None:
        self.names: dict[str, dict[str, int]] = defaultdict(dict)
        self.vocabulary: set[str] = set()
        self._folded: list[str] = []
        for paper in papers:
            title, abstract, pid = paper.title, paper.abstract, paper.id  # type: ignore[attr-defined]
            self._add(name_key(title), pid, 3)
            if ":" in title:
                self._add(name_key(title.split(":", 1)[0]), pid, 3)
            words = title.split()
            for n in range(2, min(5, len(words))):
                self._add(name_key(" ".join(words[:n])), pid, 2 if words[n - 1][:1].isupper() else 0)
            for word in name_words(title):
                self._add(name_key(word), pid, 3)
                for part in re.split(r"[-/]", word):
                    if is_name_like(part):
                        self._add(name_key(part), pid, 1)
            for match in COINED_BY_VERB.finditer(abstract):
                self._add(name_key(match.group(1)), pid, 2)
            for match in COINED_IN_PARENS.finditer(abstract):
                self._add(name_key(match.group(1)), pid, 1)
            text = f"{title} {abstract}"
            for word in WORD.findall(text):
                key = name_key(word.removesuffix("'s"))
                self.vocabulary.add(key)
                for part in re.split(r"[-/]", word):
                    self.vocabulary.add(name_key(part))
            self._folded.append(_phrase_text(text))
        self._corpus_text = "\n".join(self._folded)

    def _add(self, key: str, pid: str, strength: int) -> None:
        if len(key) < 2 or key in GENERIC_NAMES or strength <= 0:
            return
        self.names[key][pid] = max(strength, self.names[key].get(pid, 0))

    def mentions(self, question: str) -> list[NameMatch]:
        """Papers the question names, strongest sense first, in the order the names appear."""
        candidates = name_words(question) + [m.group(1) for m in CAPITALIZED_RUN.finditer(question)]
        seen: set[str] = set()
        found: list[NameMatch] = []
        for candidate in candidates:
            key = name_key(candidate)
            if key in seen or key not in self.names:
                continue
            seen.add(key)
            owners = self.names[key]
            best = max(owners.values())
            strongest = [pid for pid, s in owners.items() if s == best]
            if len(strongest) > MAX_OWNERS:
                continue  # a family name many papers use ("LoRA", "ViT"), not one paper's name
            found.append(NameMatch(key, strongest))
        # A name inside a longer matched name ("ZeRO" inside "ZeRO++") is not a separate mention.
        keys = [m.key for m in found]
        return [m for m in found if not any(m.key != k and m.key in k and k.startswith(m.key) and
                                            k[len(m.key):].strip("+") == "" for k in keys)]

    def unknown_names(self, question: str) -> list[str]:
        """Specific names in the question that appear nowhere in the collection ("FlashAttention-3")."""
        missing: list[str] = []
        for word in name_words(question):
            if name_key(word) not in self.vocabulary:
                missing.append(word)
        for match in VERSIONED_PHRASE.finditer(question):
            phrase = match.group(1)
            if not any(w[:1].isupper() for w in phrase.split()[:-1]):
                continue
            pattern = r"\b" + r"\s*".join(re.escape(t) for t in _phrase_text(phrase).split()) + r"\b"
            if not re.search(pattern, self._corpus_text):
                missing.append(phrase)
        return missing


def _phrase_text(text: str) -> str:
    """Lowercase words separated by single spaces; hyphens dropped so 'Llama-3' == 'Llama 3'."""
    text = fold(text).replace("-", " ")
    return re.sub(r"[^0-9a-z+]+", " ", text)
