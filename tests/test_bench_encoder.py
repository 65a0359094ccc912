"""bench/bench_encoder.py: its FLOP count agrees with torch's own counter, and the script runs end to end.

The ceiling it prints (docs/benchmarks.md) rests on that count, so the count is checked against
the real model rather than against a copy of its formula.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT, SMALL_CORPUS

from assistant.embeddings import resolve_model_path
from assistant.settings import load_settings

sys.path.insert(0, str(REPO_ROOT / "bench"))
import bench_encoder  # bench/ is not a package: imported by path

MODEL_DIR = Path(resolve_model_path(load_settings()))


@pytest.fixture(scope="module")
def bert() -> Any:
    from transformers import AutoModel

    return AutoModel.from_pretrained(str(MODEL_DIR), attn_implementation="eager").eval()


@pytest.mark.parametrize("pieces", [16, 133, 256])
def test_transformer_flops_match_torch_flop_counter(bert: Any, pieces: int) -> None:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    ids = torch.randint(1000, 2000, (1, pieces))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        bert(input_ids=ids, attention_mask=torch.ones_like(ids))
    counted = bench_encoder.transformer_flops([pieces], MODEL_DIR)
    assert counted is not None
    # torch also counts the pooler (one 384x384 layer on the first token), which sentence embeddings skip.
    assert counted == pytest.approx(counter.get_total_flops(), rel=1e-3)


def test_a_model_without_a_transformer_config_gets_no_flop_figures(tmp_path: Path) -> None:
    assert bench_encoder.transformer_flops([10], tmp_path) is None


def test_the_benchmark_prints_its_figures(tmp_path: Path) -> None:
    env = {**os.environ, "PAPERCHAT_DATA_DIR": str(tmp_path / "data")}
    run = subprocess.run([sys.executable, "bench/bench_encoder.py", "--corpus", str(SMALL_CORPUS), "--limit", "4"],
                         cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=True)
    figures = dict(line.split(None, 1) for line in run.stdout.splitlines())
    assert figures["abstracts"] == "4"
    assert float(figures["pieces_per_abstract"]) > 50
    assert float(figures["encoder_gflops"]) > 0 and float(figures["machine_gemm_gflops"]) > 0
    assert float(figures["times_machine_gemm"]) > 0
