"""One rule for text that leaves, checked on every channel with a planted abstract.

The abstract carries `<img src=x onerror=alert(1)>` and `[click me](javascript:alert(1))`, and the
question's extractive answer quotes both sentences, so the service's own answer holds the raw markup.
Each channel's output is then checked as what it is: Markdown (rendered with CommonMark, as Open WebUI
and LibreChat do) must show the markup as text and link nowhere; data (JSON strings) must hold no raw
tag and no live non-http link. Channels: `paperchat ask`, `ask --json`, `paperchat mcp` (stdio), the
Gradio API's `/ask` and `/export`, `/v1` plain and streamed, `/mcp` over HTTP.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from apiserver import (
    PLANTED,
    PLANTED_QUESTION,
    assert_inert_markdown,
    assert_inert_text,
    mcp_http_transport,
    mcp_stdio_params,
    serve,
    write_corpus,
)
from conftest import make_settings, paper_titled, run_cli
from mcp import Client

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

REPO = Path(__file__).resolve().parents[1]


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)


async def mcp_ask(client: Client) -> tuple[str, dict[str, Any]]:
    result = await client.call_tool("ask", {"question": PLANTED_QUESTION})
    assert not result.is_error
    return result.content[0].text, result.structured_content


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[list[str], list[Any]]]:
    """channel -> (its Markdown texts, its data), all from one index holding the planted paper."""
    work = tmp_path_factory.mktemp("channels")
    corpus = write_corpus(work / "papers.jsonl", [PLANTED, paper_titled("ZeRO++:"), paper_titled("FuseMax:")])
    config = work / "paperchat.toml"
    config.write_text(f"corpus = [{json.dumps(str(corpus))}]\n")
    data_dir = work / "data"
    found: dict[str, tuple[list[str], list[Any]]] = {}

    ingest = run_cli("ingest", "--config", config, "--data-dir", data_dir, cwd=work)
    assert ingest.returncode == 0, ingest.stderr
    plain = run_cli("ask", PLANTED_QUESTION, "--config", config, "--data-dir", data_dir, cwd=work)
    assert plain.returncode == 0, plain.stderr
    found["cli ask"] = ([plain.stdout], [])
    as_json = run_cli("ask", PLANTED_QUESTION, "--json", "--config", config, "--data-dir", data_dir, cwd=work)
    assert as_json.returncode == 0, as_json.stderr
    answer = json.loads(as_json.stdout)
    found["cli ask --json"] = ([answer["text"]], [answer])

    async def over_stdio() -> tuple[str, dict[str, Any]]:
        async with Client(mcp_stdio_params(data_dir, config, REPO), read_timeout_seconds=300) as client:
            return await mcp_ask(client)

    text, data = asyncio.run(over_stdio())
    found["mcp stdio"] = ([text, data["text"]], [data])

    # The processes above have exited; now one in-process service on the same index serves the rest.
    from gradio_client import Client as GradioClient

    from assistant.service import PaperChat

    service = PaperChat(make_settings(data_dir, [corpus]))
    service.ensure_index()
    raw = service.ask(PLANTED_QUESTION)
    assert "<img src=x onerror=alert(1)>" in raw.text and "[click me](javascript:alert(1))" in raw.text
    with serve(service) as served:
        gradio = GradioClient(served.url + "/", verbose=False, download_files=str(work / "downloads"))
        answer, *_ = gradio.predict(PLANTED_QUESTION, "extractive", api_name="/ask")
        found["gradio /ask"] = ([answer["text"]], [answer])
        exported = gradio.predict(api_name="/export")
        markdown = next(Path(f).read_text(encoding="utf-8") for f in exported if str(f).endswith(".md"))
        found["gradio /export"] = ([markdown], [])

        client = openai.OpenAI(base_url=served.v1, api_key="unused", max_retries=0, timeout=120)
        messages = [{"role": "user", "content": PLANTED_QUESTION}]
        completion = client.chat.completions.create(model="paperchat", messages=messages)
        found["/v1"] = ([completion.choices[0].message.content], [completion.sources, completion.paperchat])
        chunks = list(client.chat.completions.create(model="paperchat", messages=messages, stream=True))
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        found["/v1 stream"] = ([streamed], [chunks[-1].model_extra])
        with httpx.stream("POST", f"{served.v1}/chat/completions", timeout=120,
                          json={"model": "paperchat", "messages": messages, "stream": True}) as response:
            found["/v1 stream (raw SSE)"] = ([], [response.read().decode()])

        async def over_http() -> tuple[str, dict[str, Any]]:
            async with Client(mcp_http_transport(served.mcp), read_timeout_seconds=300) as mcp_client:
                return await mcp_ask(mcp_client)

        text, data = asyncio.run(over_http())
        found["/mcp http"] = ([text, data["text"]], [data])
    return found


CHANNELS = ["cli ask", "cli ask --json", "mcp stdio", "gradio /ask", "gradio /export", "/v1", "/v1 stream",
            "/v1 stream (raw SSE)", "/mcp http"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_planted_markup_leaves_every_channel_inert(outputs: dict[str, tuple[list[str], list[Any]]],
                                                   channel: str) -> None:
    markdowns, data = outputs[channel]
    for markdown in markdowns:
        assert_inert_markdown(markdown, channel)
    for text in strings(data):
        assert_inert_text(text, channel)
    if data:  # the planted sentences are there, as text: the answer was quoted, not dropped
        assert any("&lt;img src=x onerror=alert(1)&gt;" in text for text in strings(data)), channel
