"""The OpenAI-compatible API `paperchat ui` serves under /v1, driven by the `openai` Python client.

The real server (ui.app.launch: Gradio, /v1 and /mcp in one process) runs on a free loopback port over
its own small index. Plain, streamed and multi-turn chats; OpenAI-style errors for malformed requests;
the bearer token when one is set; 20 concurrent clients; 429 beyond the queue; the bind rule.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from apiserver import HOST, PLANTED, TOKEN, HeldEndpoint, Served, clean_env, free_port, indexed_service, serve
from conftest import CLI_TIMEOUT_S, paper_titled, small_papers
from pydantic import SecretStr

from assistant.settings import SettingsError

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

FLASH = paper_titled("FlashAttention-2:")["title"]
ZERO_PP = paper_titled("ZeRO++:")["title"]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    service = indexed_service(tmp_path_factory.mktemp("openai_api"), [*small_papers(), PLANTED])
    with serve(service) as served:
        yield served


def client(api: Served, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("api_key", "unused-on-loopback")
    return openai.OpenAI(base_url=api.v1, max_retries=0, timeout=120, **kwargs)


def cited_numbers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"(?<!\\)\[(\d+)\]", text)}


def reply_titles(completion: Any) -> list[str]:
    return [source["title"] for source in completion.sources]


# ---- models and a plain answer -----------------------------------------------------------------------

def test_models_lists_paperchat_and_one_model_per_generator(api: Served) -> None:
    models = client(api).models.list()
    ids = [model.id for model in models.data]
    assert ids[0] == "paperchat"
    assert set(ids[1:]) == {f"paperchat-{name}" for name in api.service.generators()}
    assert client(api).models.retrieve("paperchat-extractive").id == "paperchat-extractive"
    with pytest.raises(openai.NotFoundError):
        client(api).models.retrieve("gpt-4o")


def test_plain_completion_is_a_cited_answer_with_sources_as_data(api: Served) -> None:
    completion = client(api).chat.completions.create(
        model="paperchat", messages=[{"role": "user", "content": "Compare ZeRO and ZeRO++"}])
    content = completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop" and completion.model == "paperchat"
    answer, _, sources = content.partition("\n\n**Sources**\n\n")
    assert "| **Method** |" in answer and cited_numbers(answer) == {1, 2}
    assert sources.splitlines() == [f"- [{s['number']}] {s['title']} ({', '.join(s['files'])})"
                                    for s in completion.sources]
    assert [title.split(":")[0] for title in reply_titles(completion)] == ["ZeRO", "ZeRO++"]
    for source in completion.sources:
        assert set(source) >= {"number", "paper_id", "title", "files", "sentences"} and source["sentences"]
    assert completion.paperchat["kind"] == "compare" and completion.paperchat["generator"] == "extractive"
    assert completion.usage.completion_tokens > 0


# ---- streaming ---------------------------------------------------------------------------------------

def test_streamed_completion_is_sse_chunks_ending_in_done_with_the_same_reply(api: Served) -> None:
    question = [{"role": "user", "content": "What does FlashAttention-2 improve?"}]
    with httpx.stream("POST", f"{api.v1}/chat/completions", timeout=120,
                      json={"model": "paperchat", "messages": question, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in events) and events[-1] == "data: [DONE]"
    chunks = [json.loads(line[len("data: "):]) for line in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    pieces = [c["choices"][0]["delta"].get("content") for c in chunks[1:] if c["choices"][0]["delta"].get("content")]
    assert pieces and "**Sources**" in pieces[-1]  # in as many chunks as the answer arrived in
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop" and last["sources"][0]["title"] == FLASH
    assert last["paperchat"]["kind"] == "lookup"

    plain = client(api).chat.completions.create(model="paperchat", messages=question)
    assert "".join(pieces) == plain.choices[0].message.content  # streamed or not, the same reply


def test_openai_client_streams_with_usage(api: Served) -> None:
    stream = client(api).chat.completions.create(
        model="paperchat-extractive", messages=[{"role": "user", "content": "What is ZeRO++?"}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finished = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert len(finished) == 1 and finished[0].model_extra["sources"][0]["title"] == ZERO_PP
    assert cited_numbers(content) == {1} and "**Sources**" in content
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0


# ---- multi-turn ------------------------------------------------------------------------------------

FOLLOW_UP = "How much faster is it?"


def test_earlier_turns_drive_the_follow_up(api: Served) -> None:
    c = client(api)
    first = [{"role": "user", "content": "What does FlashAttention-2 improve?"}]
    answer = c.chat.completions.create(model="paperchat", messages=first)
    assert reply_titles(answer) == [FLASH]
    chat = [*first, {"role": "assistant", "content": answer.choices[0].message.content},
            {"role": "user", "content": FOLLOW_UP}]
    follow = c.chat.completions.create(model="paperchat", messages=chat)
    assert reply_titles(follow) == [FLASH] and "2times speedup" in follow.choices[0].message.content
    # The same follow-up after another first question is about that paper: the history is what decided it.
    other = [{"role": "user", "content": "What is ZeRO++?"}, {"role": "assistant", "content": "(its answer)"},
             {"role": "user", "content": FOLLOW_UP}]
    assert reply_titles(c.chat.completions.create(model="paperchat", messages=other)) == [ZERO_PP]


def test_a_history_this_server_never_answered_is_rebuilt(api: Served) -> None:
    """A chat begun elsewhere (another model, a restart): its user turns are asked again for the state."""
    chat = [{"role": "system", "content": "You are helpful."},
            {"role": "user", "content": [{"type": "text", "text": "Tell me what ZeRO++ does."}]},
            {"role": "assistant", "content": "Some other model's reply, reformatted by the client."},
            {"role": "user", "content": FOLLOW_UP}]  # alone, this one is answered from FlashAttention-2
    follow = client(api).chat.completions.create(model="paperchat", messages=chat, temperature=0.3, n=1,
                                                 extra_body={"unknown_field": {"ignored": True}})
    assert reply_titles(follow) == [ZERO_PP] and "4x" in follow.choices[0].message.content
    alone = client(api).chat.completions.create(model="paperchat", messages=[{"role": "user", "content": FOLLOW_UP}])
    assert reply_titles(alone) == [FLASH]


# ---- errors --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body, status, fragment", [
    (b"{not json", 400, "not valid JSON"),
    (b"", 400, "body is empty"),
    (b"[1, 2]", 400, "must be a JSON object"),
    (b'{"messages": [{"role": "user", "content": "x"}]}', 400, "model: Field required"),
    (b'{"model": "paperchat"}', 400, "messages: Field required"),
    (b'{"model": "paperchat", "messages": []}', 400, "messages is empty"),
    (b'{"model": "paperchat", "messages": "What is ZeRO?"}', 400, "messages"),
    (b'{"model": "paperchat", "messages": [{"content": "x"}]}', 400, "messages.0.role: Field required"),
    (b'{"model": "paperchat", "messages": [{"role": "robot", "content": "x"}]}', 400, "'robot' is not one of"),
    (b'{"model": "paperchat", "messages": [{"role": "user", "content": 5}]}', 400, "messages.0.content"),
    (b'{"model": "paperchat", "messages": [{"role": "assistant", "content": "x"}]}', 400,
     "the last message must be the user's question"),
    (b'{"model": "paperchat", "messages": [{"role": "user", "content": "x"}], "stream": "sometimes"}', 400,
     "stream"),
    (b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}', 404, "does not exist"),
    (b'{"model": "paperchat", "messages": [{"role": "user", "content": "' + b"x" * 4_100_000 + b'"}]}', 413,
     "over 4,000,000 bytes"),
])
def test_malformed_requests_get_openai_error_objects(api: Served, body: bytes, status: int, fragment: str) -> None:
    response = httpx.post(f"{api.v1}/chat/completions", content=body, timeout=60,
                          headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and fragment in error["message"]
    assert "Traceback" not in response.text


def test_openai_client_raises_its_own_errors_for_bad_requests(api: Served) -> None:
    with pytest.raises(openai.BadRequestError, match="messages is empty"):
        client(api).chat.completions.create(model="paperchat", messages=[])
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client(api).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    missing = httpx.get(f"{api.v1}/embeddings", timeout=30)
    assert missing.status_code == 404 and "not part of this API" in missing.json()["error"]["message"]


def test_a_question_over_the_limit_is_answered_with_the_services_message(api: Served) -> None:
    long_question = "What is ZeRO? " * 500
    reply = client(api).chat.completions.create(model="paperchat",
                                                messages=[{"role": "user", "content": long_question}])
    assert reply.paperchat["kind"] == "error" and "the limit is 2,000" in reply.choices[0].message.content


def test_without_a_token_only_loopback_names_are_answered(api: Served) -> None:
    response = httpx.get(f"{api.v1}/models", headers={"host": "paperchat.example.org"}, timeout=30)
    assert response.status_code == 403 and "127.0.0.1 or localhost" in response.json()["error"]["message"]
    assert httpx.get(f"{api.v1}/models", headers={"host": f"localhost:{api.url.rsplit(':', 1)[1]}"},
                     timeout=30).status_code == 200


def test_the_apis_are_served_in_front_of_gradio_and_give_pages_no_cors_grant(api: Served) -> None:
    # /v1 and /mcp bypass Gradio's middleware (ui/apis.py APIFirst): a page on a localhost origin, which
    # Gradio's CORS rule lets read the UI's own routes, gets no such grant from the APIs.
    origin = {"origin": "http://localhost:3000"}
    page = httpx.get(f"{api.url}/config", headers=origin, timeout=30)
    assert page.status_code == 200 and page.headers.get("access-control-allow-origin") == origin["origin"]
    for response in (httpx.get(f"{api.v1}/models", headers=origin, timeout=30),
                     httpx.options(f"{api.v1}/chat/completions", timeout=30,
                                   headers={**origin, "access-control-request-method": "POST"})):
        assert "access-control-allow-origin" not in response.headers
    assert httpx.get(f"{api.v1}/models", headers=origin, timeout=30).json()["data"][0]["id"] == "paperchat"
    mcp_preflight = httpx.options(api.mcp, timeout=30, headers={**origin, "access-control-request-method": "POST"})
    assert "access-control-allow-origin" not in mcp_preflight.headers


@pytest.mark.parametrize("stack_built", [True, False])
def test_the_lifespan_puts_the_apis_in_front_of_the_stack_or_adds_them_as_routes(api: Served,
                                                                                  stack_built: bool) -> None:
    # Starlette builds an app's middleware stack on its first call, before the lifespan starts: then the
    # APIs go in front of it (APIFirst). A Starlette that builds it later gets them as ordinary routes.
    from fastapi import FastAPI

    from ui.apis import APIFirst, api_lifespan

    app = FastAPI()

    @app.get("/page")
    def ui_page() -> dict[str, str]:
        return {"page": "ui"}

    if stack_built:
        app.middleware_stack = app.build_middleware_stack()

    async def exercise() -> tuple[Any, ...]:
        async with api_lifespan(api.service, HOST, None)(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}") as http:
                models, shown = await http.get("/v1/models"), await http.get("/page")
            return type(app.middleware_stack), models.json(), shown.json()

    stack, models, shown = asyncio.run(exercise())
    assert isinstance(app.middleware_stack, APIFirst) is stack_built, stack
    assert models["data"][0]["id"] == "paperchat" and shown == {"page": "ui"}


# ---- the token -------------------------------------------------------------------------------------

def test_token_is_required_when_set(api: Served) -> None:
    settings = api.service.settings.model_copy(update={"api_token": SecretStr(TOKEN)})
    for shown in (repr(settings), str(settings), settings.model_dump_json()):
        assert TOKEN not in shown  # a SecretStr, like ui_auth
    with serve(api.service, api_token=TOKEN) as guarded:
        for key in ("wrong-token-123", f"{TOKEN}x", TOKEN[:-1]):
            with pytest.raises(openai.AuthenticationError) as refused:
                openai.OpenAI(base_url=guarded.v1, api_key=key, max_retries=0).models.list()
            assert key not in str(refused.value)  # the token sent is never echoed
        missing = httpx.post(f"{guarded.v1}/chat/completions", json={"model": "paperchat", "messages": []})
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert missing.json()["error"]["code"] == "invalid_api_key" and "missing" in missing.json()["error"]["message"]
        ok = openai.OpenAI(base_url=guarded.v1, api_key=TOKEN, max_retries=0).chat.completions.create(
            model="paperchat", messages=[{"role": "user", "content": "What is ZeRO++?"}])
        assert reply_titles(ok) == [ZERO_PP]
        assert httpx.get(guarded.url + "/", timeout=30).status_code == 200  # the UI itself: ui_auth's business


# ---- load ---------------------------------------------------------------------------------------------

CONVERSATIONS = [  # (first question, follow-up, the paper both must cite, a figure the follow-up gives)
    ("What does FlashAttention-2 improve?", "How much faster is it?", FLASH, "2times speedup"),
    ("What is ZeRO++?", "How much does it reduce communication volume?", ZERO_PP, "4x"),
]
CLIENTS = 20
LOAD_DEADLINE_S = 240


def test_20_concurrent_clients_get_their_own_answers(api: Served) -> None:
    """20 clients at once, each a two-turn chat: all answered, within the deadline, no chat sees another's."""
    in_flight = peak = 0
    lock = threading.Lock()

    def chat(index: int) -> tuple[int, list[str], list[str], str]:
        nonlocal in_flight, peak
        first, follow_up, _, _ = CONVERSATIONS[index % len(CONVERSATIONS)]
        c = client(api)
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        try:
            one = c.chat.completions.create(model="paperchat", messages=[{"role": "user", "content": first}])
            history = [{"role": "user", "content": first},
                       {"role": "assistant", "content": one.choices[0].message.content},
                       {"role": "user", "content": follow_up}]
            two = c.chat.completions.create(model="paperchat", messages=history, stream=index % 2 == 0)
            if index % 2 == 0:
                chunks = list(two)
                text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
                titles = [s["title"] for s in chunks[-1].model_extra["sources"]]
            else:
                text, titles = two.choices[0].message.content, reply_titles(two)
            return index, reply_titles(one), titles, text
        finally:
            with lock:
                in_flight -= 1

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        futures = [pool.submit(chat, index) for index in range(CLIENTS)]
        results, errors = [], []
        for future in futures:
            try:
                results.append(future.result(timeout=LOAD_DEADLINE_S))
            except Exception as exc:
                errors.append(repr(exc))
    elapsed = time.monotonic() - started
    assert errors == [] and len(results) == CLIENTS and peak > 1
    assert elapsed < LOAD_DEADLINE_S
    for index, first_titles, follow_titles, text in results:
        _, _, title, figure = CONVERSATIONS[index % len(CONVERSATIONS)]
        assert first_titles == [title] and follow_titles == [title], f"client {index} saw another chat"
        assert figure in text


