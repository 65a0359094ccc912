"""RIS (`.ris`) as Zotero, Mendeley, EndNote and Google Scholar write it, read with rispy.

rispy maps the tags (TI/T1 title, AB/N2 abstract, AU/A1 authors, PY/DA/Y1 date, UR, DO) to names
that fields.paper_from_mapping knows. Each `TY  - ` ... `ER  - ` record is handed to rispy alone,
so one damaged record is reported with its line and the others are still read.
"""

from __future__ import annotations

import re
from pathlib import Path

import rispy

from ingest.readers.fields import add_item, paper_from_mapping
from ingest.records import Location, Problem, ReadResult

RECORD_START = re.compile(r"^\s*TY  -", re.MULTILINE)


def read_ris(path: Path, text: str) -> ReadResult:
    result = ReadResult()
    starts = [match.start() for match in RECORD_START.finditer(text)]
    if not starts:
        result.problems.append(Problem(Location(str(path), 1), "no RIS records found (each starts with a "
                                       "'TY  - ' line and ends with 'ER  - '); nothing to ingest"))
        return result
    line = 1 + text.count("\n", 0, starts[0])
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(text)
        chunk = text[start:end]
        where = Location(str(path), line)
        try:
            records = rispy.loads(chunk.lstrip())
        except Exception as exc:  # rispy raises IOError and others on a damaged record; the rest are read
            result.problems.append(Problem(where, f"malformed RIS record ({exc}); skipped"))
            records = []
        for record in records[:1]:
            label = f"record '{record['id']}'" if record.get("id") else "record"
            add_item(result, paper_from_mapping(record, where, f"{path.name}:{line}", label=label))
        line += chunk.count("\n")
    return result
