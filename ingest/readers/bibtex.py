"""BibTeX as Zotero, JabRef, Mendeley and Google Scholar write it, read with bibtexparser 2.

bibtexparser splits the file into blocks (entries, `@string`, `@preamble`, `@comment`) and its
middlewares split author lists into name parts and decode LaTeX to Unicode. Two things it leaves
undone are done here: `#` concatenation with `@string` macros and month names (it resolves a bare
macro only), and `@comment{...}` blocks spanning lines, whose content it would parse as entries
(a commented-out entry must stay out).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import bibtexparser
from bibtexparser.library import Library
from bibtexparser.middlewares import LatexDecodingMiddleware, MergeNameParts, SeparateCoAuthors, SplitNameParts
from bibtexparser.model import (
    Block,
    DuplicateBlockKeyBlock,
    DuplicateFieldKeyBlock,
    Entry,
    Field,
    MiddlewareErrorBlock,
    ParsingFailedBlock,
    String,
)

from ingest.readers.fields import add_item, paper_from_mapping, split_author_string
from ingest.readers.latex import decoder, latex_to_text
from ingest.records import Location, Paper, Problem, ReadResult, clean_text

# The splitter logs each block it gives up on; read_bibtex reports those itself, naming file and line.
logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)

# Fields whose LaTeX is decoded. URLs, DOIs and eprint ids are identifiers: `--` or `~` in one stays.
PROSE_FIELDS = ("title", "abstract", "author", "editor", "booktitle", "journal", "journaltitle", "keywords",
                "note", "publisher", "shorttitle")
MONTHS = {name: str(number) for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
COMMENT_START = re.compile(r"^[ \t]*@comment[ \t]*([{(])", re.IGNORECASE | re.MULTILINE)
ENTRY_KEY = re.compile(r"@\s*\w+\s*[{(]\s*([^,\s{}()]*)")
FIELD_START = re.compile(r"^\s*([A-Za-z][\w:.+-]*)\s*=", re.MULTILINE)


class ProseLatexDecoding(LatexDecodingMiddleware):
    """bibtexparser's LaTeX decoding, for the prose fields only (see PROSE_FIELDS)."""

    def __init__(self) -> None:
        super().__init__(decoder=decoder())

    def transform_entry(self, entry: Entry, library: Library) -> Block:
        verbatim = [field for field in entry.fields if field.key.lower() not in PROSE_FIELDS]
        entry.fields = [field for field in entry.fields if field.key.lower() in PROSE_FIELDS]
        try:
            block = super().transform_entry(entry, library)
        finally:
            entry.fields = entry.fields + verbatim
        return block


# After value resolution: authors split on `and` and into first/von/last/jr while their braces still
# protect "{Google Research}" or "M{\\"u}ller", merged as "First von Last Jr" (the order every other
# reader produces), then decoded like the prose fields (the decoding middleware skips name lists).
NAME_STACK = (SeparateCoAuthors(), SplitNameParts(), MergeNameParts(style="first"))
DECODE_PROSE = ProseLatexDecoding()


def blank_comments(text: str) -> str:
    """Spaces for the content of every `@comment{...}` block (newlines kept, so line numbers stay)."""
    pieces: list[str] = []
    position = 0
    for match in COMMENT_START.finditer(text):
        if match.start() < position:
            continue  # inside a comment already blanked
        opening = match.group(1)
        closing = "}" if opening == "{" else ")"
        depth, end = 0, -1
        for index in range(match.end() - 1, len(text)):
            char = text[index]
            if char == opening:
                depth += 1
            elif char == closing:
                depth -= 1
                if depth == 0:
                    end = index + 1
                    break
        if end < 0:
            break  # unclosed: bibtexparser reports it as a failed block
        pieces.append(text[position:match.start()])
        pieces.append(re.sub(r"[^\n]", " ", text[match.start():end]))
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _top_level_parts(expression: str) -> list[str]:
    """`"Proc. of " # acl # {2020}` -> ['"Proc. of "', 'acl', '{2020}']: split on `#` outside braces and quotes."""
    parts: list[str] = []
    depth, in_quotes, start = 0, False, 0
    for index, char in enumerate(expression):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == '"' and depth == 0:
            in_quotes = not in_quotes
        elif char == "#" and depth == 0 and not in_quotes:
            parts.append(expression[start:index].strip())
            start = index + 1
    parts.append(expression[start:].strip())
    return parts


def resolve_value(expression: str, macros: Mapping[str, str]) -> str:
    """A raw field value as BibTeX reads it: delimiters dropped, macros and month names expanded, `#` joined."""
    if "#" not in expression and expression[:1] in ("{", '"') and expression[-1:] == {"{": "}", '"': '"'}[
            expression[:1]]:
        return expression[1:-1]  # the common case: one delimited value
    pieces: list[str] = []
    for part in _top_level_parts(expression):
        if len(part) >= 2 and (part[0], part[-1]) in (("{", "}"), ('"', '"')):
            pieces.append(part[1:-1])
        else:
            pieces.append(macros.get(part.lower(), MONTHS.get(part.lower(), part)))
    return "".join(pieces)


def _resolve_macros(library: Library) -> dict[str, str]:
    """`@string` definitions in file order; each may use the ones before it (BibTeX's own rule)."""
    macros: dict[str, str] = {}
    for block in library.blocks:
        if isinstance(block, DuplicateBlockKeyBlock):  # a macro defined again: the later definition wins
            block = block.ignore_error_block
        if isinstance(block, String):
            macros[block.key.lower()] = resolve_value(str(block.value), macros)
    return macros


