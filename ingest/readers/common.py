"""Decoding shared by the text readers: every failure becomes a Problem naming the file."""

from __future__ import annotations

import codecs
from pathlib import Path

from ingest.records import Location, Problem

BINARY_SNIFF_BYTES = 8192


def read_bytes(path: Path, max_bytes: int | None = None) -> tuple[bytes | None, list[Problem]]:
    """The file's bytes, or None and why not (unreadable, or over `max_bytes`)."""
    where = Location(str(path), 0)
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:  # refused before a byte is read
            return None, [Problem(where, f"file is {size:,} bytes, over the {max_bytes:,}-byte limit; skipped")]
        with path.open("rb") as handle:
            # Bounded even if the file grew since stat() or reports no size (/proc): never more than the limit.
            data = handle.read() if max_bytes is None else handle.read(max_bytes + 1)
        if max_bytes is not None and len(data) > max_bytes:
            return None, [Problem(where, f"file is over the {max_bytes:,}-byte limit; skipped")]
    except OSError as exc:
        return None, [Problem(where, f"cannot read file: {exc.strerror or exc}")]
    return data, []


def decode_text(path: Path, max_bytes: int | None = None, line_records: bool = False) -> tuple[str, list[Problem]]:
    """Read a file as text: UTF-8 (with or without BOM) or UTF-16 with a BOM; else why not.

    With `line_records` (one record per line, as in JSON Lines) a line that is not UTF-8 is
    reported and blanked, and the other lines are still read; in formats whose records span
    lines, one bad byte rejects the whole file (a blanked line could silently truncate a record).
    """
    where = Location(str(path), 0)
    data, problems = read_bytes(path, max_bytes)
    if data is None:
        return "", problems
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")  # the BOM picks the byte order and is dropped
        except UnicodeDecodeError as exc:
            line = data[: exc.start].decode("utf-16", "replace").count("\n") + 1
            return "", [Problem(Location(str(path), line), f"invalid UTF-16 text ({exc.reason} at byte offset "
                                f"{exc.start}); re-save the file as UTF-8")]
    elif b"\x00" in data[:BINARY_SNIFF_BYTES]:
        hint = " (UTF-16 without a byte order mark? re-save it as UTF-8)" if _looks_like_utf16(data) else ""
        return "", [Problem(where, f"binary file (contains NUL bytes), not text{hint}; skipped")]
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            if not line_records:
                line = data[: exc.start].count(b"\n") + 1
                return "", [Problem(Location(str(path), line), f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at "
                                    f"offset {exc.start}); re-save the file as UTF-8")]
            text, problems = _decode_by_line(path, data)
    if not text.strip():  # empty, or only a byte order mark, whitespace or undecodable lines
        return "", problems or [Problem(where, "file is empty; nothing to ingest")]
    return text, problems


def _looks_like_utf16(data: bytes) -> bool:
    """ASCII text in UTF-16 has a NUL in every other byte; binary formats rarely do."""
    head = data[:BINARY_SNIFF_BYTES]
    half = len(head) // 2
    return half >= 8 and max(head[0::2].count(0), head[1::2].count(0)) >= 0.9 * half


def _decode_by_line(path: Path, data: bytes) -> tuple[str, list[Problem]]:
    """UTF-8 line by line (a newline byte never occurs inside a UTF-8 sequence); bad lines blanked."""
    lines: list[str] = []
    problems: list[Problem] = []
    for number, raw in enumerate(data.removeprefix(codecs.BOM_UTF8).split(b"\n"), 1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            lines.append("")  # kept as a blank line so later line numbers stay right
            problems.append(Problem(Location(str(path), number), f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at "
                                    f"column {exc.start + 1}); line skipped, re-save the file as UTF-8"))
    return "\n".join(lines), problems
