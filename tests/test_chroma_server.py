"""Chroma server mode against a real `chroma run` process: vectors go to the server, errors stay clean."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import CLI_TIMEOUT_S, make_settings, run_cli
from conftest import E2E_PAPERS as PAPERS
from conftest import E2E_TITLES as TITLES

HOST = "127.0.0.1"
SERVER_START_S = 60
FUSEMAX_QUESTION = "Which accelerator design maps attention onto a spatial array using cascades of Einsums?"



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


def start_chroma(path: Path, port: int) -> subprocess.Popen[bytes]:
    """`chroma run` on `port` over `path`, returned once its heartbeat answers."""
    log_path = path.with_name(path.name + ".log")
    with log_path.open("a") as log:
        process = subprocess.Popen(
            [chroma_executable(), "run", "--path", str(path), "--host", HOST, "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    deadline = time.monotonic() + SERVER_START_S
    while not heartbeat(port):
        if process.poll() is not None:
            pytest.fail(f"chroma run exited with {process.returncode}:\n{log_path.read_text()}")
        if time.monotonic() > deadline:
            stop_chroma(process)
            pytest.fail(f"chroma run did not answer within {SERVER_START_S}s:\n{log_path.read_text()}")
        time.sleep(0.2)
    return process


def stop_chroma(process: subprocess.Popen[bytes]) -> None:
    """Stop (and reap) a server; killed if it does not stop within 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


@contextmanager
def chroma_server(path: Path) -> Iterator[int]:
    """`chroma run` on a free port, up once its heartbeat answers; stopped (and reaped) on exit."""
    port = free_port()
    process = start_chroma(path, port)
    try:
        yield port
    finally:
        stop_chroma(process)


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

    result = run_cli("ask", FUSEMAX_QUESTION, "--json", *remote, cwd=tmp_path)
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


class ChatProcess:
    """`paperchat chat` as a user drives it: one question per prompt, each reply read up to the next prompt."""

    PROMPT = "\nyou> "

    def __init__(self, *args: object, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERCHAT_")}
        env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
        self.stderr_path = cwd / "chat.stderr"
        with self.stderr_path.open("w") as stderr:
            self.process = subprocess.Popen([sys.executable, "-m", "assistant.cli", "chat", *map(str, args)],
                                            cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=stderr)
        self.output = bytearray()
        self.lock = threading.Lock()
        # A reader thread, so a silent process fails the test at a deadline instead of hanging it.
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        while chunk := self.process.stdout.read1(4096):
            with self.lock:
                self.output += chunk

    def reply(self, timeout: float = CLI_TIMEOUT_S) -> str:
        """Everything printed up to the next prompt (consumed)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                text = self.output.decode("utf-8", "replace")
                if self.PROMPT in text:
                    head, _, rest = text.partition(self.PROMPT)
                    self.output = bytearray(rest.encode("utf-8"))
                    return head
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"paperchat chat gave no prompt (exit {self.process.poll()}):\n{text}\n"
                            f"{self.stderr_path.read_text()}")
            time.sleep(0.1)

    def ask(self, question: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(question.encode() + b"\n")
        self.process.stdin.flush()
        return self.reply()

    def quit(self) -> tuple[int, str]:
        assert self.process.stdin is not None
        self.process.stdin.write(b"/quit\n")
        self.process.stdin.close()
        return self.process.wait(timeout=60), self.stderr_path.read_text()


def test_server_outage_gives_a_clear_error_and_the_same_service_recovers(tmp_path: Path) -> None:
    """Kill the Chroma server under a running service and CLI chat, then bring it back on the same port."""
    from assistant.chat import Conversation
    from assistant.service import PaperChat
    from assistant.store import StoreError
    from ui.app import PaperChatUI

    corpus = tmp_path / "papers.jsonl"
    corpus.write_text("".join(json.dumps(p) + "\n" for p in PAPERS), encoding="utf-8")
    db, port = tmp_path / "db", free_port()
    server = start_chroma(db, port)
    chat: ChatProcess | None = None
    try:
        service = PaperChat(make_settings(tmp_path / "index", [corpus], chroma_host=HOST, chroma_port=port))
        assert len(service.ingest().added) == len(PAPERS)
        conversation = Conversation()
        assert service.ask(FUSEMAX_QUESTION, conversation).sources[0].title.startswith("FuseMax")
        remote = ("--chroma-host", HOST, "--chroma-port", port, "--data-dir", tmp_path / "index",
                  "--config", tmp_path / "index.toml")
        chat = ChatProcess(*remote, cwd=tmp_path)
        chat.reply()  # the greeting, once the chat is ready
        assert "FuseMax" in chat.ask(FUSEMAX_QUESTION)

        stop_chroma(server)
        assert not heartbeat(port)
        down = service.ask("What does it report?", conversation)
        assert down.kind == "error" and not down.sources
        assert down.text.startswith(f"the Chroma server at {HOST}:{port} is not answering (ConnectError"), down.text
        assert f"chroma run --host {HOST} --port {port}" in down.text and "Traceback" not in down.text
        with pytest.raises(StoreError, match=f"Chroma server at {HOST}:{port} is not answering"):
            service.stats()
        # The web UI's handler over the same service: the error is the chat's answer, the session lives on.
        *_, (shown_answer, messages, _, _, _, session) = PaperChatUI(service).ask(FUSEMAX_QUESTION, None, None)
        assert shown_answer["kind"] == "error" and f"Chroma server at {HOST}:{port}" in messages[-1]["content"]
        assert "Traceback" not in messages[-1]["content"] and "answering failed" not in messages[-1]["content"]
        shown = chat.ask(FUSEMAX_QUESTION)
        assert f"the Chroma server at {HOST}:{port} is not answering" in shown and "chroma run --host" in shown
        assert "Traceback" not in shown and "checked answer" not in shown  # printed once, as the answer
        # A new command while the server is down: one line naming the server and what to do.
        result = run_cli("ask", FUSEMAX_QUESTION, *remote, cwd=tmp_path)
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr.strip().splitlines() == [result.stderr.strip()]
        assert result.stderr.startswith(f"paperchat: error: cannot open Chroma server at {HOST}:{port}")
        assert "chroma run --host" in result.stderr

        server = start_chroma(db, port)  # same port, same data path
        back = service.ask("What does it report?", conversation)  # the same object: no restart of paperchat
        assert back.kind == "lookup" and back.sources[0].title.startswith("FuseMax"), back.text
        assert service.stats()["chunks"] >= len(PAPERS)
        assert "FuseMax" in chat.ask(FUSEMAX_QUESTION)
        *_, (shown_answer, *_) = PaperChatUI(service).ask(FUSEMAX_QUESTION, None, session)
        assert shown_answer["kind"] == "lookup"
        code, stderr = chat.quit()
        chat = None
        assert code == 0 and "Traceback" not in stderr, stderr
    finally:
        if chat is not None and chat.process.poll() is None:
            chat.process.kill()
            chat.process.wait(timeout=15)
        stop_chroma(server)
