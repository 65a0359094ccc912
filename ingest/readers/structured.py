"""Readers for structured inputs: JSON Lines, CSV/TSV and BibTeX, each field-mapped to Paper."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ingest.records import Location, Paper, Problem, ReadResult

TITLE_KEYS = ("title", "paper_title", "name")
ABSTRACT_KEYS = ("abstract", "summary", "abstract_text", "description")
AUTHOR_KEYS = ("authors", "author")
YEAR_KEYS = ("year", "published", "date")
URL_KEYS = ("url", "link", "pdf_url")


def _pick(record: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    lowered = {str(k).strip().lower(): v for k, v in record.items()}
    for key in keys:
        value = lowered.get(key)
        if value not in (None, ""):
            return value
    return None


def _authors(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(a).strip() for a in value if str(a).strip()]
    text = str(value)
    # BibTeX joins authors with " and "; other sources use ";" or "|", else commas.
    parts = re.split(r"\s+and\s+|;|\|", text) if " and " in text or ";" in text else text.split(",")
    return [p.strip() for p in parts if p.strip()]


def _year(value: Any) -> int | None:
    match = re.search(r"\b(1[89]\d\d|2\d\d\d)\b", str(value)) if value is not None else None
    return int(match.group(1)) if match else None


def paper_from_mapping(record: Mapping[str, Any], where: Location, source: str) -> Paper | Problem:
    """Map a dict-like record to a Paper, or explain which field is missing or wrong."""
    title = _pick(record, TITLE_KEYS)
    abstract = _pick(record, ABSTRACT_KEYS)
    if not isinstance(title, str) or not title.strip():
        return Problem(where, "record has no 'title' field (or it is empty); skipped")
    if not isinstance(abstract, str) or not abstract.strip():
        return Problem(where, f"title {title.strip()[:60]!r} has no 'abstract' field (or it is empty); skipped")
    url = _pick(record, URL_KEYS)
    # The id is always the normalized-title hash, never a source's own id field or BibTeX key:
    # the same paper from a listing, a .bib and a .jsonl must dedup to one paper, in any order.
    return Paper(
        title=title,
        abstract=abstract,
        authors=_authors(_pick(record, AUTHOR_KEYS)),
        year=_year(_pick(record, YEAR_KEYS)),
        url=str(url) if url else None,
        sources=[source],
    )


def _add(result: ReadResult, item: Paper | Problem) -> None:
    if isinstance(item, Paper):
        result.papers.append(item)
    else:
        result.problems.append(item)


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
        _add(result, paper_from_mapping(record, where, f"{path.name}:{number}"))
    return result


def read_csv(path: Path, text: str) -> ReadResult:
    """A header row naming at least title and abstract columns; TSV is detected by its tabs."""
    result = ReadResult()
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if path.suffix.lower() == ".tsv" or first_line.count("\t") > first_line.count(",") else ","
    # The csv module refuses fields over 128 kB with a cryptic error; the file is already within
    # max_file_bytes, so lift that cap here and let max_abstract_chars judge a long abstract clearly.
    old_limit = csv.field_size_limit(max(len(text), CSV_FIELD_LIMIT))
    try:
        _read_csv_rows(path, text, delimiter, result)
    finally:
        csv.field_size_limit(old_limit)
    return result


def _read_csv_rows(path: Path, text: str, delimiter: str, result: ReadResult) -> None:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except (StopIteration, csv.Error) as exc:
        result.problems.append(Problem(Location(str(path), 1), f"cannot read the CSV header: {exc}"))
        return
    if not any(k in header for k in TITLE_KEYS) or not any(k in header for k in ABSTRACT_KEYS):
        result.problems.append(
            Problem(Location(str(path), 1), f"CSV header needs 'title' and 'abstract' columns, found {header}")
        )
        return
    while True:
        line_number = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            result.problems.append(Problem(Location(str(path), line_number), f"malformed CSV row ({exc}); skipped"))
            continue
        if not any(cell.strip() for cell in row):
            continue
        where = Location(str(path), line_number)
        if len(row) != len(header):
            result.problems.append(
                Problem(where, f"row has {len(row)} fields but the header has {len(header)}; skipped")
            )
            continue
        _add(result, paper_from_mapping(dict(zip(header, row, strict=True)), where, f"{path.name}:{line_number}"))


CSV_FIELD_LIMIT = 131_072  # the csv module's own default
BIBTEX_ENTRY = re.compile(r"@(\w+)\s*[{(]\s*([^,\s]*)\s*,", re.MULTILINE)
BIBTEX_BARE_VALUE = re.compile(r"[^,\s}]+")
BIBTEX_BRACE = re.compile(r"[{}]")


def _bibtex_fields(body: str, start_line: int, path: Path) -> dict[str, str] | Problem:
    """Parse `name = {value}` / `"value"` / bare-word fields, with nested braces."""
    fields: dict[str, str] = {}
    pos = 0
    field_start = re.compile(r"\s*,?\s*([A-Za-z][\w-]*)\s*=\s*")
    while pos < len(body):
        match = field_start.match(body, pos)
        if not match:
            if body[pos:].strip(" \t\r\n,"):
                line = start_line + body[:pos].count("\n")
                return Problem(Location(str(path), line), f"malformed BibTeX field near {body[pos:pos + 30]!r}")
            break
        name = match.group(1).lower()
        pos = match.end()
        if pos < len(body) and body[pos] == "{":
            depth, end = 0, len(body)
            for brace in BIBTEX_BRACE.finditer(body, pos):  # jump brace to brace, not char by char
                depth += 1 if brace.group() == "{" else -1
                if depth == 0:
                    end = brace.start()
                    break
            if depth != 0:
                line = start_line + body[:pos].count("\n")
                return Problem(Location(str(path), line), f"unbalanced braces in field '{name}'")
            value, pos = body[pos + 1 : end], end + 1
        elif pos < len(body) and body[pos] == '"':
            end = body.find('"', pos + 1)
            if end < 0:
                line = start_line + body[:pos].count("\n")
                return Problem(Location(str(path), line), f"unterminated quote in field '{name}'")
            value, pos = body[pos + 1 : end], end + 1
        else:
            bare = BIBTEX_BARE_VALUE.match(body, pos)  # in place: slicing the body per field is quadratic
            value = bare.group(0) if bare else ""
            pos += len(value)
        fields[name] = re.sub(r"(?<!\\)[{}]", "", value)
    return fields


def read_bibtex(path: Path, text: str) -> ReadResult:
    """BibTeX entries with an abstract field; entries without one are reported, not guessed at."""
    result = ReadResult()
    starts = list(BIBTEX_ENTRY.finditer(text))
    if not starts and text.strip():
        result.problems.append(Problem(Location(str(path), 1), "no BibTeX entries found (expected '@type{key, ...}')"))
    line, counted_to = 1, 0
    for index, match in enumerate(starts):
        kind = match.group(1).lower()
        if kind in ("comment", "string", "preamble"):
            continue
        # Count newlines only since the previous entry: from the file start each time is quadratic.
        line += text.count("\n", counted_to, match.start())
        counted_to = match.start()
        end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        body = text[match.end() : end].rstrip()
        body = body[:-1] if body.endswith(("}", ")")) else body
        where = Location(str(path), line)
        fields = _bibtex_fields(body, line, path)
        if isinstance(fields, Problem):
            result.problems.append(Problem(fields.where, f"entry '{match.group(2)}': {fields.reason}; skipped"))
            continue
        _add(result, paper_from_mapping(fields, where, f"{path.name}:{line}"))
    return result
