"""Embed papers into a vector file, on this machine or another one with a GPU.

    python -m ingest.embed_batch PATHS... --model DIR --chunk-max-words N --out vectors.npz [--device cuda]

Needs only the readers, the chunker, numpy and sentence-transformers (no Chroma, LlamaIndex or
settings), so it runs on a bare GPU machine. `paperchat embed` calls the same code with the
collection's settings; `paperchat ingest --vectors FILE` then loads the vectors instead of
computing them. Chunk size and model must match the collection's, or the vectors are not used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ingest.chunking import embedding_text, paper_chunks
from ingest.readers import expand_paths, read_file
from ingest.records import Paper
from ingest.vectorfile import VectorFile

EncodeFn = Callable[[list[str]], np.ndarray]


def read_papers(paths: Sequence[Path], max_file_bytes: int | None = None) -> list[Paper]:
    """Unique papers of the files (first occurrence wins); problems are the ingest's to report."""
    files, _ = expand_paths(list(paths))
    by_id: dict[str, Paper] = {}
    for path in files:
        for paper in read_file(path, max_file_bytes).papers:
            by_id.setdefault(paper.id, paper)
    return list(by_id.values())


def chunk_texts(papers: Sequence[Paper], max_words: int) -> list[str]:
    return list(dict.fromkeys(embedding_text(p.title, c.text) for p in papers for c in paper_chunks(p, max_words)))


def embed_texts(texts: list[str], encode: EncodeFn, model: str, batch: int = 4096) -> VectorFile:
    """Encode in length order (little padding per model batch) and key each vector by its text."""
    ordered = sorted(texts, key=len)
    vectors = np.concatenate([encode(ordered[i:i + batch]) for i in range(0, len(ordered), batch)]) if ordered \
        else np.zeros((0, 0), dtype=np.float32)
    return VectorFile.from_texts(model, ordered, vectors)


def sentence_transformer_encoder(model_dir: str, device: str, batch_size: int) -> EncodeFn:
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_dir, device=device)
    if device.startswith("cuda"):
        model.half()  # fp16 on the GPU: same vectors to ~1e-3 cosine, about twice the throughput
    else:
        model.float()  # CPUs without fp16 arithmetic run half-precision weights many times slower

    def encode(texts: list[str]) -> np.ndarray:
        with torch.inference_mode():
            return model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                                show_progress_bar=False).astype(np.float32)

    return encode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--model", required=True, help="sentence-transformers model directory")
    parser.add_argument("--chunk-max-words", type=int, required=True, help="the collection's chunk_max_words")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=256, help="model batch (256 suits a GPU, 16 a CPU)")
    parser.add_argument("--max-file-bytes", type=int, help="skip larger files (default: no limit)")
    parser.add_argument("--dtype", choices=("float16", "int8"), default="float16")
    parser.add_argument("--parts", type=int, default=1, help="write OUT as this many files, OUT.partK.npz")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    papers = read_papers(args.paths, args.max_file_bytes)
    texts = chunk_texts(papers, args.chunk_max_words)
    read_s = time.perf_counter() - started
    encode = sentence_transformer_encoder(args.model, args.device, args.batch_size)
    encode(texts[:args.batch_size])  # warm-up: CUDA kernels and allocator, not part of throughput
    began = time.perf_counter()
    vectors = embed_texts(texts, encode, Path(args.model).name)
    embed_s = time.perf_counter() - began
    outputs = [args.out] if args.parts == 1 else [args.out.with_suffix(f".part{k}.npz") for k in range(args.parts)]
    for path, part in zip(outputs, vectors.parts(len(outputs)), strict=True):
        part.save(path, args.dtype)
    print(json.dumps({"papers": len(papers), "chunks": len(texts), "read_chunk_s": round(read_s, 2),
                      "embed_s": round(embed_s, 2), "abstracts_per_s": round(len(papers) / embed_s, 1),
                      "chunks_per_s": round(len(texts) / embed_s, 1), "device": args.device,
                      "files": [str(p) for p in outputs], "bytes": sum(p.stat().st_size for p in outputs)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
