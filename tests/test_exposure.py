"""Exposure: where the UI may listen, that secrets never show, and that uploads stay in the data dir.

Real processes and a real app throughout. The one stand-in is an HTTP endpoint playing the OpenAI
cloud rejecting a key (it echoes the key back, as the real API's 401 message partly does).
tests/test_ui_app.py already covers the bind rule itself and `ui --host 0.0.0.0` without auth;
these add the other ways to ask for a public address, and the paths a secret or an upload takes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from apiserver import clean_env, free_port
from conftest import CLI_TIMEOUT_S, jsonl, make_settings, paper_titled

from assistant.settings import SettingsError, load_settings

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

HOST = "127.0.0.1"
PAPERS = ["FuseMax:", "ZeRO++:", "FlashAttention-2:"]
QUESTION = "What bottleneck does ZeRO++ address?"
REFUSAL = ("paperchat: error: refusing to serve the web UI on {host} without a password: set ui_auth to "
           "'user:password' (PAPERCHAT_UI_AUTH or the config file), or bind 127.0.0.1")




def paperchat(*args: object, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False)


# ---- binding ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("how, host", [
    ("env", "0.0.0.0"), ("config", "192.168.1.5"), ("flag", "::"), ("flag", "paperchat.example.org"),
])
def test_ui_refuses_a_public_address_without_auth_however_it_is_set(tmp_path: Path, how: str, host: str) -> None:
    config = tmp_path / "paperchat.toml"
    config.write_text(f'ui_host = "{host}"\n' if how == "config" else "")
    env = clean_env(PAPERCHAT_UI_HOST=host) if how == "env" else clean_env()
    args = ["ui", "--config", config, "--data-dir", tmp_path / "data"] + (["--host", host] if how == "flag" else [])
    result = paperchat(*args, env=env, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [REFUSAL.format(host=host)]
    assert not (tmp_path / "data").exists()  # refused before anything was opened


def test_ui_refuses_a_malformed_password_without_echoing_it(tmp_path: Path) -> None:
    secret = f"only-a-password-{uuid.uuid4().hex}"
    config = tmp_path / "empty.toml"
    config.write_text("")
    result = paperchat("ui", "--host", "0.0.0.0", "--config", config, "--data-dir", tmp_path / "data",
                       env=clean_env(PAPERCHAT_UI_AUTH=secret), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "paperchat: error: ui_auth must be 'user:password' (both parts non-empty)"
    assert secret not in result.stdout + result.stderr


def test_launch_in_process_refuses_before_binding(tmp_path: Path) -> None:
    from assistant.service import PaperChat
    from ui.app import launch

    service = PaperChat(make_settings(tmp_path / "data"))
    port = free_port()
    with pytest.raises(SettingsError, match=r"refusing to serve the web UI on 0\.0\.0\.0 without a password"):
        launch(service, "0.0.0.0", port, block=False, quiet=True)
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", port))  # still free: nothing was bound
    assert not (tmp_path / "data").exists()


# ---- secrets ---------------------------------------------------------------------------------------

class KeyEchoingEndpoint:
    """Plays the OpenAI cloud refusing a key: 401, with the Authorization header it got in the message."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                header = self.headers.get("authorization", "")
                seen.append(header)
                body = json.dumps({"error": {"message": f"Incorrect API key provided: {header}",
                                             "type": "invalid_request_error", "code": "invalid_api_key"}})
                self.send_response(401)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{HOST}:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for_http(url: str, process: subprocess.Popen[str], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"paperchat ui exited with {process.returncode}")
            time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {timeout} s")


