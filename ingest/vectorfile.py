"""Precomputed chunk embeddings in one .npz file, so embedding can run elsewhere (a GPU box) and be loaded.

Vectors are keyed by a hash of the exact text that was embedded (title + chunk), not by chunk
id: a file made with another chunk size or an older abstract simply misses, and those chunks
are embedded locally. The file names the model; loading it for another model is refused.
Needs only numpy, so it runs on machines without the rest of paperchat's stack.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = "paperchat-vectors-1"
KEY_BYTES = 16


class VectorFileError(ValueError):
    """The file cannot be used; the message names it and says why."""


def text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=KEY_BYTES).digest()


@dataclass
class VectorFile:
    """Unit-length vectors by text key, made by `model` (a model directory's name)."""

    model: str
    keys: np.ndarray  # (n, KEY_BYTES) uint8: numpy's bytes dtype would drop a key's trailing zero bytes
    vectors: np.ndarray  # (n, dim) float32

    @classmethod
    def from_texts(cls, model: str, texts: list[str], vectors: np.ndarray) -> VectorFile:
        keys = np.frombuffer(b"".join(text_key(t) for t in texts), dtype=np.uint8).reshape(len(texts), KEY_BYTES)
        return cls(model, keys, np.asarray(vectors, dtype=np.float32))

    @classmethod
    def concat(cls, parts: Iterable[VectorFile]) -> VectorFile:
        parts = list(parts)
        models = {p.model for p in parts}
        if len(models) != 1:
            raise VectorFileError(f"vector files from different models cannot be merged: {sorted(models)}")
        return cls(models.pop(), np.concatenate([p.keys for p in parts]),
                   np.concatenate([p.vectors for p in parts]))

    def __len__(self) -> int:
        return len(self.keys)

    def parts(self, count: int) -> list[VectorFile]:
        """`count` files of about equal size, for moving through size-limited channels."""
        bounds = np.linspace(0, len(self), count + 1).astype(int)
        return [VectorFile(self.model, self.keys[a:b], self.vectors[a:b]) for a, b in itertools.pairwise(bounds)]

    def save(self, path: Path, dtype: str = "float16") -> None:
        """float16 halves the file at a cosine error near 1e-4; int8 (per-row scale) quarters it at ~1e-3."""
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {"format": np.array(FORMAT), "model": np.array(self.model), "keys": self.keys}
        if dtype == "int8":
            scale = np.abs(self.vectors).max(axis=1, keepdims=True) / 127.0
            scale[scale == 0] = 1.0
            arrays["vectors"] = np.round(self.vectors / scale).astype(np.int8)
            arrays["scale"] = scale.astype(np.float32)
        elif dtype == "float16":
            arrays["vectors"] = self.vectors.astype(np.float16)
        else:
            raise VectorFileError(f"unknown vector dtype {dtype!r}: use float16 or int8")
        with path.open("wb") as handle:  # np.savez would append .npz to a name without it
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, path: Path) -> VectorFile:
        try:
            with np.load(path, allow_pickle=False) as data:
                if "format" not in data or str(data["format"]) != FORMAT:
                    raise VectorFileError(f"{path}: not a paperchat vector file (no '{FORMAT}' marker)")
                vectors = data["vectors"].astype(np.float32)
                if "scale" in data:
                    vectors *= data["scale"]
                    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
                keys = data["keys"]
                model = str(data["model"])
        except FileNotFoundError as exc:
            raise VectorFileError(f"{path}: no such vector file") from exc
        except (OSError, ValueError, KeyError) as exc:
            if isinstance(exc, VectorFileError):
                raise
            raise VectorFileError(f"{path}: unreadable vector file ({exc})") from exc
        if keys.ndim != 2 or keys.shape[1] != KEY_BYTES or vectors.ndim != 2 or len(keys) != len(vectors):
            raise VectorFileError(f"{path}: {len(keys)} keys but vectors of shape {vectors.shape}")
        return cls(model, keys, vectors)

    def lookup(self) -> dict[bytes, np.ndarray]:
        return {k.tobytes(): v for k, v in zip(self.keys, self.vectors, strict=True)}
