"""Names of papers and methods: which paper a question names, and which names the collection lacks.

A paper is known by its title, the short name before a colon ("ZeRO++", "FuseMax"), name-like
tokens in its title ("YOLOv10", "GLM-130B") and names its abstract coins ("... (CoTTA)",
"we propose PETAL"). Matching is on a canonical key, so LaTeX, case and hyphens do not matter.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from assistant.text import ENGLISH_FUNCTION_WORDS, fold, name_key

WORD = re.compile(r"[A-Za-z0-9$\\][\w$\\{}+\-./'^]*[\w+}$]|[A-Za-z0-9]")
COINED_IN_PARENS = re.compile(r"\(([A-Za-z][\w+\-.^]{1,30})\)")
NAME_WORD = r"([A-Z][\w+\-^]*[A-Z0-9+][\w+\-^]*|[a-z]+[A-Z][\w+\-]*)"
COINED_BY_VERB = re.compile(
    r"\b(?:propose|present|introduce|develop|call|name|dubbed|dub|term|coin)(?:s|d|ed)?\b[^.;:]{0,80}?\b" + NAME_WORD
)
# "we incorporate A-YOLOM, ...", "Our final model S4D is ...", "our score - VSDR - improves ...": the name
# right after, not what the sentence uses or compares with later ("we design experiments with GPT-4",
# "our best model outperforms ViT").
COINED_AS_OURS = re.compile(r"(?:\b(?:incorporate|devise|design)(?:s|d|ed)?\s+(?:an?\s+|the\s+)?"
                            r"|\b[Oo]ur (?:\w+ ){0,2}(?:model|method|score|approach|framework|algorithm|system|"
                            r"network|metric)s?(?:\s*[,:]|\s+-)?\s+)" + NAME_WORD + r"(?![\w+\-^])")
# The words that name what follows them outright: "a method termed as SSF", "dubbed KAN", "called FOO".
# Only after what a paper builds ("a method termed as", "(dubbed"): "the so-called NTK regime" and "the
# metric named FID" name the field's terms, not the paper's own.
NAMED_AS = re.compile(r"(?:\(|\b(?:method|approach|model|framework|algorithm|network|system|technique|architecture|"
                      r"module|scheme|strategy|pipeline|paradigm|loss|benchmark|dataset|tool|library)s?,?)\s*"
                      r"(?:called|named|dubbed|termed|coined)(?:\s+as)?\s+(?:the\s+)?$")
# "Llama 3", "GPT 4o"; not a question word before a number ("Is 4-bit ...") nor a number in a compound.
VERSIONED_PHRASE = re.compile(r"(?<![+\w-])"  # not "D 120" of "RGB+D 120"
                              r"((?!(?:Is|Are|Was|Were|Does|Do|Did|Can|Could|How|What|Which|Why|When|Where|Who)\s)"
                              r"(?:[A-Z][\w\-]*\s){1,3}v?\d+(?:\.\d+)?[A-Za-z]?)\b(?!-)")
CAPITALIZED_RUN = re.compile(r"\b([A-Z][\w\-+]*(?:\s+[A-Z][\w\-+]*){1,4})")
MAX_OWNERS = 2
QUOTED = re.compile(r"(?<!\w)['\"‘“]([^'\"’”]{3,80})['\"’”](?!\w)")  # a phrase a question puts in quotes
# A quoted phrase names a paper when its title holds it and it is this long (as a name key): shorter
# quotes ("'mix'") are words many titles hold.
MIN_QUOTED_TITLE = 8
MAX_USERS = 3  # papers that may use a coined name before it counts as a term of the field
TITLE_METHOD = re.compile(r"\b(?:via|with|using|through)\s+((?:[A-Z][\w\-+]*\s?){1,4})")
# A name that reads as no English word once lowercased: a digit or a "+" ("YOLOv10", "NeRV++"), or
# two capitals in a row inside a longer name ("EchoASR", "StreamCTC"). Not "ReAct", "SoLo" or "ReST".
NAME_SHAPED = re.compile(r"\d|\+|(?=\w{5,})\w*[a-z]\w*[A-Z]{2}|(?=\w{5,})[A-Z]{2}\w*[a-z]")
VERSION = 8  # of how names are found; a saved index of another version is rebuilt
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


def is_distinctive(word: str) -> bool:
    """A coined name that ordinary prose would not contain: "FlashAttention-3", "H100", "AlphaFold2".

    Judged per hyphen part: a part that starts with a letter and mixes in digits, or has a
    lower-to-upper case change. All-caps acronyms ("IO", "SAR") and compounds of plain words
    ("English-Chinese") are not distinctive.
    """
    core = word.strip("$\\{}()[],.;:'\"").removesuffix("'s")
    for part in re.split(r"[-/]", core):
        if len(part) < 2 or not part[0].isalpha():
            continue
        if any(c.isdigit() for c in part) or re.search(r"[a-z][A-Z]", part):
            return True
    return False


def spells_initials(acronym: str, before: str) -> bool:
    """Is `acronym` spelled by the initials of the words just before it ("Sparse Fine-Tuning (SFT)")?

    Its letters must appear in order among those initials, the last letter on the last word.
    """
    letters = [c.lower() for c in acronym if c.isalpha()]
    parts = [p for p in re.split(r"[\s\-]+", before.rstrip()[-120:]) if p and p[0].isalpha()]
    initials = "".join(p[0].lower() for p in parts[-2 * len(letters):])
    if len(letters) < 2 or not initials or initials[-1] != letters[-1]:
        return False
    remaining = iter(initials)
    return all(letter in remaining for letter in letters)


def definition(acronym: str, before: str) -> str:
    """The words just before "(ACRONYM)" that write it out ("... of deep reinforcement learning" -> "reinforcement
    learning"): the fewest last words that spell it (`abbreviated`), or "" when none do."""
    words = before.rstrip()[-200:].split()
    for count in range(1, min(len(words), 2 * len(acronym)) + 1):
        phrase = " ".join(words[-count:])
        if abbreviated(acronym, phrase):
            return phrase.strip(" \"'([{").lower()
    return ""


def spelled_out(acronym: str, text: str) -> bool:
    """Does `text` spell `acronym` out in capitalized words ("Mean Reciprocal Rank" for MRR)? Lowercase
    runs ("more robust retrieval") are ordinary words that happen to share the initials."""
    letters = "".join(c.lower() for c in acronym if c.isalpha())
    words = [w for w in re.split(r"[\s\-/]+", text) if w[:1].isalpha()]
    initials = "".join(w[0].lower() for w in words)
    return len(letters) >= 2 and any(initials[i:i + len(letters)] == letters and all(
        w[:1].isupper() for w in words[i:i + len(letters)]) for i in range(len(initials)))


ACRONYM = re.compile(r"[A-Z]{2,6}s?")
CAMEL_WORDS = re.compile(r"(?:[A-Z][a-z]+){2,}")  # "BatchNorm" is two words; "EchoASR" is a name
WRITTEN_WORD = re.compile(r"[A-Za-z][\w'-]*")
Word = tuple[frozenset[str], str]  # the initials a word can give an acronym, and their first letters


def _letters_of(token: str) -> frozenset[str]:
    """The initials a written word can give an acronym: one letter, or one per part of a compound
    ("signal-to-noise": "sn" or "stn"; "BatchNorm": "bn")."""
    parts = (CAMEL_WORDS.fullmatch(token) and re.findall(r"[A-Z][a-z]+", token)) or token.split("-")
    parts = [part for part in parts if part[:1].isalpha()]
    content = "".join(part[0].lower() for part in parts if part.lower() not in ENGLISH_FUNCTION_WORDS)
    return frozenset({token[0].lower(), "".join(part[0].lower() for part in parts), content} - {""})


def abbreviated(acronym: str, text: str) -> bool:
    """Does `text` write out the all-caps `acronym` in adjacent words of any case, within one clause:
    "TTA" as "test-time adaptation", "WD" as "weight decay", "BN" as "BatchNorm", "SNR" as
    "signal-to-noise ratio"? A function word standing alone, a number or punctuation ends the run, so
    "converges in 12 epochs and reaches" spells no CER."""
    if not ACRONYM.fullmatch(acronym):
        return False
    letters = acronym.removesuffix("s").lower()
    return any(_spells(letters, run[start:]) for run in _word_runs(text) for start in range(len(run))
               if letters[0] in run[start][1])


@lru_cache(maxsize=8192)
def _word_runs(text: str) -> tuple[tuple[Word, ...], ...]:
    """The text's runs of adjacent written words: split once per text, since the judge asks about the
    same abstracts again and again."""
    runs: list[tuple[Word, ...]] = []
    for clause in re.split(r"[^\w\s'-]+", text):
        run: list[Word] = []
        for token in clause.split():
            word = _word(token.strip("'-"))
            if word is not None:
                run.append(word)
            elif run:
                runs.append(tuple(run))
                run = []
        if run:
            runs.append(tuple(run))
    return tuple(runs)


@lru_cache(maxsize=65536)
def _word(token: str) -> Word | None:
    """A written word's initials (`_letters_of`); None for what ends a run (a function word, a number)."""
    if not WRITTEN_WORD.fullmatch(token) or token.lower() in ENGLISH_FUNCTION_WORDS:
        return None
    options = _letters_of(token)
    return options, "".join(sorted({option[0] for option in options}))


def _spells(letters: str, words: tuple[Word, ...]) -> bool:
    """Do the first words, each giving one of its initials, spell exactly `letters`?"""
    if not letters:
        return True
    return bool(words) and any(letters.startswith(option) and _spells(letters[len(option):], words[1:])
                               for option in words[0][0])


def has_content_words(words: list[str]) -> bool:
    """Two words that carry meaning (a hyphenated compound counts as two): a title phrase specific enough
    to name its paper when a question writes it in lowercase."""
    from assistant.text import QUESTION_BOILERPLATE, content_stems

    return len(content_stems(" ".join(words).replace("-", " "), QUESTION_BOILERPLATE)) >= 2


def _coined(word: str, pid: str, strength: int, defined: bool) -> list[tuple[str, str, int, str]]:
    """Index entries for a name an abstract coins; a defined acronym is a name whatever its length,
    and a plural acronym ("SNNKs") is also known by its singular."""
    spelled = "" if defined else word  # `_add` drops short undefined acronyms: mostly metrics (FID, AP)
    entries = [(name_key(word), pid, strength, spelled)]
    if re.fullmatch(r"[A-Z]{2,}s", word):
        entries.append((name_key(word[:-1]), pid, strength, spelled[:-1]))
    return entries


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
        self.short_names: set[str] = set()  # keys of title short names, which may be plain words ("Adan")
        self._own: dict[str, set[str]] = {}  # paper id -> keys of the names it coins (not its whole title)
        self._title_keys: dict[str, str] = {}
        self.title_phrases: set[str] = set()  # keys of title phrases a question may write in lowercase
        self.vocabulary: set[str] = set()
        # Keys of title names no other paper's title or abstract uses, written as no English word is
        # ("EchoASR", "YOLOv10"; not "Power", "MAXIM" or "VAR"): typed in lowercase ("compare echoasr
        # and streamctc") they still name their paper.
        self.lowercase_names: set[str] = set()
        # What the collection's abstracts define their acronyms as: "deep reinforcement learning (RL)"
        # -> RL: {"reinforcement learning"}; a question's "RL" means those words, not any words whose
        # initials happen to spell it ("substantial redundancy" for SR).
        self.expansions: dict[str, set[str]] = defaultdict(set)
        folded: list[str] = []
        distinct_words: set[str] = set()
        used_by: Counter[str] = Counter()  # word key -> papers whose title or abstract uses it
        coined: list[tuple[str, str, int, str]] = []  # (key, paper id, strength, word): kept if specific
        for paper in papers:
            title, abstract, pid = paper.title, paper.abstract, paper.id  # type: ignore[attr-defined]
            self._title_keys[pid] = name_key(title)
            self._add(name_key(title), pid, 3)
            head = title.split(":", 1)[0] if ":" in title else ""
            if head:
                # The short name before a colon is the paper's own name ("ZeRO++", "AdaBelief Optimizer").
                self._add(name_key(head), pid, 3)
                self.short_names.add(name_key(head))
                coined += [(name_key(word), pid, 3, word) for word in name_words(head)]
            words = title.split()
            for n in range(2, min(5, len(words))):
                if words[n - 1][:1].isupper():
                    self._add(name_key(" ".join(words[:n])), pid, 2)
                    if has_content_words(words[:n]):  # not "How Does" or "A Lightweight", which questions say
                        self.title_phrases.add(name_key(" ".join(words[:n])))
            # A method named after "via"/"with"/"using" in a title ("... via Task Hinting").
            for match in TITLE_METHOD.finditer(title):
                coined.append((name_key(match.group(1)), pid, 2, ""))
                self.title_phrases.add(name_key(match.group(1)))
            for match in [*COINED_BY_VERB.finditer(abstract), *COINED_AS_OURS.finditer(abstract)]:
                # "we propose MHR (Multi-Head Routing)": an acronym spelled out right after it is defined;
                # so is one the abstract names outright ("a method termed as SSF", "dubbed KAN").
                after = re.match(r"\s*\(([^)]{3,80})\)", abstract[match.end(1):])
                defined = ((bool(after) and spells_initials(match.group(1), after.group(1)))  # type: ignore[union-attr]
                           or bool(NAMED_AS.search(abstract[max(0, match.start(1) - 40):match.start(1)])))
                coined += _coined(match.group(1), pid, 2, defined)
            for match in COINED_IN_PARENS.finditer(abstract):
                acronym = match.group(1)
                defined = spells_initials(acronym, abstract[: match.start()])
                coined += _coined(acronym, pid, 2 if defined else 1, defined)
                if defined and (phrase := definition(acronym, abstract[: match.start()])):
                    self.expansions[acronym.removesuffix("s")].add(phrase)
            text = f"{title} {abstract}"
            paper_words = set(WORD.findall(text))
            distinct_words.update(paper_words)
            used_by.update({name_key(w.removesuffix("'s")) for w in paper_words})
            folded.append(phrase_text(text))
        # A coined name many papers use ("top-1", "mAP", "CLIP", "GPT") is a term of the field, not
        # one paper's name; the whole title and its head before a colon always are.
        for key, pid, strength, word in coined:
            if used_by[key] <= MAX_USERS:
                self._add(key, pid, strength, word)
            if strength == 3 and used_by[key] == 1 and NAME_SHAPED.search(word):
                self.lowercase_names.add(key)
        # Keys of distinct words only: a 100k-paper collection has ~20M words but few distinct ones.
        for word in distinct_words:
            self.vocabulary.add(name_key(word.removesuffix("'s")))
            self.vocabulary.update(name_key(part) for part in re.split(r"[-/]", word))
        self._corpus_text = "\n".join(folded)  # searched for names a question uses

    def to_state(self) -> dict[str, Any]:
        # Sets sorted: the same collection always gives the same file.
        return {"names": self.names, "short_names": sorted(self.short_names),
                "title_phrases": sorted(self.title_phrases),
                "own": {pid: sorted(keys) for pid, keys in self._own.items()}, "title_keys": self._title_keys,
                "vocabulary": sorted(self.vocabulary), "corpus_text": self._corpus_text,
                "lowercase_names": sorted(self.lowercase_names),
                "expansions": {acronym: sorted(phrases) for acronym, phrases in sorted(self.expansions.items())}}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> NameIndex:
        index = cls.__new__(cls)
        index.names = defaultdict(dict, state["names"])
        index.short_names = set(state["short_names"])
        index.title_phrases = set(state["title_phrases"])
        index._own = {pid: set(keys) for pid, keys in state["own"].items()}
        index._title_keys = state["title_keys"]
        index.vocabulary = set(state["vocabulary"])
        index.lowercase_names = set(state["lowercase_names"])
        index._corpus_text = state["corpus_text"]
        index.expansions = defaultdict(set, {acronym: set(phrases) for acronym, phrases in state["expansions"].items()})
        return index

    def expansions_of(self, acronym: str) -> set[str]:
        """What the collection defines an all-caps acronym as ("RL", "LLMs": "large language models")."""
        return self.expansions.get(acronym.removesuffix("s"), set())

    def save(self, path: Path, generation: int) -> None:
        """One file: a first line with the catalog generation it was built from, then the index.

        Written under a per-process name and renamed over the old file, so readers see the old index or
        the new one, whole, with no lock.
        """
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        try:
            with partial.open("w", encoding="utf-8") as handle:
                handle.write(json.dumps({"generation": generation, "version": VERSION}) + "\n")
                json.dump(self.to_state(), handle, ensure_ascii=False)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)

    @staticmethod
    def saved_generation(path: Path) -> int | None:
        """The catalog generation the saved index was built from (its first line only), None if unreadable."""
        try:
            with path.open(encoding="utf-8") as handle:
                return _read_stamp(handle)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @classmethod
    def load(cls, path: Path, generation: int) -> NameIndex | None:
        """The saved index if it was built from this catalog generation; None if stale, missing or damaged."""
        try:
            with path.open(encoding="utf-8") as handle:
                if _read_stamp(handle) != generation:
                    return None
                return cls.from_state(json.load(handle))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def _add(self, key: str, pid: str, strength: int, word: str = "") -> None:
        if len(key) < 2 or key in GENERIC_NAMES or strength <= 0:
            return
        if strength < 3 and len(word) <= 3 and word.isupper():
            return  # short acronyms met in an abstract are mostly metrics or tasks (FID, AP, NMS)
        self.names[key][pid] = max(strength, self.names[key].get(pid, 0))
        if strength < 3 or key != self._title_keys.get(pid):
            self._own.setdefault(pid, set()).add(key)

    def own_names(self, paper_id: str) -> set[str]:
        """Keys of the names a paper coins or goes by ("fedau", "zero++"), for spotting the sentence
        that introduces its method."""
        return self._own.get(paper_id, set())

    def covers_key(self, paper_id: str, text: str, question: str) -> bool:
        """Does `text` use a name of `paper_id` that the question uses ("MobileNet-v2" in a DASS abstract)?"""
        keys = {name_key(w) for w in WORD.findall(text)}
        return any(m.key in keys for m in self.mentions(question) if paper_id in m.paper_ids)

    def mentions(self, question: str) -> list[NameMatch]:
        """Papers the question names, strongest sense first, in the order the names appear."""
        candidates = name_words(question) + [m.group(1) for m in CAPITALIZED_RUN.finditer(question)]
        # Plain capitalized words are names only when a title's short name ("Adan", "Kestrel vs ...");
        # at the very start of the question only if followed by a word that joins names.
        plain = [w for w in re.findall(r"(?<=\w )[A-Z][a-z]+\b", question) if name_key(w) in self.short_names]
        # A title's short name typed in another case: "the Power scheduler" for "Power Scheduler: ...".
        words = question.split()
        plain += [run for i in range(1, len(words)) if words[i][:1].isupper()
                  for run in (" ".join(words[i:i + n]) for n in (2, 3)) if name_key(run) in self.short_names]
        plain += [w for w in re.findall(r"(?<![\w-])[a-z][a-z0-9+-]*[a-z0-9+](?![\w-])", question)
                  if name_key(w) in self.lowercase_names]
        opening = re.match(r"\s*([A-Z][a-z]{3,})\b(?=\s*(?:vs\.?|versus|or|and|,|:))", question)
        if opening and name_key(opening.group(1)) in self.short_names:
            plain.append(opening.group(1))
        plain += self._title_phrases_in(question)
        seen: set[str] = set()
        found: list[NameMatch] = []
        quoted: dict[str, list[str]] = {}  # "'To prune, or not to prune'": (a part of) a title, quoted
        for match in QUOTED.finditer(question):
            key = name_key(match.group(1))
            if len(key) < MIN_QUOTED_TITLE:
                continue
            owners = [pid for pid, title in self._title_keys.items() if key in title]
            if 0 < len(owners) <= MAX_OWNERS:
                quoted[match.group(1)] = owners
        for candidate in sorted(candidates + plain + list(quoted), key=question.find):
            if candidate in quoted:
                if name_key(candidate) in seen:
                    continue
                found.append(NameMatch(name_key(candidate), quoted[candidate]))
                seen.add(name_key(candidate))
                continue
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
        return found

    def _title_phrases_in(self, question: str) -> list[str]:
        """Runs of words that spell a title's phrase ("composable sparse fine-tuning", "task-hinting")."""
        words = re.findall(r"[\w+\-^]+", question)
        found = []
        for n in range(4, 0, -1):
            for start in range(len(words) - n + 1):
                run = words[start:start + n]
                # Lowercase, only a run of three words or a hyphenated one ("task-hinting") is specific
                # enough: two ("parallel decoding") are often just the field's words.
                if (n > 2 or (n == 1 and "-" in run[0])) and name_key(" ".join(run)) in self.title_phrases:
                    found.append(" ".join(run))
        return found

    def unknown_names(self, question: str) -> list[str]:
        """Specific names in the question that appear nowhere in the collection ("FlashAttention-3")."""
        # A name met as a word of some abstract is known without scanning the whole collection's
        # text (about 120 MB at 100k papers); only names not seen as one word ("Llama 3") are searched.
        return [name for name, _ in entities(question)
                if name_key(name) not in self.vocabulary and not self._known_compound(name)
                and not _phrase_in(self._corpus_text, name)]

    def _known_compound(self, name: str) -> bool:
        """"ViT-style", "LoRA/adapters": a known name joined to plain words is known. A part without
        letters ("FlashAttention-3") is a version of the name, and that version must be known whole."""
        parts = [p for p in re.split(r"[-/]", name.strip("$\\{}()[],.;:'\"")) if p]
        if len(parts) < 2 or not all(any(c.isalpha() for c in p) for p in parts):
            return False
        distinctive = [p for p in parts if is_distinctive(p)]
        return bool(distinctive) and all(name_key(p) in self.vocabulary for p in distinctive)