def test_beyond_the_queue_a_request_gets_429(tmp_path: Path) -> None:
    """One slot, no queue: while a request holds the slot (its LLM endpoint holds it), the next one is refused."""
    held = HeldEndpoint()
    try:
        service = indexed_service(tmp_path, [paper_titled("ZeRO++:")], ui_concurrency=1, api_queue=0,
                                  openai_base_url=held.url, llm_max_retries=0)
        with serve(service) as served:
            first: dict[str, Any] = {}

            def hold() -> None:
                first["reply"] = client(served).chat.completions.create(
                    model="paperchat-openai", messages=[{"role": "user", "content": "What is ZeRO++?"}])

            holder = threading.Thread(target=hold)
            holder.start()
            assert held.arrived.wait(60), "the first request never reached its endpoint"
            with pytest.raises(openai.RateLimitError, match="paperchat is busy") as refused:
                client(served).chat.completions.create(model="paperchat",
                                                       messages=[{"role": "user", "content": "What is ZeRO++?"}])
            assert refused.value.response.headers["retry-after"] == "2"
            assert refused.value.response.json()["error"]["type"] == "rate_limit_error"
            held.released.set()
            holder.join(60)
            assert first["reply"].paperchat["generator"] == "extractive"  # the held endpoint failed: fallback
            assert reply_titles(first["reply"]) == [ZERO_PP]
            again = client(served).chat.completions.create(model="paperchat",
                                                           messages=[{"role": "user", "content": "What is ZeRO++?"}])
            assert reply_titles(again) == [ZERO_PP]  # the slot was given back
    finally:
        held.close()


