"""Decoding shared by the text readers: every failure becomes a Problem naming the file."""

from __future__ import annotations

import codecs
from pathlib import Path

from ingest.records import Location, Problem

BINARY_SNIFF_BYTES = 8192


def decode_text(path: Path, max_bytes: int | None = None) -> tuple[str, Problem | None]:
    """Read a file as text: UTF-8 (with or without BOM) or UTF-16 with a BOM; else a Problem."""
    where = Location(str(path), 0)
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            return "", Problem(where, f"file is {size:,} bytes, over the {max_bytes:,}-byte limit; skipped")
        data = path.read_bytes()
    except OSError as exc:
        return "", Problem(where, f"cannot read file: {exc.strerror or exc}")
    if not data.strip():
        return "", Problem(where, "file is empty; nothing to ingest")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError as exc:
            return "", Problem(where, f"invalid UTF-16 text: {exc.reason}")
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        return "", Problem(where, "binary file (contains NUL bytes), not text; skipped")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return "", Problem(
            Location(str(path), line),
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); re-save the file as UTF-8",
        )