def _read_stamp(handle: IO[str]) -> int:
    """The first line of a saved index: the catalog generation it was built from (-1: another version)."""
    stamp = json.loads(handle.readline())
    return int(stamp["generation"]) if stamp.get("version") == VERSION else -1


# "PageRank-style", "LoRA-like", "ViT-based": a name used to describe something else.
DESCRIPTIVE_SUFFIX = re.compile(r"-(?:style|like|based|type|inspired|esque|driven|flavou?red)$", re.I)


def bare_name(word: str) -> str:
    """The name in a descriptive compound: "PageRank-style" -> "PageRank"; other words unchanged."""
    return DESCRIPTIVE_SUFFIX.sub("", word)


def entities(question: str) -> list[tuple[str, re.Pattern[str]]]:
    """Distinctive names and versioned names ("Llama 3") in a question, each with a pattern that
    finds it in text prepared by `_phrase_text`."""
    found: list[tuple[str, re.Pattern[str]]] = []
    names = [bare_name(w) for w in name_words(question) if is_distinctive(bare_name(w))]
    for match in VERSIONED_PHRASE.finditer(question):
        words = match.group(1).split()
        if any(w[:1].isupper() for w in words[:-1]) and not any(w in names for w in words):
            names.append(match.group(1))
    for name in dict.fromkeys(names):
        parts = phrase_text(name).split()
        if parts:
            found.append((name, re.compile(r"\b" + r"\s*".join(re.escape(t) for t in parts) + r"\b")))
    return found


def _phrase_in(corpus: str, name: str) -> bool:
    """Does prepared `corpus` hold `name` as whole words, its parts spaced or joined ("llama 3",
    "llama3", "page rank" for "PageRank")? Plain substring search, then a word-boundary check: many times faster than a
    regular expression over a large collection's text."""
    parts = phrase_text(name).split()
    if not parts:
        return False
    camel = phrase_text(re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name))  # "PageRank" is also written "Page Rank"
    for needle in dict.fromkeys((" ".join(parts), "".join(parts), camel.strip())):
        start = corpus.find(needle)
        while start != -1:
            end = start + len(needle)
            if (start == 0 or not corpus[start - 1].isalnum()) and (end == len(corpus) or not corpus[end].isalnum()):
                return True
            start = corpus.find(needle, start + 1)
    return False


def phrase_text(text: str) -> str:
    """Lowercase words separated by single spaces; hyphens dropped so 'Llama-3' == 'Llama 3'."""
    text = fold(text).replace("-", " ")
    return re.sub(r"[^0-9a-z+]+", " ", text)
