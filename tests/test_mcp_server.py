"""The MCP server, driven by the official SDK's own client: `paperchat mcp` over stdio (a real subprocess,
as Claude Desktop or an IDE launches it) and /mcp over streamable HTTP on the UI's server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apiserver import TOKEN, Served, indexed_service, mcp_http_transport, mcp_stdio_params, serve, write_corpus
from conftest import paper_titled, small_papers
from mcp import Client

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

FLASH = paper_titled("FlashAttention-2:")["title"]
ZERO = paper_titled("ZeRO:")["title"]
ZERO_PP = paper_titled("ZeRO++:")["title"]
TOOLS = {"search_papers", "ask", "get_paper", "list_papers"}
FOLLOW_UP = "How much faster is it?"  # alone, answered from FlashAttention-2


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(scenario())


def titles(result: Any) -> list[str]:
    return [source["title"] for source in result.structured_content["sources"]]


async def check_session(client: Client) -> None:
    """What both transports must do: list the tools, search, ask, follow up by conversation_id."""
    listed = (await client.list_tools()).tools
    assert {tool.name for tool in listed} == TOOLS
    ask_tool = next(tool for tool in listed if tool.name == "ask")
    assert set(ask_tool.input_schema["properties"]) == {"question", "conversation_id"}
    assert ask_tool.input_schema["required"] == ["question"]
    assert {"conversation_id", "text", "kind", "sources"} <= set(ask_tool.output_schema["properties"])

    found = await client.call_tool("search_papers", {"query": "ZeRO++ collective communication", "k": 3})
    assert not found.is_error
    papers = found.structured_content["papers"]
    assert [p["rank"] for p in papers] == [1, 2, 3] and papers[0]["title"] == ZERO_PP
    assert all(p["paper_id"].startswith("p") for p in papers)
    assert [p["score"] for p in papers] == sorted((p["score"] for p in papers), reverse=True)
    assert json.loads(found.content[0].text) == found.structured_content  # the JSON text for older clients

    first = await client.call_tool("ask", {"question": "What is ZeRO++?"})
    assert not first.is_error and titles(first) == [ZERO_PP]
    data = first.structured_content
    assert data["kind"] == "lookup" and data["generator"] == "extractive" and data["notices"] == []
    source = data["sources"][0]
    assert source["number"] == 1 and source["paper_id"] == papers[0]["paper_id"] and source["sentences"]
    text = first.content[0].text
    assert "[1]" in text and f"Sources:\n[1] {ZERO_PP} (paper id {source['paper_id']})" in text
    assert data["conversation_id"] in text

    follow = await client.call_tool("ask", {"question": FOLLOW_UP, "conversation_id": data["conversation_id"]})
    assert titles(follow) == [ZERO_PP] and follow.structured_content["conversation_id"] == data["conversation_id"]
    other = await client.call_tool("ask", {"question": FOLLOW_UP})  # a new conversation: no "it" to follow
    assert titles(other) == [FLASH] and other.structured_content["conversation_id"] != data["conversation_id"]


async def check_bad_calls(client: Client) -> None:
    """Bad arguments get a tool error the model can read, never a crash."""
    unknown = await client.call_tool("ask", {"question": "How fast is it?", "conversation_id": "not-an-id"})
    assert unknown.is_error and "is unknown or has expired" in unknown.content[0].text
    too_many = await client.call_tool("search_papers", {"query": "attention", "k": 500})
    assert too_many.is_error and "less than or equal to 50" in too_many.content[0].text
    empty = await client.call_tool("ask", {"question": "   "})
    assert empty.is_error and "Please type a question" in empty.content[0].text
    missing = await client.call_tool("get_paper", {"id_or_title": "no such paper anywhere"})
    assert missing.is_error and "search_papers or list_papers find papers" in missing.content[0].text
    several = await client.call_tool("get_paper", {"id_or_title": "Attention"})
    assert several.is_error and "papers have titles containing 'Attention'" in several.content[0].text


async def check_papers(client: Client) -> None:
    listed = await client.call_tool("list_papers", {"title_filter": "zero", "limit": 2})
    assert listed.structured_content["total"] >= 3 and len(listed.structured_content["papers"]) == 2
    everything = await client.call_tool("list_papers", {})
    assert everything.structured_content["total"] == len(small_papers())
    by_name = await client.call_tool("get_paper", {"id_or_title": "ZeRO"})  # the name before the colon
    assert by_name.structured_content["title"] == ZERO
    by_id = await client.call_tool("get_paper", {"id_or_title": by_name.structured_content["paper_id"]})
    assert by_id.structured_content == by_name.structured_content
    assert by_id.structured_content["abstract"] == paper_titled("ZeRO:")["abstract"]


# ---- stdio -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stdio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A data dir `paperchat mcp` indexes on its first tool call (as on a fresh clone), and its config."""
    work = tmp_path_factory.mktemp("mcp_stdio")
    corpus = write_corpus(work / "papers.jsonl", small_papers())
    config = work / "paperchat.toml"
    config.write_text(f"corpus = [{json.dumps(str(corpus))}]\n")
    return {"work": work, "data_dir": work / "data", "config": config}


