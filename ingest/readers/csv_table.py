"""CSV and TSV: the delimiter (`,` `;` or tab) sniffed from the header, column names matched loosely.

Zotero's CSV export names its columns `Title`, `Abstract Note`, `Author` (`Family, Given; ...`),
`Publication Year`, `DOI`, `Url`, `Manual Tags`; Excel in many locales separates with `;` and
starts the file with a byte order mark (dropped when the file is decoded).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ingest.readers.fields import (
    ABSTRACT_KEYS,
    ACCEPTED_ABSTRACT_NAMES,
    ACCEPTED_TITLE_NAMES,
    TITLE_KEYS,
    add_item,
    key_form,
    paper_from_mapping,
)
from ingest.records import Location, Problem, ReadResult

CSV_FIELD_LIMIT = 131_072  # the csv module's own default
DELIMITERS = (",", ";", "\t")


def sniff_delimiter(header_line: str, suffix: str) -> str:
    """The candidate that splits the header into the most columns, counted outside quotes."""
    if suffix == ".tsv":
        return "\t"
    counts = dict.fromkeys(DELIMITERS, 0)
    in_quotes = False
    for char in header_line:
        if char == '"':
            in_quotes = not in_quotes
        elif not in_quotes and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])  # ties: the order of DELIMITERS
    return best if counts[best] else ","


def read_csv(path: Path, text: str) -> ReadResult:
    """A header row naming at least a title and an abstract column, then one paper per row."""
    result = ReadResult()
    delimiter = sniff_delimiter(text.split("\n", 1)[0], path.suffix.lower())
    # The csv module refuses fields over 128 kB with a cryptic error; the file is already within
    # max_file_bytes, so lift that cap here and let max_abstract_chars judge a long abstract clearly.
    old_limit = csv.field_size_limit(max(len(text), CSV_FIELD_LIMIT))
    try:
        _read_rows(path, text, delimiter, result)
    finally:
        csv.field_size_limit(old_limit)
    return result


def _read_rows(path: Path, text: str, delimiter: str, result: ReadResult) -> None:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [name.strip() for name in next(reader)]
    except (StopIteration, csv.Error) as exc:
        result.problems.append(Problem(Location(str(path), 1), f"cannot read the CSV header: {exc}"))
        return
    forms = {key_form(name) for name in header}
    missing = [what for what, keys, names in (("title", TITLE_KEYS, ACCEPTED_TITLE_NAMES),
                                             ("abstract", ABSTRACT_KEYS, ACCEPTED_ABSTRACT_NAMES))
               if not forms & set(keys)]
    if missing:
        accepted = "; ".join(f"{what}: " + ", ".join(repr(name) for name in names)
                             for what, names in (("title", ACCEPTED_TITLE_NAMES),
                                                 ("abstract", ACCEPTED_ABSTRACT_NAMES)) if what in missing)
        shown = ", ".join(repr(name) for name in header[:20]) + (", ..." if len(header) > 20 else "")
        separator = {",": "comma", ";": "semicolon", "\t": "tab"}[delimiter]
        result.problems.append(Problem(Location(str(path), 1), f"CSV header needs 'title' and 'abstract' columns "
                                       f"and has no {' or '.join(missing)} column (read as {separator}-separated; "
                                       f"found: {shown}; accepted: {accepted})"))
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
            result.problems.append(Problem(where, f"row has {len(row)} fields but the header has {len(header)}; "
                                           "skipped"))
            continue
        add_item(result, paper_from_mapping(dict(zip(header, row, strict=True)), where,
                                            f"{path.name}:{line_number}"))
