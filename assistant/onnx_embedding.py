"""The sentence-transformers encoder run by onnxruntime: same vectors as torch, questions twice as fast.

On 2 AMD EPYC cores, all-MiniLM-L6-v2 embeds a short question in ~6 ms on one onnxruntime thread
against ~13-15 ms in torch (batches of abstract chunks: the same speed in both); and a process that
only answers questions never imports torch or sentence-transformers (4 s of imports, 300 MB).

The ONNX graph is exported from the model dir once per machine (torch and onnx are needed for that
step only) into `model_cache_dir`, named by a digest of the model files' contents, and reused from
then on by every install of the same model. Pooling and normalisation are part of the graph, so it
maps token ids straight to unit vectors.
Models this exporter does not handle (pooling other than mean/CLS, export errors) stay on torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

# Part of every cache file's name: bump it when the exported graph changes shape or meaning.
EXPORT_FORMAT = 1
OPSET = 17


class OnnxExportError(RuntimeError):
    """The model dir cannot be exported to ONNX (the caller falls back to torch)."""


def pooling_mode(model_dir: Path) -> str:
    """'mean' or 'cls', from the sentence-transformers pooling config; anything else is not exported."""
    config_path = model_dir / "1_Pooling" / "config.json"
    if not config_path.exists():
        return "mean"  # a bare transformers dir: sentence-transformers defaults to mean pooling
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OnnxExportError(f"{config_path}: unreadable ({exc})") from exc
    modes = [name for name, on in config.items() if name.startswith("pooling_mode_") and on]
    if modes == ["pooling_mode_mean_tokens"]:
        return "mean"
    if modes == ["pooling_mode_cls_token"]:
        return "cls"
    raise OnnxExportError(f"{config_path}: pooling {modes} is not exported to ONNX")


def fingerprint(model_dir: Path, cache_dir: Path) -> str:
    """A digest of the model files' names and contents, so every copy of a model (one per venv or clone) shares
    one export, and a changed model never reuses a stale one.

    Reading the files costs ~70 ms for MiniLM's 90 MB, so the digest is kept in `cache_dir` under a key of
    the files' paths, sizes and modification times, and computed again only when one of those changes.
    """
    files = sorted(p for p in model_dir.rglob("*") if p.is_file())
    stat_key = hashlib.blake2b(str(model_dir.resolve()).encode(), digest_size=8)
    for path in files:
        stat = path.stat()
        stat_key.update(f"{path.relative_to(model_dir)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    memo = cache_dir / "fingerprints" / stat_key.hexdigest()
    with contextlib.suppress(OSError, UnicodeDecodeError):
        remembered = memo.read_text(encoding="ascii").strip()
        if re.fullmatch(r"[0-9a-f]{16}", remembered):  # anything else (a damaged file) is computed again
            return remembered
    digest = hashlib.blake2b(f"{EXPORT_FORMAT}".encode(), digest_size=8)
    for path in files:
        with path.open("rb") as handle:
            digest.update(f"{path.relative_to(model_dir).as_posix()}:".encode())
            digest.update(hashlib.file_digest(handle, "sha1").digest())
    with contextlib.suppress(OSError):  # an unwritable cache only means hashing again next time
        memo.parent.mkdir(parents=True, exist_ok=True)
        partial = memo.with_name(f"{memo.name}.{os.getpid()}.partial")
        partial.write_text(digest.hexdigest(), encoding="ascii")
        partial.replace(memo)
    return digest.hexdigest()


def onnx_path(model_dir: Path, cache_dir: Path) -> Path:
    return cache_dir / f"{model_dir.name}-{fingerprint(model_dir, cache_dir)}.onnx"


def export(model_dir: Path, out: Path) -> None:
    """Trace the transformer plus pooling plus L2 normalisation into `out` (written atomically)."""
    mode = pooling_mode(model_dir)
    if not (model_dir / "tokenizer.json").exists():  # the runtime side tokenizes with `tokenizers` alone
        raise OnnxExportError(f"{model_dir}: no tokenizer.json")
    partial = out.with_name(f"{out.name}.{os.getpid()}.partial")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)  # an unwritable cache dir also means "stay on torch"
        _trace(model_dir, mode, partial)
        partial.replace(out)  # atomic: a process killed mid-export leaves no half-written model behind
    except Exception as exc:  # loading and tracing raise many kinds; all mean "stay on torch"
        raise OnnxExportError(f"{model_dir}: ONNX export failed ({type(exc).__name__}: {exc})") from exc
    finally:
        with contextlib.suppress(OSError):  # already renamed, or its directory was never made
            partial.unlink()


def _trace(model_dir: Path, mode: str, out: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    # Eager attention: the SDPA path bakes the traced sequence length into its mask.
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    sample = tokenizer(["a sample sentence to trace", "and a longer second one, so the batch pads"],
                       return_tensors="pt", padding=True)
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in sample]

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            tokens = self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state
            if mode == "cls":
                pooled = tokens[:, 0]
            else:
                mask = inputs[names.index("attention_mask")].unsqueeze(-1).to(tokens.dtype)
                pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    axes = {name: {0: "batch", 1: "tokens"} for name in names}
    # catch_warnings: the tracer's warnings about Python-side shape checks would reach the user's terminal.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Encoder(), tuple(sample[name] for name in names), str(out),
                          input_names=names, output_names=["embedding"],
                          dynamic_axes={**axes, "embedding": {0: "batch"}}, opset_version=OPSET, dynamo=False)


def ensure_exported(model_dir: Path, cache_dir: Path) -> Path:
    path = onnx_path(model_dir, cache_dir)
    if not path.exists():
        # Said on stderr (stdout may be `--json`): the first start on a machine pauses a few seconds here.
        print(f"paperchat: preparing the encoder for onnxruntime (once per model): {path}", file=sys.stderr)
        export(model_dir, path)
    return path


def load_onnx_embedding(model_dir: Path, cache_dir: Path, max_tokens: int, query_threads: int, batch_threads: int,
                        batch_size: int) -> OnnxEmbedding:
    """The cached export, made first if missing; a cache file onnxruntime cannot open is exported again."""
    path = ensure_exported(model_dir, cache_dir)

    def open_model() -> OnnxEmbedding:
        return OnnxEmbedding(str(model_dir), path, max_tokens, query_threads, batch_threads, batch_size)

    try:
        return open_model()
    except Exception:  # onnxruntime's load errors share no base class
        path.unlink(missing_ok=True)
        export(model_dir, path)
        return open_model()


class OnnxEmbedding(BaseEmbedding):
    """LlamaIndex embedding over an exported graph: the same unit vectors sentence-transformers gives.

    Questions run on `query_threads`, batches (ingest) on `batch_threads`; each count gets its own
    onnxruntime session, because a session's thread pool is fixed when it is created.
    """

    onnx_file: str
    _tokenizer: Any = PrivateAttr()
    _input_names: list[str] = PrivateAttr()
    _threads: dict[str, int] = PrivateAttr()
    _sessions: dict[int, Any] = PrivateAttr(default_factory=dict)

    def __init__(self, model_dir: str, onnx_file: Path, max_tokens: int, query_threads: int = 1,
                 batch_threads: int = 2, embed_batch_size: int = 16) -> None:
        from tokenizers import Tokenizer

        super().__init__(onnx_file=str(onnx_file), model_name=Path(model_dir).name, embed_batch_size=embed_batch_size)
        self._tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.enable_padding()
        self._threads = {"query": query_threads, "batch": batch_threads}
        self._input_names = [i.name for i in self._session(query_threads).get_inputs()]

    def _session(self, threads: int) -> Any:
        if threads not in self._sessions:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            # No busy-waiting between ops: on 2 shared cores a spinning pool starves the other process.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            self._sessions[threads] = ort.InferenceSession(self.onnx_file, options,
                                                           providers=["CPUExecutionProvider"])
        return self._sessions[threads]

    def _embed(self, texts: list[str], kind: str) -> list[list[float]]:
        encodings = self._tokenizer.encode_batch(texts)
        columns = {"input_ids": [e.ids for e in encodings], "attention_mask": [e.attention_mask for e in encodings],
                   "token_type_ids": [e.type_ids for e in encodings]}
        feed = {name: np.asarray(columns[name], dtype=np.int64) for name in self._input_names}
        return self._session(self._threads[kind]).run(None, feed)[0].tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embed([query], "query")[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed([text], "batch")[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts, "batch")