def test_secrets_never_show_in_output_answers_or_files(tmp_path: Path) -> None:
    api_key = f"sk-canary-{uuid.uuid4().hex}"
    password = f"pw-canary-{uuid.uuid4().hex}"
    corpus = tmp_path / "papers.jsonl"
    corpus.write_text(jsonl([paper_titled(prefix) for prefix in PAPERS]), encoding="utf-8")
    config = tmp_path / "paperchat.toml"
    config.write_text("")
    data_dir = tmp_path / "data"
    base = {"OPENAI_API_KEY": api_key, "PAPERCHAT_UI_AUTH": f"ann:{password}", "PAPERCHAT_CONFIG": str(config),
            "PAPERCHAT_DATA_DIR": str(data_dir), "PAPERCHAT_CORPUS": str(corpus)}
    closed_port = free_port()  # nothing listens there
    outputs: dict[str, str] = {}

    def run(label: str, *args: object, code: int = 0, **extra: str) -> subprocess.CompletedProcess[str]:
        result = paperchat(*args, env=clean_env(**{**base, **extra}), cwd=tmp_path)
        outputs[label] = result.stdout + result.stderr
        assert result.returncode == code, f"{label}: {result.stderr}"
        assert "Traceback" not in result.stderr, f"{label}: {result.stderr}"
        return result

    run("help", "--help")
    run("ask help", "ask", "--help")
    run("ingest", "ingest")
    run("stats", "stats")
    run("stats json", "stats", "--json")
    down = run("ask unreachable", "ask", QUESTION, "--generator", "openai", "--json",
               PAPERCHAT_OPENAI_BASE_URL=f"http://{HOST}:{closed_port}/v1", PAPERCHAT_LLM_MAX_RETRIES="0")
    answer = json.loads(down.stdout)
    assert answer["generator"] == "extractive" and "cannot reach" in answer["notices"][-1]
    endpoint = KeyEchoingEndpoint()
    try:
        rejected = run("ask 401", "ask", QUESTION, "--generator", "openai", PAPERCHAT_OPENAI_BASE_URL=endpoint.url)
    finally:
        endpoint.close()
    assert endpoint.seen == [f"Bearer {api_key}"]  # the key did reach the endpoint it is meant for...
    assert "answered HTTP 401" in rejected.stdout  # ...and its echo of the key was not passed on
    bad = run("bad setting", "stats", code=2, PAPERCHAT_PAPERS_TOP_K="0")
    assert bad.stderr.startswith("paperchat: error: invalid settings: papers_top_k")
    run("bad toml", "stats", code=2, PAPERCHAT_CONFIG=str(tmp_path / "missing.toml"))

    # The web UI: started with the password, logged into, asked, and a wrong login tried.
    port = free_port()
    with (tmp_path / "ui.out").open("w") as log:
        process = subprocess.Popen([sys.executable, "-m", "assistant.cli", "ui", "--port", str(port)], cwd=tmp_path,
                                   env=clean_env(**base), stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://{HOST}:{port}/"
        wait_for_http(url, process)
        pages = [httpx.get(url + path, timeout=30).text for path in ("", "config", "gradio_api/info")]
        wrong = httpx.post(url + "login", data={"username": "ann", "password": "not-it"}, timeout=30)
        assert wrong.status_code in (400, 401)
        from gradio_client import Client

        reply, *_ = Client(url, auth=("ann", password), verbose=False).predict(QUESTION, "openai",
                                                                              api_name="/ask")
        assert reply["kind"] == "lookup" and reply["sources"]
        assert "no OpenAI-compatible endpoint" not in json.dumps(reply)  # the key was there: the cloud was tried
    finally:
        process.terminate()
        process.wait(timeout=30)
    outputs["ui log"] = (tmp_path / "ui.out").read_text()
    outputs["ui pages"] = "\n".join(pages) + wrong.text
    outputs["ui answer"] = json.dumps(reply)

    for label, text in outputs.items():
        assert api_key not in text and password not in text, f"a secret shows in {label}"
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert any(p.name == "catalog.sqlite" for p in files)
    for path in files:
        content = path.read_bytes()
        assert api_key.encode() not in content and password.encode() not in content, f"a secret is in {path}"


def test_settings_and_endpoint_reprs_hide_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.answering.compose.llm import Endpoint
    from ui.bind import check_bind

    password = f"pw-canary-{uuid.uuid4().hex}"
    monkeypatch.setenv("PAPERCHAT_UI_AUTH", f"ann:{password}")
    settings = load_settings()
    for shown in (repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump())):
        assert password not in shown
    assert check_bind("0.0.0.0", settings.ui_auth) == ("ann", password)  # still usable where it is needed
    endpoint = Endpoint("http://127.0.0.1:9/v1", "m", "sk-canary-secret", 1.0, 0, 16, 0.1)
    assert "sk-canary-secret" not in repr(endpoint) and endpoint.api_key == "sk-canary-secret"


# ---- uploads through the running app ---------------------------------------------------------------

@pytest.fixture(scope="module")
def upload_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The UI over a one-paper index with a 2,000-byte upload limit, Gradio's cache left to its default."""
    from assistant.service import PaperChat
    from ui.app import launch

    work = tmp_path_factory.mktemp("exposure_uploads")
    corpus = work / "one.jsonl"
    corpus.write_text(jsonl([paper_titled("FuseMax:")]), encoding="utf-8")
    service = PaperChat(make_settings(work / "data", [corpus], max_upload_bytes=2000))
    service.ensure_index()
    port = free_port()
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("GRADIO_TEMP_DIR", raising=False)  # launch() puts Gradio's cache under the data dir
        demo = launch(service, HOST, port, block=False, quiet=True)
        try:
            yield {"url": f"http://{HOST}:{port}/", "service": service, "work": work,
                   "data_dir": Path(service.settings.data_dir).resolve()}
        finally:
            demo.close()


