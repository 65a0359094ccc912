"""JSON and JSON Lines, told apart by content: CSL-JSON, arXiv, Semantic Scholar and OpenAlex records.

A `.json` file may be one JSON document (Zotero's CSL-JSON export is an array of items; an API
answer wraps its records in `results` or `data`) or JSON Lines under a `.json` name (the arXiv
metadata snapshot, `arxiv-metadata-oai-snapshot.json`). Whatever the suffix, a file that parses
as one document is read as one; anything else is read line by line, so one bad line costs that
line only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ingest.identity import normalize_arxiv_id
from ingest.readers.fields import add_item, lookup, paper_from_mapping
from ingest.readers.latex import latex_to_text
from ingest.records import Location, Problem, ReadResult

# Keys under which an API answer or a dump wraps its list of records.
WRAPPER_KEYS = ("results", "data", "items", "records", "papers", "works")
# Keys only arXiv's metadata snapshot (and its OAI records) carry.
ARXIV_MARKERS = ("versions", "authors_parsed", "update_date", "submitter")


def read_json(path: Path, text: str) -> ReadResult:
    """One JSON document (array, wrapper or single record) or JSON Lines, by what the text holds."""
    stripped = text.lstrip()
    first_line = stripped.split("\n", 1)[0].strip()
    if stripped.startswith("[") or (stripped.startswith("{") and not _parses(first_line)):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            if stripped.startswith("["):
                return ReadResult(problems=[Problem(Location(str(path), exc.lineno), f"malformed JSON ({exc.msg} "
                                                    f"at column {exc.colno}); nothing read from this file")])
            return read_jsonl(path, text)  # a first line that is no object alone: let each line say why
        return _read_document(path, text, document)
    return read_jsonl(path, text)


def _parses(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def _read_document(path: Path, text: str, document: Any) -> ReadResult:
    result = ReadResult()
    records: Any = document
    if isinstance(document, Mapping):
        wrapped = next((document[key] for key in WRAPPER_KEYS if isinstance(document.get(key), list)), None)
        records = wrapped if wrapped is not None else [document]
    if not isinstance(records, list):
        result.problems.append(Problem(Location(str(path), 1), f"expected a JSON array of records or an object, "
                                       f"got {type(document).__name__}; nothing read from this file"))
        return result
    lines = _item_lines(text, len(records)) if records else []
    for index, record in enumerate(records):
        line = lines[index] if index < len(lines) else 0
        where = Location(str(path), line)
        label = f"item {index + 1}" + (f" ('{record['id']}')" if isinstance(record, Mapping)
                                       and isinstance(record.get("id"), str) and record["id"] else "")
        if not isinstance(record, Mapping):
            result.problems.append(Problem(where, f"{label}: expected a JSON object, got {type(record).__name__}; "
                                           "skipped"))
            continue
        source = f"{path.name}:{line}" if line else f"{path.name}:item {index + 1}"  # items of a wrapper: no line
        add_item(result, paper_from_mapping(_prepared(record), where, source, label=label))
    return result


def _item_lines(text: str, count: int) -> list[int]:
    """The line where each top-level item of an array starts, for messages: json does not say."""
    decoder = json.JSONDecoder()
    lines: list[int] = []
    position = text.index("[") + 1 if text.lstrip().startswith("[") else None
    if position is None:  # a wrapper object: the items are somewhere inside it, lines unknown
        return []
    line = 1 + text.count("\n", 0, position)
    while len(lines) < count:
        while position < len(text) and text[position] in " \t\r\n,":
            if text[position] == "\n":
                line += 1
            position += 1
        lines.append(line)
        try:
            _, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            break
        line += text.count("\n", position, end)
        position = end
    return lines


def read_jsonl(path: Path, text: str) -> ReadResult:
    """One JSON object per line; a bad line is reported and skipped, the rest still read."""
    result = ReadResult()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = Location(str(path), number)
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            result.problems.append(Problem(where, f"malformed JSON ({exc.msg} at column {exc.colno}); skipped"))
            continue
        if not isinstance(record, dict):
            result.problems.append(Problem(where, f"expected a JSON object, got {type(record).__name__}; skipped"))
            continue
        add_item(result, paper_from_mapping(_prepared(record), where, f"{path.name}:{number}"))
    return result


def _prepared(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """An arXiv snapshot record made plain: its TeX decoded, its id taken as an arXiv id.

    arXiv writes titles, abstracts and author names in TeX (`M\\"uller`, `$\\alpha$`); other JSON
    sources write Unicode and are left exactly as they are.
    """
    if not any(key in record for key in ARXIV_MARKERS):
        return record
    prepared: dict[str, Any] = dict(record)
    for key in ("title", "abstract", "authors"):
        if isinstance(prepared.get(key), str):
            prepared[key] = latex_to_text(prepared[key])
    if isinstance(prepared.get("authors_parsed"), list):
        prepared["authors_parsed"] = [[latex_to_text(part) if isinstance(part, str) else part for part in name]
                                      if isinstance(name, list) else name for name in prepared["authors_parsed"]]
    fields = lookup(prepared)
    arxiv = normalize_arxiv_id(fields.get("id")) if isinstance(fields.get("id"), str) else None
    if arxiv and not fields.get("arxivid"):
        prepared["arxiv_id"] = arxiv
        if not fields.get("url"):
            prepared["url"] = f"https://arxiv.org/abs/{arxiv}"
    return prepared