def _entry_of(block: Block) -> Entry | None:
    """The entry a block holds: itself, or the entry behind a duplicate key (both are papers to read)."""
    if isinstance(block, Entry):
        return block
    if isinstance(block, DuplicateBlockKeyBlock | DuplicateFieldKeyBlock):
        inner = block.ignore_error_block
        return inner if isinstance(inner, Entry) else None
    return None


def _fields_of(entry: Entry, macros: Mapping[str, str], library: Library) -> dict[str, Any]:
    """The entry's fields resolved and decoded; `author` as a list of "Given Family" strings."""
    fields = [Field(field.key.lower(), resolve_value(str(field.value), macros), field.start_line)
              for field in entry.fields]
    author_fields = [field for field in fields if field.key == "author"]
    names: Block = Entry(entry.entry_type, entry.key, author_fields[-1:])
    for middleware in NAME_STACK:
        if isinstance(names, Entry):
            names = middleware.transform_entry(names, library)
    authors: list[str] = []
    if isinstance(names, Entry) and names.fields and isinstance(names.fields[0].value, list):
        authors = [latex_to_text(str(name)) for name in names.fields[0].value]
    elif author_fields:
        # A name bibtexparser cannot split (e.g. unbalanced braces in one author): keep the paper,
        # its authors split the simple way.
        authors = split_author_string(latex_to_text(str(author_fields[-1].value)))
    prose: Block = DECODE_PROSE.transform_entry(
        Entry(entry.entry_type, entry.key, [field for field in fields if field.key != "author"]), library)
    if isinstance(prose, MiddlewareErrorBlock) and isinstance(prose.ignore_error_block, Entry):
        prose = prose.ignore_error_block  # a field pylatexenc could not decode stays as written
    decoded: dict[str, Any] = {field.key: field.value for field in prose.fields} if isinstance(prose, Entry) else {}
    decoded["author"] = authors
    return decoded


def _failure(block: ParsingFailedBlock, text_lines: int) -> tuple[int, str]:
    """(line, reason) for a block bibtexparser could not split, naming the entry and, where it can, the field."""
    raw = block.raw or ""
    start = (block.start_line or 0) + 1
    key_match = ENTRY_KEY.match(raw.lstrip())
    name = f"entry '{key_match.group(1)}'" if key_match and key_match.group(1) else f"block at line {start}"
    reason = str(getattr(block.error, "abort_reason", block.error))
    if "closing" in reason:
        # Which field never closed: the first whose own text opens more braces than it closes.
        starts = list(FIELD_START.finditer(raw))
        for index, field in enumerate(starts):
            end = starts[index + 1].start() if index + 1 < len(starts) else len(raw)
            value = re.sub(r"\\[{}]", "", raw[field.end():end])
            if value.count("{") > value.count("}") or value.count('"') % 2:
                what = "an unterminated quote" if '"' in reason else "unbalanced braces"
                line = start + raw.count("\n", 0, field.start(1))
                return line, f"{name}: {what} in field '{field.group(1)}'; skipped"
        return start, f"{name}: unbalanced braces (still open where the next entry starts); skipped"
    # E.g. "Expected a `=` after entry key": the text after the last field separator is no field.
    position = raw.rfind(",") + 1
    while position < len(raw) and raw[position].isspace():
        position += 1
    snippet = raw[position:position + 30].strip()
    line = min(start + raw.count("\n", 0, position), text_lines)
    return line, f"{name}: malformed BibTeX field near {snippet!r} ({reason.strip()}); skipped"


def read_bibtex(path: Path, text: str) -> ReadResult:
    """Every entry with a title and an abstract; each other one reported with its line and key."""
    result = ReadResult()
    try:
        library = bibtexparser.parse_string(blank_comments(text), parse_stack=[])
    except Exception as exc:  # the splitter raises only on its own internal errors; never lose the run to one
        result.problems.append(Problem(Location(str(path), 1), f"cannot parse the BibTeX file ({exc}); skipped"))
        return result
    macros = _resolve_macros(library)
    text_lines = text.count("\n") + 1
    found_any = False
    for block in library.blocks:
        entry = _entry_of(block)
        if entry is None:
            if isinstance(block, ParsingFailedBlock) and not isinstance(block, DuplicateBlockKeyBlock):
                found_any = True
                line, reason = _failure(block, text_lines)
                result.problems.append(Problem(Location(str(path), line), reason))
            continue
        found_any = True
        line = (entry.start_line or 0) + 1
        where = Location(str(path), line)
        fields = _fields_of(entry, macros, library)
        authors = [name for name in fields.pop("author") if name.lower() != "others"]  # "and others": et al.
        # Exporters join keywords with ", " and Zotero's own keywords contain commas: no tags from them.
        fields.pop("keywords", None)
        item = paper_from_mapping(fields, where, f"{path.name}:{line}", label=f"entry '{entry.key}'")
        if isinstance(item, Paper):
            item.authors = [name for name in (clean_text(str(author)) for author in authors) if name]
        add_item(result, item)
    if not found_any:
        result.problems.append(Problem(Location(str(path), 1), "no BibTeX entries found (expected '@type{key, ...}')"))
    return result