def upload(app: dict[str, Any], name: str, content: bytes) -> httpx.Response:
    """What a browser (or any HTTP client) sends: multipart, with a file name of its choosing."""
    return httpx.post(app["url"] + "gradio_api/upload", files={"files": (name, content, "text/plain")}, timeout=60)


def call(app: dict[str, Any], api: str, data: list[Any]) -> tuple[str, Any]:
    """One call through Gradio's HTTP API: (event, data) of its final message."""
    started = httpx.post(f"{app['url']}gradio_api/call/{api}", json={"data": data}, timeout=60)
    started.raise_for_status()
    event, payload = "", None
    with httpx.stream("GET", f"{app['url']}gradio_api/call/{api}/{started.json()['event_id']}", timeout=120) as rs:
        for line in rs.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                payload = json.loads(line.split(":", 1)[1])
    return event, payload


def file_data(path: str, name: str | None = None) -> dict[str, Any]:
    return {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}


@pytest.mark.parametrize("name, stored", [
    ("../../etc/x.jsonl", "x.jsonl"),
    ("/etc/absolute.jsonl", "absolute.jsonl"),
    ("..\\..\\windows\\win.jsonl", "windowswin.jsonl"),  # Gradio drops the backslashes, then safe_name
    ("../../../../tmp/../etc/.hidden.jsonl", "hidden.jsonl"),
])
def test_uploaded_file_names_cannot_leave_the_uploads_folder(upload_app: dict[str, Any], name: str,
                                                             stored: str) -> None:
    title = f"Canary {uuid.uuid4().hex[:8]}: Sparse Heads for Traversal Tests"
    record = jsonl([{"title": title, "abstract": "The canary paper keeps sparse heads. It cuts memory by 5x."}])
    response = upload(upload_app, name, record.encode())
    assert response.status_code == 200, response.text
    [cached] = response.json()
    data_dir = upload_app["data_dir"]
    assert Path(cached).resolve().is_relative_to(data_dir / "tmp" / "gradio")  # Gradio's copy stays in the data dir
    event, (report, *_) = call(upload_app, "add_files", [[file_data(cached, name)]])
    assert event == "complete" and "Added: Canary" in report, report
    holding = [p.name for p in (data_dir / "uploads").iterdir() if title in p.read_text(encoding="utf-8")]
    assert holding == [stored]
    assert not Path("/etc", stored).exists() and not (upload_app["work"] / "etc").exists()
    outside = [p for p in upload_app["work"].rglob("*") if p.is_file() and not p.resolve().is_relative_to(data_dir)]
    assert sorted(p.name for p in outside) == ["data.toml", "one.jsonl"]  # config and corpus: uploads are all inside


def test_a_server_path_the_client_did_not_upload_is_refused(upload_app: dict[str, Any]) -> None:
    outside = upload_app["work"] / "server-side.jsonl"
    outside.write_text(jsonl([{"title": "Server Side: Not Uploaded", "abstract": "It must never be read."}]))
    before = len(upload_app["service"].papers())
    for path in (str(outside), "/etc/hostname"):
        event, _ = call(upload_app, "add_files", [[file_data(path)]])
        assert event == "error"
    assert len(upload_app["service"].papers()) == before
    assert not any(p.name == "server-side.jsonl" for p in (upload_app["data_dir"] / "uploads").glob("*"))


def test_uploads_over_the_limit_or_of_another_type_are_refused(upload_app: dict[str, Any]) -> None:
    big = upload(upload_app, "big.jsonl", b'{"title": "x", "abstract": "' + b"y" * 5000 + b'"}\n')
    assert big.status_code == 413 and "2000 bytes" in big.text
    script = upload(upload_app, "run.sh", b"echo hi\n")
    assert script.status_code == 200  # Gradio caches any upload; ui.uploads then refuses it, saying why
    before = len(upload_app["service"].papers())
    event, payload = call(upload_app, "add_files", [[file_data(script.json()[0], "run.sh")]])
    assert event == "complete" and len(upload_app["service"].papers()) == before
    assert payload[0].startswith("**Nothing ingested; 1 file(s) refused.**") and "run.sh: only .bib" in payload[0]
    names = {p.name for p in (upload_app["data_dir"] / "uploads").glob("*")}
    assert "run.sh" not in names and "big.jsonl" not in names
