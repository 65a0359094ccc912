"""One reader per input format, chosen by file extension (or content for plain text)."""

from __future__ import annotations

from pathlib import Path

from ingest.readers.common import decode_text
from ingest.readers.listing import read_listing
from ingest.readers.structured import read_bibtex, read_csv, read_jsonl
from ingest.records import Location, Problem, ReadResult

READERS = {
    ".jsonl": read_jsonl,
    ".ndjson": read_jsonl,
    ".csv": read_csv,
    ".tsv": read_csv,
    ".bib": read_bibtex,
    ".bibtex": read_bibtex,
    ".txt": read_listing,
    ".md": read_listing,
    "": read_listing,
}
SUPPORTED_SUFFIXES = tuple(sorted(s for s in READERS if s))


def read_file(path: Path, max_bytes: int | None = None) -> ReadResult:
    """Read one file with the reader its suffix names; unknown suffixes are reported, not guessed."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        return ReadResult(
            problems=[Problem(Location(str(path), 0), f"unsupported file type '{path.suffix}' "
                              f"(supported: {', '.join(SUPPORTED_SUFFIXES)}); skipped")]
        )
    text, problems = decode_text(path, max_bytes, line_records=reader is read_jsonl)
    if not text:
        return ReadResult(problems=problems)
    result = reader(path, text)
    # Undecodable lines among what the reader found, in file order.
    result.problems = sorted([*problems, *result.problems], key=lambda problem: problem.where.line)
    if not result.papers and not result.problems:
        # E.g. a listing of page chrome only: say so, or the run would "succeed" having read nothing.
        result.problems.append(Problem(Location(str(path), 0), "no paper records found (each needs a title and "
                                       "an abstract); nothing to ingest"))
    return result


def expand_paths(paths: list[Path]) -> tuple[list[Path], list[Problem]]:
    """Files as given, directories walked recursively for supported files, missing paths reported."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in READERS
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
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
