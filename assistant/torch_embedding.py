"""The sentence-transformers model run by torch (CUDA, `embedding_runtime = "torch"`, or ONNX export refused)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from llama_index.embeddings.huggingface import HuggingFaceEmbedding
from pydantic import PrivateAttr


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class TorchEmbedding(HuggingFaceEmbedding):
    """HuggingFaceEmbedding that embeds batches (ingest) on `batch_threads` and questions on the process's
    own setting (`query_threads`, set by assistant.runtime.configure_torch): torch threads are process-wide."""

    _batch_threads: int = PrivateAttr()

    def __init__(self, batch_threads: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._batch_threads = batch_threads

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        with torch_threads(self._batch_threads):
            return super()._get_text_embeddings(texts)
