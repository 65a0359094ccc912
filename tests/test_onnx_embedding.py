"""The onnxruntime encoder (the default on CPU): same vectors as torch, cached export, and its fallbacks.

The packaged all-MiniLM-L6-v2 is exported once into the shared model cache (as `paperchat` does on a
user's first run); the tests that break a model work on copies with their own cache dirs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import REPO_ROOT, SMALL_CORPUS, make_settings, small_papers

from assistant.embeddings import load_embedding, resolve_model_path
from assistant.onnx_embedding import OnnxEmbedding, ensure_exported, load_onnx_embedding, onnx_path
from assistant.settings import load_settings

PACKAGED_MODEL = Path(resolve_model_path(load_settings()))


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> OnnxEmbedding:
    settings = make_settings(tmp_path_factory.mktemp("onnx") / "data")
    model = load_embedding(settings)
    assert isinstance(model, OnnxEmbedding)  # the default on a CPU machine
    return model


@pytest.fixture(scope="module")
def torch_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from assistant.torch_embedding import TorchEmbedding

    model = load_embedding(make_settings(tmp_path_factory.mktemp("torch") / "data", embedding_runtime="torch"))
    assert isinstance(model, TorchEmbedding)
    return model


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    """A private copy of the packaged model dir, safe to break."""
    return Path(shutil.copytree(PACKAGED_MODEL, tmp_path / "minilm-copy"))


def test_onnx_and_torch_give_the_same_unit_vectors(onnx_model: OnnxEmbedding, torch_model: Any) -> None:
    # Lengths from 1 word to past the 256-token truncation, in one padded batch and one at a time.
    texts = ["GPU", "Compare ZeRO and ZeRO++"] + [p["abstract"] for p in small_papers()[:6]]
    texts.append(" ".join(p["abstract"] for p in small_papers()[:3]))  # > 256 word pieces: truncated alike
    onnx_batch = np.array(onnx_model.get_text_embedding_batch(texts))
    torch_batch = np.array(torch_model.get_text_embedding_batch(texts))
    assert np.allclose(np.linalg.norm(onnx_batch, axis=1), 1.0, atol=1e-5)
    assert (onnx_batch * torch_batch).sum(axis=1).min() > 0.99999
    assert np.allclose(onnx_model.get_text_embedding(texts[3]), onnx_batch[3], atol=1e-5)  # padding changes nothing
    query = "memory-efficient attention on GPUs"
    assert float(np.dot(onnx_model.get_query_embedding(query), torch_model.get_query_embedding(query))) > 0.99999


def test_the_export_is_made_once_and_named_by_the_model_files(
        model_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cache"
    first = ensure_exported(model_copy, cache)
    assert "preparing the encoder for onnxruntime (once per model)" in capsys.readouterr().err  # the pause, explained
    stamp = first.stat().st_mtime_ns
    assert ensure_exported(model_copy, cache) == first and first.stat().st_mtime_ns == stamp  # reused
    assert capsys.readouterr().err == ""
    assert [p.name for p in cache.glob("*.onnx")] == [first.name]
    assert not list(cache.rglob("*.partial"))  # no partial file left behind

    (model_copy / "config.json").write_text((model_copy / "config.json").read_text() + "\n")  # the model changed
    assert onnx_path(model_copy, cache) != first

    # A damaged cache file is exported again rather than failing every start.
    damaged = onnx_path(model_copy, cache)
    damaged.write_bytes(b"not a model")
    model = load_onnx_embedding(model_copy, cache, 256, 1, 1, 16)
    assert damaged.stat().st_size > 1_000_000 and len(model.get_query_embedding("attention")) == 384


def test_every_copy_of_a_model_shares_one_export(
        model_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Another venv or clone installs the same files at another path with other modification times.
    cache = tmp_path / "cache"
    other_install = Path(shutil.copytree(model_copy, tmp_path / "other-venv" / model_copy.name,
                                         copy_function=shutil.copyfile))
    assert (other_install / "config.json").stat().st_mtime_ns != (model_copy / "config.json").stat().st_mtime_ns
    first = ensure_exported(model_copy, cache)
    capsys.readouterr()
    assert ensure_exported(other_install, cache) == first
    assert capsys.readouterr().err == ""  # nothing exported the second time
    assert len(list(cache.glob("*.onnx"))) == 1

    # The remembered digest is only a shortcut: a damaged one is computed again, and a changed file changes it.
    for memo in (cache / "fingerprints").iterdir():
        memo.write_text("garbage")
    assert onnx_path(other_install, cache) == first
    weights = other_install / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 1  # one bit in the middle of the weights, same size
    weights.write_bytes(bytes(data))
    assert onnx_path(other_install, cache) != first


def test_a_model_the_exporter_refuses_runs_on_torch_with_one_line_saying_so(
        model_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.torch_embedding import TorchEmbedding

    pooling = model_copy / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_max_tokens=True)
    pooling.write_text(json.dumps(config))
    model = load_embedding(make_settings(tmp_path / "data", embedding_model=str(model_copy),
                                         model_cache_dir=tmp_path / "cache"))
    assert isinstance(model, TorchEmbedding)
    assert "pooling ['pooling_mode_max_tokens'] is not exported to ONNX; embedding with torch instead" in (
        capsys.readouterr().err)
    assert not list((tmp_path / "cache").glob("*.onnx*"))  # no export, not even a partial one


def test_a_cache_dir_that_cannot_be_written_leaves_the_model_on_torch(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.torch_embedding import TorchEmbedding

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache dir should be")
    model = load_embedding(make_settings(tmp_path / "data", model_cache_dir=blocker / "cache"))
    assert isinstance(model, TorchEmbedding) and len(model.get_query_embedding("attention")) == 384
    assert "ONNX export failed" in capsys.readouterr().err


def test_answering_never_imports_torch(onnx_model: OnnxEmbedding, make_service: Any, tmp_path: Path) -> None:
    make_service().ingest([SMALL_CORPUS])
    script = ("import sys; from assistant.service import PaperChat; from assistant.settings import load_settings; "
              "answer = PaperChat(load_settings()).ask('What does FuseMax accelerate?'); "
              "print(sum('FuseMax' in t for t in answer.cited_titles), 'torch' in sys.modules, "
              "'sentence_transformers' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERCHAT_")}
    env.update(PAPERCHAT_DATA_DIR=str(tmp_path / "data"), PAPERCHAT_CORPUS=str(SMALL_CORPUS))
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    cited, torch_loaded, st_loaded = done.stdout.split()
    assert int(cited) == 1 and torch_loaded == "False" and st_loaded == "False"
