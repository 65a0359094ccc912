"""Chroma server mode against a real `chroma run` process: vectors go to the server, errors stay clean."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import E2E_PAPERS as PAPERS
from conftest import E2E_TITLES as TITLES
from conftest import run_cli

HOST = "127.0.0.1"
SERVER_START_S = 60



def chroma_executable() -> str:
    beside = Path(sys.executable).with_name("chroma")
    found = str(beside) if beside.exists() else shutil.which("chroma")
    assert found, "the `chroma` command (installed with chromadb) is missing"
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def heartbeat(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/api/v2/heartbeat", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def chroma_server(path: Path) -> Iterator[int]:
    """`chroma run` on a free port, up once its heartbeat answers; stopped (and reaped) on exit."""
    port = free_port()
    log_path = path.with_name(path.name + ".log")
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [chroma_executable(), "run", "--path", str(path), "--host", HOST, "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + SERVER_START_S
        while not heartbeat(port):
            if process.poll() is not None:
                pytest.fail(f"chroma run exited with {process.returncode}:\n{log_path.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"chroma run did not answer within {SERVER_START_S}s:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with chroma_server(tmp_path_factory.mktemp("chroma-server") / "db") as port:
        yield port


def test_ingest_and_ask_through_server(server: int, tmp_path: Path) -> None:
    import chromadb
    from chromadb.config import Settings

    corpus = tmp_path / "papers.jsonl"
    corpus.write_text("".join(json.dumps(p) + "\n" for p in PAPERS), encoding="utf-8")
    data_dir = tmp_path / "index"
    remote = ("--chroma-host", HOST, "--chroma-port", server, "--data-dir", data_dir)

    result = run_cli("ingest", *remote, "--json", corpus, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    summary = json.loads(result.stdout)
    assert summary["added"] == len(PAPERS)
    assert summary["chunks_embedded"] >= len(PAPERS)

    client = chromadb.HttpClient(host=HOST, port=server, settings=Settings(anonymized_telemetry=False))
    collection = client.get_collection("paperchat")
    assert collection.count() == summary["chunks_embedded"]
    stored = collection.get(limit=5, include=["metadatas"])
    assert {m["title"] for m in stored["metadatas"]} <= TITLES
    # Vectors live on the server; only the catalog and keyword index are local.
    assert (data_dir / "catalog.sqlite").is_file()
    assert not (data_dir / "chroma").exists()

    question = "Which accelerator design maps attention onto a spatial array using cascades of Einsums?"
    result = run_cli("ask", question, "--json", *remote, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    answer = json.loads(result.stdout)
    assert answer["sources"]
    assert answer["sources"][0]["title"].startswith("FuseMax")
    assert answer["retrieved"][0]["title"].startswith("FuseMax")


def test_ask_with_server_stopped_fails_cleanly(tmp_path: Path) -> None:
    with chroma_server(tmp_path / "db") as port:
        pass  # started, answered its heartbeat, and is now stopped
    assert not heartbeat(port)
    result = run_cli("ask", "What does FuseMax do?", "--chroma-host", HOST, "--chroma-port", port,
                     "--data-dir", tmp_path / "index", cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"paperchat: error: cannot open Chroma server at {HOST}:{port}")
    assert result.stdout == ""