def test_a_client_that_leaves_mid_stream_gives_its_slot_back_once_the_answer_ends(tmp_path: Path) -> None:
    held = HeldEndpoint()
    try:
        service = indexed_service(tmp_path, [paper_titled("ZeRO++:")], ui_concurrency=1, api_queue=0,
                                  openai_base_url=held.url, llm_max_retries=0)
        question = {"messages": [{"role": "user", "content": "What is ZeRO++?"}], "stream": True}
        with serve(service) as served:
            with httpx.stream("POST", f"{served.v1}/chat/completions", json={"model": "paperchat-openai", **question},
                              timeout=60) as leaving:
                first = next(leaving.iter_lines())
                assert first.startswith("data: ") and '"role": "assistant"' in first
                assert held.arrived.wait(60)
            # The client is gone, but its answer is still being made: the slot stays taken until it ends.
            busy = httpx.post(f"{served.v1}/chat/completions", json={"model": "paperchat", **question}, timeout=60)
            assert busy.status_code == 429
            held.released.set()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                after = httpx.post(f"{served.v1}/chat/completions", timeout=60,
                                   json={"model": "paperchat", "messages": question["messages"]})
                if after.status_code != 429:
                    break
                time.sleep(0.2)
            assert after.status_code == 200 and after.json()["sources"][0]["title"] == ZERO_PP
    finally:
        held.close()


