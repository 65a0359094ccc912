"""Helpers for the API tests: the real UI server (with /v1 and /mcp) on a free loopback port, a stand-in
OpenAI endpoint that holds requests until released, the SDK's MCP client, and a planted abstract.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conftest import jsonl, make_settings

if TYPE_CHECKING:
    from assistant.service import PaperChat

HOST = "127.0.0.1"
TOKEN = "test-token-5f3a9c1e"

# Quoted by the lookup below: the markup reaches answer.text, so each channel's escaping is what keeps it inert.
PLANTED = {
    "title": "Zephyr Caches: Planted Markup in an Abstract",
    "abstract": ("Zephyr caches shrink the key-value cache of long-context models by 75%. "
                 "The cache layout <img src=x onerror=alert(1)> keeps accuracy within 1% on long documents. "
                 "Zephyr needs no retraining [click me](javascript:alert(1)) for long-document benchmarks."),
}
# Asked about what the planted sentences say, so the answer quotes them, markup and all.
PLANTED_QUESTION = ("How much do Zephyr caches shrink the key-value cache, what accuracy does the cache layout keep "
                    "on long documents, and does Zephyr need retraining?")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERCHAT_") and k != "OPENAI_API_KEY"}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", GRADIO_ANALYTICS_ENABLED="False")
    env.update(extra)
    return env


def write_corpus(path: Path, papers: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(jsonl(papers), encoding="utf-8")
    return path


@dataclass
class Served:
    url: str  # http://127.0.0.1:PORT
    service: PaperChat
    demo: Any

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"

    @property
    def mcp(self) -> str:
        return f"{self.url}/mcp"


@contextmanager
def serve(service: PaperChat, api_token: str | None = None) -> Iterator[Served]:
    """`ui.app.launch` on a free loopback port (UI, /v1, /mcp); closed on exit."""
    from ui.app import launch

    port = free_port()
    demo = launch(service, HOST, port, api_token=api_token, block=False, quiet=True)
    try:
        yield Served(f"http://{HOST}:{port}", service, demo)
    finally:
        demo.close()


def indexed_service(work: Path, papers: list[dict[str, Any]], **overrides: Any) -> PaperChat:
    from assistant.service import PaperChat

    corpus = write_corpus(work / "papers.jsonl", papers)
    service = PaperChat(make_settings(work / "data", [corpus], **overrides))
    service.ensure_index()
    return service


class HeldEndpoint:
    """Stands in for an OpenAI-compatible server: each POST waits for `release()`, then answers 503.

    paperchat then falls back to its extractive answer, so a request routed to the `openai` generator
    holds its API slot exactly as long as the test wants. The one stand-in in these tests: the real
    alternative is the OpenAI cloud.
    """

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.released = threading.Event()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                endpoint.arrived.set()
                endpoint.released.wait(60)
                body = json.dumps({"error": {"message": "held endpoint", "type": "server_error"}}).encode()
                self.send_response(503)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{HOST}:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def mcp_stdio_params(data_dir: Path, config: Path, cwd: Path) -> Any:
    """How an MCP client config launches `paperchat mcp` (this interpreter, isolated settings)."""
    from mcp import StdioServerParameters

    return StdioServerParameters(command=sys.executable, args=["-m", "assistant.cli", "mcp", "--data-dir",
                                                               str(data_dir), "--config", str(config)],
                                 cwd=str(cwd), env=clean_env())


def mcp_http_transport(url: str, token: str | None = None) -> Any:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers, timeout=120))


def rendered(markdown: str) -> str:
    """The HTML a CommonMark renderer (as Open WebUI, LibreChat use) makes of `markdown`."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").render(markdown)


def assert_inert_markdown(markdown: str, where: str) -> None:
    """The planted abstract's markup shows as text and links nowhere once `markdown` is rendered."""
    html = rendered(markdown)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html, f"{where}: the planted sentence is not there as text"
    assert "<img" not in html, f"{where}: an <img> tag survived"
    assert "[click me](javascript:alert(1))" in html, f"{where}: the planted link is not there as text"
    assert "<a " not in html, f"{where}: a live link"  # nothing planted links to http(s) either


def assert_inert_text(text: str, where: str) -> None:
    """A string sent as data (JSON) carries no tag and no non-http link."""
    assert "<img" not in text, f"{where}: raw <img>"
    assert "](javascript" not in text, f"{where}: a live javascript: link"
