"""A static (token-lookup) encoder distilled from the packaged MiniLM, for CPU-bound ingest of big collections.

MiniLM runs six transformer layers per token: about 10 abstracts/s on 2 CPU cores. A static
encoder keeps one vector per word piece (MiniLM's output for that piece alone, as model2vec
distils), centred and rotated onto its principal axes, weighted by log(1 + rank) so frequent
pieces count less (the word-piece vocabulary is ordered by frequency), and embeds a text as the
mean of its pieces' vectors: thousands of abstracts/s, no torch at query time.
What it costs in retrieval quality is measured on the dev set in docs/benchmarks.md.

    python -m assistant.static_embedding --out DIR    # then embedding_model = DIR
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

MARKER = "static_embedding.json"
WEIGHTS = "static_embedding.npy"


def is_static_model(model_dir: str) -> bool:
    return (Path(model_dir) / MARKER).exists()


class StaticEmbedding(BaseEmbedding):
    """LlamaIndex embedding over a distilled token table: mean of word-piece vectors, unit length."""

    model_dir: str
    _tokenizer: Any = PrivateAttr()
    _table: np.ndarray = PrivateAttr()

    def __init__(self, model_dir: str, embed_batch_size: int = 256) -> None:
        from tokenizers import Tokenizer

        super().__init__(model_dir=model_dir, model_name=Path(model_dir).name, embed_batch_size=embed_batch_size)
        self._tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self._table = np.load(Path(model_dir) / WEIGHTS, mmap_mode="r")

    def _embed(self, texts: list[str]) -> list[list[float]]:
        out = np.zeros((len(texts), self._table.shape[1]), dtype=np.float32)
        for row, encoding in enumerate(self._tokenizer.encode_batch(texts, add_special_tokens=False)):
            if encoding.ids:
                out[row] = self._table[encoding.ids].mean(axis=0)
        out /= np.linalg.norm(out, axis=1, keepdims=True).clip(min=1e-12)
        return out.tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embed([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts)


def distill(teacher_dir: Path, out_dir: Path, threads: int = 2, batch: int = 1024) -> Path:
    """Write a static model distilled from a BERT-style sentence-transformers teacher (minutes on a CPU)."""
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModel

    torch.set_num_threads(threads)
    tokenizer = Tokenizer.from_file(str(teacher_dir / "tokenizer.json"))
    teacher = AutoModel.from_pretrained(str(teacher_dir)).eval()
    size = tokenizer.get_vocab_size()
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    table = np.zeros((size, teacher.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, size, batch):
            ids = torch.tensor([[cls, i, sep] for i in range(start, min(size, start + batch))])
            hidden = teacher(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
            table[start:start + len(ids)] = hidden.mean(dim=1).numpy()  # the teacher's own mean pooling
    centred = table - table.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    table = (centred @ axes.T) * np.log1p(np.arange(size, dtype=np.float32))[:, None]
    out_dir.mkdir(parents=True, exist_ok=True)
    np.save(out_dir / WEIGHTS, table.astype(np.float32))
    (out_dir / "tokenizer.json").write_text((teacher_dir / "tokenizer.json").read_text())
    (out_dir / MARKER).write_text(json.dumps({"teacher": teacher_dir.name, "dims": int(table.shape[1]),
                                              "method": "token outputs, PCA rotation, log(1+rank) weights"}))
    return out_dir


def main() -> None:
    from assistant.embeddings import resolve_model_path
    from assistant.runtime import configure_environment
    from assistant.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for the static model")
    args = parser.parse_args()
    configure_environment()
    settings = load_settings()
    teacher = Path(resolve_model_path(settings.model_copy(update={"embedding_model": ""})))
    print(f"static model -> {distill(teacher, args.out, settings.ingest_threads)}")


if __name__ == "__main__":
    main()