# ---- binding -------------------------------------------------------------------------------------------

def test_a_public_bind_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    config = tmp_path / "empty.toml"
    config.write_text("")
    result = subprocess.run([sys.executable, "-m", "assistant.cli", "ui", "--host", "0.0.0.0", "--config", config,
                             "--data-dir", tmp_path / "data"], cwd=tmp_path, capture_output=True, text=True,
                            env=clean_env(PAPERCHAT_UI_AUTH="ann:s3cret-pw"), timeout=CLI_TIMEOUT_S, check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "paperchat: error: refusing to serve the API (/v1, /mcp) on 0.0.0.0 without a token: set api_token "
        "(PAPERCHAT_API_TOKEN or the config file), or bind 127.0.0.1"]
    assert not (tmp_path / "data").exists()  # refused before anything was opened


def test_launch_in_process_refuses_a_public_bind_without_a_token_before_binding(api: Served) -> None:
    from ui.app import launch

    port = free_port()
    with pytest.raises(SettingsError, match=r"refusing to serve the API \(/v1, /mcp\) on 0\.0\.0\.0 without a token"):
        launch(api.service, "0.0.0.0", port, auth="ann:s3cret", block=False, quiet=True)
    with socket.socket() as sock:
        sock.bind((HOST, port))  # still free: nothing was bound


def test_a_malformed_token_is_refused_without_being_echoed(tmp_path: Path) -> None:
    config = tmp_path / "empty.toml"
    config.write_text("")
    secret = "short 1"
    result = subprocess.run([sys.executable, "-m", "assistant.cli", "ui", "--config", config, "--data-dir",
                             tmp_path / "data"], cwd=tmp_path, capture_output=True, text=True,
                            env=clean_env(PAPERCHAT_API_TOKEN=secret), timeout=CLI_TIMEOUT_S, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == ("paperchat: error: invalid settings: api_token: Value error, api_token must be "
                                     "at least 8 printable characters without spaces")
    assert secret not in result.stderr
