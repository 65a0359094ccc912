"""Encoder ceiling: the abstracts/s the configured encoder can reach on this machine, and why.

    .venv/bin/python bench/bench_encoder.py [--corpus DIR] [--limit 200]

Prints figures (not pass/fail): the corpus's word pieces per abstract as ingest embeds them, the
encoder's word pieces/s on `ingest_threads` threads, the arithmetic rate that implies (transformer
FLOPs counted from the model's config and each text's real length), this machine's fp32 matrix
multiply rate (numpy's BLAS on all cores: about the most any fp32 encoder gets), and the abstracts/s
ceiling of the encoder alone (an ingest also writes to Chroma). The GFLOP/s a target rate needs,
divided by the machine's, says how far out of reach it is.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_core import machine  # noqa: E402 - after the path set-up above


def gemm_gflops(seconds: float = 2.0) -> float:
    """fp32 GEMM rate at the shape of a MiniLM feed-forward layer over a batch of 16 chunks of 128 pieces."""
    rng = np.random.default_rng(0)
    a = rng.random((2048, 384), dtype=np.float32)
    b = rng.random((384, 1536), dtype=np.float32)
    a @ b  # warm-up: BLAS thread pool start
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        a @ b
        runs += 1
    return 2 * a.shape[0] * a.shape[1] * b.shape[1] * runs / (time.perf_counter() - started) / 1e9


def transformer_flops(lengths: list[int], model_dir: Path) -> float | None:
    """Multiply-adds x 2 of a BERT encoder stack over texts of these lengths (embeddings and pooling excluded);
    None for a model without a transformer config (the static encoder)."""
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    hidden, inner, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    per_piece = 2 * (4 * hidden * hidden + 2 * hidden * inner)  # Q, K, V, output projections; feed-forward
    return float(sum(layers * (n * per_piece + 4 * n * n * hidden) for n in lengths))  # + scores and weighted sum


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, action="append", help="default: the configured corpus")
    parser.add_argument("--limit", type=int, default=0, help="embed only the first N abstracts (0: all)")
    parser.add_argument("--target", type=float, default=50.0, help="abstracts/s to compare against")
    args = parser.parse_args()

    from tokenizers import Tokenizer

    from assistant.embeddings import load_embedding, resolve_model_path
    from assistant.settings import load_settings
    from ingest.embed_batch import chunk_texts, read_papers

    settings = load_settings()
    papers = read_papers(args.corpus or settings.corpus)
    papers = papers[:args.limit] if args.limit else papers
    if not papers:
        sys.exit(f"bench_encoder: no papers in {[str(p) for p in args.corpus or settings.corpus]}")
    texts = sorted(chunk_texts(papers, settings.chunk_max_words), key=len)  # as ingest embeds them
    model_dir = Path(resolve_model_path(settings))
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=settings.embed_max_tokens)
    lengths = [len(e.ids) for e in tokenizer.encode_batch(texts)]

    model = load_embedding(settings)
    model.get_text_embedding_batch(texts[:32])  # warm-up: session and thread pool start
    started = time.perf_counter()
    model.get_text_embedding_batch(texts)
    embed_s = time.perf_counter() - started

    pieces = sum(lengths)
    figures: dict[str, float | str] = {
        "machine": machine(),
        "encoder": f"{type(model).__name__} {model_dir.name}, {settings.ingest_threads} threads",
        "abstracts": len(papers),
        "chunks": len(texts),
        "pieces_per_abstract": pieces / len(papers),
        "pieces_per_chunk_mean": pieces / len(texts),
        "encoder_pieces_per_s": pieces / embed_s,
        "encoder_abstracts_per_s": len(papers) / embed_s,
    }
    flops = transformer_flops(lengths, model_dir)
    if flops is not None:
        machine_gflops = gemm_gflops()
        needed_gflops = args.target * flops / len(papers) / 1e9
        encoder_gflops = flops / embed_s / 1e9
        figures |= {"encoder_gflops": encoder_gflops, "machine_gemm_gflops": machine_gflops,
                    "encoder_share_of_gemm": encoder_gflops / machine_gflops,
                    f"gflops_for_{args.target:g}_per_s": needed_gflops,
                    "times_machine_gemm": needed_gflops / machine_gflops}
    for key, value in figures.items():
        print(f"{key:24} {value:.2f}" if isinstance(value, float) else f"{key:24} {value}")


if __name__ == "__main__":
    main()
