"""Process helpers the benchmark scripts share: a free loopback port, and stopping a server."""

from __future__ import annotations

import socket
import subprocess


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Terminate and reap `process`; killed if it does not stop within `timeout_s`."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout_s)
