"""One reader per input format, chosen by file extension (JSON and JSON Lines by content).

Text formats are decoded first (common.decode_text) and read from the text; PDF is read from its
bytes; a Zotero database is opened in place (read-only), never loaded whole.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ingest.readers.bibtex import read_bibtex
from ingest.readers.common import decode_text, read_bytes
from ingest.readers.csv_table import read_csv
from ingest.readers.json_records import read_json
from ingest.readers.listing import read_listing
from ingest.readers.markdown import read_markdown
from ingest.readers.pdf import read_pdf
from ingest.readers.ris import read_ris
from ingest.readers.zotero import ZOTERO_DB_NAME, is_zotero_dir, read_zotero
from ingest.records import Location, Problem, ReadResult

TextReader = Callable[[Path, str], ReadResult]

READERS: dict[str, TextReader] = {
    ".jsonl": read_json,
    ".ndjson": read_json,
    ".json": read_json,
    ".csv": read_csv,
    ".tsv": read_csv,
    ".bib": read_bibtex,
    ".bibtex": read_bibtex,
    ".ris": read_ris,
    ".txt": read_listing,
    ".md": read_markdown,
    ".markdown": read_markdown,
    "": read_listing,
}
PDF_SUFFIX = ".pdf"
ZOTERO_SUFFIX = ".sqlite"
SUPPORTED_SUFFIXES = tuple(sorted([*(s for s in READERS if s), PDF_SUFFIX, ZOTERO_SUFFIX]))
# JSON formats are decoded line by line: one bad line of a JSON Lines file costs that line only.
LINE_RECORDS = (read_json,)


def read_file(path: Path, max_bytes: int | None = None) -> ReadResult:
    """Read one file with the reader its suffix names; unknown suffixes are reported, not guessed."""
    suffix = path.suffix.lower()
    if suffix == ZOTERO_SUFFIX:
        result = read_zotero(path)  # opened in place: the file size limit is for files read into memory
    elif suffix == PDF_SUFFIX:
        data, problems = read_bytes(path, max_bytes)
        result = read_pdf(path, data) if data is not None else ReadResult(problems=problems)
    elif suffix in READERS:
        reader = READERS[suffix]
        text, problems = decode_text(path, max_bytes, line_records=reader in LINE_RECORDS)
        if not text:
            return ReadResult(problems=problems)
        result = reader(path, text)
        # Undecodable lines among what the reader found, in file order.
        result.problems = sorted([*problems, *result.problems], key=lambda problem: problem.where.line)
    else:
        return ReadResult(
            problems=[Problem(Location(str(path), 0), f"unsupported file type '{path.suffix}' "
                              f"(supported: {', '.join(SUPPORTED_SUFFIXES)}); skipped")]
        )
    if not result.papers and not result.problems:
        # E.g. a listing of page chrome only: say so, or the run would "succeed" having read nothing.
        result.problems.append(Problem(Location(str(path), 0), "no paper records found (each needs a title and "
                                       "an abstract); nothing to ingest"))
    return result


def _walk(folder: Path) -> list[Path]:
    """Supported files under a folder; a Zotero data directory (`~/Zotero`) is its database alone.

    The PDFs under a Zotero directory's storage/ are attachments of the items the database
    already holds, and the other .sqlite files there are Zotero's own caches and backups.
    """
    if is_zotero_dir(folder):
        return [folder / ZOTERO_DB_NAME]
    found: list[Path] = []
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if any(part.startswith(".") for part in parts) or not path.is_file():
            continue
        suffix = path.suffix.lower()
        if suffix == ZOTERO_SUFFIX:
            if path.name == ZOTERO_DB_NAME:  # any other .sqlite in a folder is some program's state
                found.append(path)
        elif suffix in READERS or suffix == PDF_SUFFIX:
            found.append(path)
    zotero_dirs = [path.parent for path in found if path.name == ZOTERO_DB_NAME]
    return [path for path in found if path.name == ZOTERO_DB_NAME
            or not any(directory in path.parents for directory in zotero_dirs)]


def expand_paths(paths: list[Path]) -> tuple[list[Path], list[Problem]]:
    """Files as given, directories walked recursively for supported files, missing paths reported."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found = _walk(path)
            if not found:
                problems.append(Problem(Location(str(path), 0), "directory holds no supported files"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        elif path.exists():  # a FIFO or device: reading it could block or never end
            problems.append(Problem(Location(str(path), 0), "not a regular file or directory; skipped"))
        else:
            problems.append(Problem(Location(str(path), 0), "no such file or directory"))
    return files, problems
