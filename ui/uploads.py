"""Uploaded files: checked by type and size, then copied under `<data_dir>/uploads/` with a safe name.

The browser's file name is never used as a path: only its last component survives, reduced to
letters, digits, `.`, `-` and `_` (`../../etc/passwd.txt` is stored as `uploads/passwd.txt`),
and nothing is written anywhere but that folder.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.readers import SUPPORTED_SUFFIXES

# Exactly what `paperchat ingest` reads (one list, ingest.readers'), so the two never drift apart.
UPLOAD_SUFFIXES = SUPPORTED_SUFFIXES
MAX_NAME_CHARS = 100


class UploadError(ValueError):
    """A file that is not accepted; the message says why."""


def safe_name(name: str) -> str:
    """The file's own name, made safe: no directories, no leading dots, only [A-Za-z0-9._-]."""
    base = re.split(r"[\\/]", name)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    base = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9._-]+", "_", base)).strip("._-")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = stem.strip("._-")[: MAX_NAME_CHARS - len(suffix) - 1] or "upload"
    return f"{stem}.{suffix.lower()}" if suffix else stem


def upload_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "uploads"


@dataclass
class StoredUploads:
    paths: list[Path] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def check_upload(path: Path, original_name: str, max_bytes: int) -> str:
    """The safe name to store `path` under; raises UploadError for a wrong type or size."""
    name = safe_name(original_name)
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES and suffix:  # no suffix: a listing, as `paperchat ingest` reads it
        raise UploadError(f"{name}: only {', '.join(UPLOAD_SUFFIXES)} files (or a listing without a suffix) "
                          "are accepted")
    if not path.is_file():
        raise UploadError(f"{name}: the upload is not a file")
    size = path.stat().st_size
    if size > max_bytes:
        raise UploadError(f"{name}: {size:,} bytes, over the {max_bytes:,}-byte upload limit")
    return name


def store_uploads(files: Iterable[str | Path], data_dir: Path, max_bytes: int) -> StoredUploads:
    """Copy each accepted file to `<data_dir>/uploads/<safe name>` (same name: replaced, i.e. updated)."""
    target_dir = upload_dir(data_dir).resolve()
    result = StoredUploads()
    for item in files:
        path = Path(item)
        try:
            name = check_upload(path, path.name, max_bytes)
        except UploadError as exc:
            result.rejected.append(str(exc))
            continue
        target = (target_dir / name).resolve()
        if target.parent != target_dir:  # cannot happen with a safe name; never write elsewhere
            result.rejected.append(f"{name}: refused file name")
            continue
        target_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        result.paths.append(target)
    return result