def stdio_client(stdio: dict[str, Path]) -> Client:
    return Client(mcp_stdio_params(stdio["data_dir"], stdio["config"], Path(__file__).resolve().parents[1]),
                  read_timeout_seconds=300)


def test_stdio_lists_tools_without_building_the_service(stdio: dict[str, Path]) -> None:
    async def scenario() -> None:
        async with stdio_client(stdio) as client:
            assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS

    run(scenario)
    assert not stdio["data_dir"].exists()  # initialize and tools/list opened no store, loaded no model


def test_stdio_search_ask_and_follow_up(stdio: dict[str, Path]) -> None:
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async def scenario() -> None:
        async with stdio_client(stdio) as client:
            # The first call finds the index empty and ingests the configured corpus, reporting progress.
            first = await client.call_tool("list_papers", {"limit": 1}, progress_callback=on_progress)
            assert first.structured_content["total"] == len(small_papers())
            await check_session(client)
            await check_bad_calls(client)
            await check_papers(client)

    run(scenario)
    assert progress and progress[-1][0] == progress[-1][1] and progress[-1][1] > len(small_papers())  # chunks
    assert {message for _, _, message in progress} == {"indexing the collection"}


def test_stdio_conversations_do_not_outlive_the_process(stdio: dict[str, Path]) -> None:
    async def scenario() -> str:
        async with stdio_client(stdio) as client:
            first = await client.call_tool("ask", {"question": "What is ZeRO++?"})
            return str(first.structured_content["conversation_id"])

    conversation_id = run(scenario)

    async def later() -> Any:
        async with stdio_client(stdio) as client:
            return await client.call_tool("ask", {"question": FOLLOW_UP, "conversation_id": conversation_id})

    assert run(later).is_error


# ---- streamable HTTP at /mcp -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    service = indexed_service(tmp_path_factory.mktemp("mcp_http"), small_papers())
    with serve(service) as app:
        yield app


def test_http_search_ask_and_follow_up(served: Served) -> None:
    async def scenario() -> None:
        async with Client(mcp_http_transport(served.mcp), read_timeout_seconds=300) as client:
            await check_session(client)
            await check_bad_calls(client)

    run(scenario)


def test_http_conversations_are_shared_by_the_server_not_the_connection(served: Served) -> None:
    """Stateless HTTP: a follow-up on a new connection finds the conversation by its id."""
    async def ask(question: str, conversation_id: str | None = None) -> Any:
        arguments = {"question": question, **({"conversation_id": conversation_id} if conversation_id else {})}
        async with Client(mcp_http_transport(served.mcp), read_timeout_seconds=300) as client:
            return await client.call_tool("ask", arguments)

    first = run(lambda: ask("What is ZeRO++?"))
    follow = run(lambda: ask(FOLLOW_UP, first.structured_content["conversation_id"]))
    assert titles(follow) == [ZERO_PP]


def test_http_needs_the_token_when_one_is_set(served: Served) -> None:
    with serve(served.service, api_token=TOKEN) as guarded:
        initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                      "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                 "clientInfo": {"name": "probe", "version": "0"}}}
        headers = {"accept": "application/json, text/event-stream"}
        refused = httpx.post(guarded.mcp, json=initialize, headers=headers, timeout=30)
        wrong = httpx.post(guarded.mcp, json=initialize, headers={**headers, "authorization": "Bearer nope-nope-1"},
                           timeout=30)
        assert refused.status_code == 401 and wrong.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer" and "nope-nope-1" not in wrong.text

        async def scenario() -> Any:
            async with Client(mcp_http_transport(guarded.mcp, TOKEN), read_timeout_seconds=300) as client:
                return await client.call_tool("ask", {"question": "What is ZeRO++?"})

        assert titles(run(scenario)) == [ZERO_PP]


def test_http_refuses_a_foreign_host_header_on_loopback(served: Served) -> None:
    """Without a token the server is loopback-only; a page reaching it by DNS rebinding carries another Host."""
    response = httpx.post(served.mcp, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, timeout=30,
                          headers={"host": "attacker.example", "accept": "application/json, text/event-stream"})
    assert response.status_code in (403, 421)

