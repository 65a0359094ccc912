"""The static (token-lookup) encoder: its arithmetic, its routing from settings, and ingest over it.

The distillation itself (`python -m assistant.static_embedding`, minutes on 2 cores) runs in the
benchmarks; here the table is a fixed random one over MiniLM's real tokenizer.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import SMALL_CORPUS, make_settings

from assistant.embeddings import load_embedding, resolve_model_path
from assistant.static_embedding import MARKER, WEIGHTS, StaticEmbedding, is_static_model


@pytest.fixture(scope="module")
def static_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from assistant.settings import load_settings

    folder = tmp_path_factory.mktemp("static") / "test-static"
    folder.mkdir()
    teacher = Path(resolve_model_path(load_settings()))
    shutil.copy(teacher / "tokenizer.json", folder / "tokenizer.json")
    vocab = json.loads((teacher / "tokenizer.json").read_text())["model"]["vocab"]
    np.save(folder / WEIGHTS, np.random.default_rng(0).normal(size=(len(vocab), 32)).astype(np.float32))
    (folder / MARKER).write_text("{}")
    return folder


def test_a_text_is_the_unit_mean_of_its_word_piece_vectors(static_dir: Path) -> None:
    model = StaticEmbedding(str(static_dir))
    table = np.load(static_dir / WEIGHTS)
    ids = model._tokenizer.encode("Sparse attention for long documents", add_special_tokens=False).ids
    expected = table[ids].mean(axis=0)
    expected /= np.linalg.norm(expected)
    assert np.allclose(model.get_text_embedding("Sparse attention for long documents"), expected, atol=1e-6)
    assert np.allclose(model.get_query_embedding("Sparse attention for long documents"), expected, atol=1e-6)
    batch = model.get_text_embedding_batch(["a", "Sparse attention for long documents", ""])
    assert np.allclose(batch[1], expected, atol=1e-6) and not any(batch[2])  # no pieces: zero vector, no NaN


def test_settings_route_a_static_directory_to_the_static_encoder(static_dir: Path, tmp_path: Path) -> None:
    assert not is_static_model(resolve_model_path(make_settings(tmp_path / "a")))
    settings = make_settings(tmp_path / "b", embedding_model=str(static_dir))
    assert is_static_model(resolve_model_path(settings))
    assert isinstance(load_embedding(settings), StaticEmbedding)


def test_ingest_and_search_over_the_static_encoder_then_switch_back(static_dir: Path, make_service: Any) -> None:
    service = make_service(embedding_model=str(static_dir))
    first = service.ingest([SMALL_CORPUS])
    assert first.chunks_embedded > 0 and first.total_papers == 15
    hits = service.search("FuseMax accelerator", top_k=3)
    assert hits and "FuseMax" in hits[0].paper.title  # keyword half still finds exact names

    # Another encoder on the same data dir: every chunk is re-embedded, nothing is duplicated.
    again = make_service()  # the same data dir, the default (MiniLM) encoder
    switched = again.ingest([SMALL_CORPUS])
    assert switched.chunks_embedded == first.chunks_embedded
    assert again.store.collection.count() == first.chunks_embedded
