"""Process-wide set-up that must happen before heavy libraries import: offline, quiet, few threads."""

from __future__ import annotations

import contextlib
import os
from functools import cache
from pathlib import Path


def configure_environment() -> None:
    """Offline model loading, no telemetry, LlamaIndex's bundled tiktoken cache. Idempotent."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # no "Loading weights" bar on every start
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        import importlib.util

        spec = importlib.util.find_spec("llama_index.core")
        if spec and spec.origin:
            os.environ["TIKTOKEN_CACHE_DIR"] = str(Path(spec.origin).parent / "_static" / "tiktoken_cache")


@cache
def configure_torch(threads: int) -> None:
    """Cap torch's threads once per process: oversubscribed cores made queries 30x slower."""
    import torch

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # already set by an earlier torch call in this process
        torch.set_num_interop_threads(1)


@cache
def configure_llama_index() -> None:
    """No LLM unless one is configured: LlamaIndex must never reach for OpenAI by default."""
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core.llms.mock import MockLLM

    # What `Settings.llm = None` resolves to, minus the print() to stdout that broke `ask --json`.
    LlamaSettings.llm = MockLLM()
