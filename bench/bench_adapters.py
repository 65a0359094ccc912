"""Adapter overhead: what /v1 (plain and streamed) and MCP (stdio, streamable HTTP) add to a service call,
and how fast `paperchat mcp` answers `initialize` + `tools/list`.

    .venv/bin/python bench/bench_adapters.py [--questions ../shared/eval/dev.jsonl] [--rounds 3]
                                             [--data-dir DIR] [--json out.json]

Each dev-set item is one conversation (multi-turn items turn by turn, follow-ups included). Per turn,
an adapter's overhead is the wall time its client sees minus the answer's own `timings.total_ms` (the
service's time for that very call, which every channel returns), so the answering itself and its
run-to-run noise cancel out. Every turn goes through all channels one after the other before the next
turn, so a burst of load on a shared machine hits them alike.

Two parts:
- end to end: the real clients (`openai`, the MCP SDK's `Client`; and bare `httpx` for /v1 and /mcp, to
  show the clients' own share) against `paperchat ui` (/v1, /mcp) and `paperchat mcp` running as
  subprocesses, as deployed.
- `direct`: `PaperChat.ask` in this process.
- adapter code only, in this process without a transport: `ChatAPI.complete` plus the JSON encoding
  of its reply, and the MCP server's `call_tool("ask")` (argument validation, the tool, result
  conversion) plus the JSON encoding of its result.

Without --data-dir the bundled corpus is ingested into a temporary data dir first (`paperchat
ingest`, a subprocess: this process opens the index only once the servers have stopped). Prints
figures (not pass/fail): the targets are overhead p50 <= 5 ms per turn, `initialize` + `tools/list`
under 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_core import machine, percentile  # noqa: E402
from procs import free_port, stop  # noqa: E402

HOST = "127.0.0.1"
STARTUPS = 5  # fresh `paperchat mcp` processes timed for initialize + tools/list
WARM_UP = "warm up: what is attention?"

Sample = tuple[float, float]  # (wall ms, service total_ms)
# One channel: given a conversation's state (None to start one) and a question, ask it and return
# (wall ms, service total_ms, the state for the next turn).
Channel = Callable[[Any, str], Awaitable[tuple[float, float, Any]]]


def conversations(path: Path) -> list[list[str]]:
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [item["turns"] if "turns" in item else [item["question"]] for item in items]


def env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PAPERCHAT_")}
    clean.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", GRADIO_ANALYTICS_ENABLED="False")
    return clean


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "assistant.cli", *args]


@contextmanager
def ui_server(data_dir: Path, config: Path) -> Iterator[str]:
    port = free_port(HOST)
    url = f"http://{HOST}:{port}"
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(cli("ui", "--port", str(port), "--data-dir", str(data_dir), "--config",
                                       str(config)), cwd=ROOT, env=env(), stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 300
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/v1/models", timeout=5):
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        output = log.read().decode(errors="replace")
                        raise SystemExit(f"paperchat ui did not start:\n{output}") from None
                    time.sleep(0.5)
            yield url
        finally:
            stop(process, 30)


def stdio_params(data_dir: Path, config: Path) -> Any:
    from mcp import StdioServerParameters

    return StdioServerParameters(command=sys.executable, args=["-m", "assistant.cli", "mcp", "--data-dir",
                                                               str(data_dir), "--config", str(config)],
                                 cwd=str(ROOT), env=env())


async def mcp_startup(data_dir: Path, config: Path) -> float:
    """Seconds from spawning `paperchat mcp` to the `tools/list` reply (the initialize handshake included)."""
    from mcp import Client

    started = time.perf_counter()
    async with Client(stdio_params(data_dir, config), mode="legacy", read_timeout_seconds=60) as client:
        await client.list_tools()
        return time.perf_counter() - started


# ---- the channels ---------------------------------------------------------------------------------

def openai_channel(url: str, stream: bool) -> Channel:
    import openai

    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120)

    async def ask(messages: list[dict[str, str]] | None, question: str) -> tuple[float, float, Any]:
        messages = [*(messages or []), {"role": "user", "content": question}]
        started = time.perf_counter()
        if stream:
            chunks = list(client.chat.completions.create(model="paperchat", messages=messages, stream=True))
            wall = (time.perf_counter() - started) * 1000
            content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            data = chunks[-1].model_extra["paperchat"]
        else:
            reply = client.chat.completions.create(model="paperchat", messages=messages)
            wall = (time.perf_counter() - started) * 1000
            content, data = reply.choices[0].message.content or "", reply.model_extra["paperchat"]
        return wall, data["timings"]["total_ms"], [*messages, {"role": "assistant", "content": content}]

    return ask


def httpx_channel(url: str) -> Channel:
    """/v1 with a bare HTTP client: the openai client's own share of the end-to-end figure is the difference."""
    import httpx

    client = httpx.Client(timeout=120)

    async def ask(messages: list[dict[str, str]] | None, question: str) -> tuple[float, float, Any]:
        messages = [*(messages or []), {"role": "user", "content": question}]
        started = time.perf_counter()
        reply = json.loads(client.post(f"{url}/v1/chat/completions",
                                       json={"model": "paperchat", "messages": messages}).content)
        wall = (time.perf_counter() - started) * 1000
        content = reply["choices"][0]["message"]["content"]
        return wall, reply["paperchat"]["timings"]["total_ms"], [*messages, {"role": "assistant", "content": content}]

    return ask


def mcp_httpx_channel(url: str) -> Channel:
    """/mcp with a bare HTTP client posting JSON-RPC `tools/call` (stateless: no session to open), reading
    the reply (JSON, or an SSE event): the MCP SDK client's own share of the end-to-end figure is the difference."""
    import httpx

    client = httpx.Client(timeout=120, headers={"accept": "application/json, text/event-stream",
                                                "mcp-protocol-version": "2025-06-18"})

    async def ask(conversation_id: str | None, question: str) -> tuple[float, float, Any]:
        arguments = {"question": question, **({"conversation_id": conversation_id} if conversation_id else {})}
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "ask", "arguments": arguments}}
        started = time.perf_counter()
        reply = client.post(f"{url}/mcp", json=call)
        if reply.headers["content-type"].startswith("application/json"):  # /mcp answers in JSON mode
            data = reply.json()
        else:
            data = json.loads(next(line[5:] for line in reply.text.splitlines() if line.startswith("data:")))
        wall = (time.perf_counter() - started) * 1000
        structured = data["result"]["structuredContent"]
        return wall, structured["timings"]["total_ms"], structured["conversation_id"]

    return ask


def mcp_channel(client: Any) -> Channel:
    async def ask(conversation_id: str | None, question: str) -> tuple[float, float, Any]:
        arguments = {"question": question, **({"conversation_id": conversation_id} if conversation_id else {})}
        started = time.perf_counter()
        result = await client.call_tool("ask", arguments)
        wall = (time.perf_counter() - started) * 1000
        data = result.structured_content
        return wall, data["timings"]["total_ms"], data["conversation_id"]

    return ask


def direct_channel(service: Any) -> Channel:
    from assistant.chat import Conversation

    async def ask(conversation: Any, question: str) -> tuple[float, float, Any]:
        conversation = conversation or Conversation(max_turns=service.settings.history_turns)
        started = time.perf_counter()
        answer = service.ask(question, conversation)
        return (time.perf_counter() - started) * 1000, answer.timings["total_ms"], conversation

    return ask


def v1_code_channel(service: Any) -> Channel:
    """ChatAPI's own work for one non-streamed reply, and its JSON encoding: no HTTP, no client."""
    from assistant.conversations import HistoryCache
    from assistant.gate import ServiceGate
    from ui.openai_api import ChatAPI, parse_chat

    settings = service.settings
    api = ChatAPI(service, ServiceGate(1, 0), HistoryCache(settings.conversations_max,
                                                           settings.conversation_max_age_s), None)

    async def ask(messages: list[dict[str, str]] | None, question: str) -> tuple[float, float, Any]:
        messages = [*(messages or []), {"role": "user", "content": question}]
        started = time.perf_counter()
        reply = api.complete(parse_chat({"model": "paperchat", "messages": messages}, api.models()))
        json.dumps(reply, ensure_ascii=False)
        wall = (time.perf_counter() - started) * 1000
        content = reply["choices"][0]["message"]["content"]
        return wall, reply["paperchat"]["timings"]["total_ms"], [*messages, {"role": "assistant", "content": content}]

    return ask


def mcp_code_channel(service: Any) -> Channel:
    """The MCP server's own work for one `ask` call (the SDK's validation and conversion included), no transport."""
    from assistant.mcp_server import build_server, gate_for, tools_for

    server = build_server(tools_for(service.settings, lambda: service), gate_for(service.settings))

    async def ask(conversation_id: str | None, question: str) -> tuple[float, float, Any]:
        arguments = {"question": question, **({"conversation_id": conversation_id} if conversation_id else {})}
        started = time.perf_counter()
        result = await server.call_tool("ask", arguments)
        result.model_dump_json(by_alias=True, exclude_none=True)
        wall = (time.perf_counter() - started) * 1000
        data = result.structured_content
        return wall, data["timings"]["total_ms"], data["conversation_id"]

    return ask


async def interleaved(channels: dict[str, Channel], chats: list[list[str]], rounds: int) -> dict[str, list[Sample]]:
    """Every turn through every channel before the next turn; each channel keeps its own conversations."""
    for ask in channels.values():
        await ask(None, WARM_UP)
    samples: dict[str, list[Sample]] = {name: [] for name in channels}
    for _ in range(rounds):
        for turns in chats:
            states: dict[str, Any] = dict.fromkeys(channels)
            for question in turns:
                for name, ask in channels.items():
                    wall, service_ms, states[name] = await ask(states[name], question)
                    samples[name].append((wall, service_ms))
    return samples


async def end_to_end(url: str, data_dir: Path, config: Path, chats: list[list[str]],
                     rounds: int) -> dict[str, list[Sample]]:
    from mcp import Client

    async with AsyncExitStack() as stack:
        stdio = await stack.enter_async_context(Client(stdio_params(data_dir, config), read_timeout_seconds=300))
        http = await stack.enter_async_context(Client(f"{url}/mcp", read_timeout_seconds=300))
        channels = {"/v1": openai_channel(url, stream=False), "/v1 stream": openai_channel(url, stream=True),
                    "/v1 (httpx client)": httpx_channel(url), "mcp http": mcp_channel(http),
                    "mcp http (httpx client)": mcp_httpx_channel(url), "mcp stdio": mcp_channel(stdio)}
        return await interleaved(channels, chats, rounds)


def summary(samples: list[Sample]) -> dict[str, float]:
    walls = [wall for wall, _ in samples]
    overheads = [wall - service for wall, service in samples]
    return {"turns": len(samples), "wall_p50_ms": statistics.median(walls), "wall_p95_ms": percentile(walls, 0.95),
            "service_p50_ms": statistics.median(s for _, s in samples),
            "overhead_p50_ms": statistics.median(overheads), "overhead_p95_ms": percentile(overheads, 0.95),
            "overhead_max_ms": max(overheads)}


def load_average() -> str:
    try:
        return " / ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.jsonl")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the conversations")
    parser.add_argument("--data-dir", type=Path, help="an index to use (default: the bundled corpus, ingested "
                        "into a temporary data dir)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    chats = conversations(args.questions)
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "empty.toml"
        config.write_text("")
        data_dir = args.data_dir or Path(scratch) / "data"
        started = time.perf_counter()
        ingest = subprocess.run(cli("ingest", "--data-dir", str(data_dir), "--config", str(config)), cwd=ROOT,
                                env=env(), capture_output=True, text=True, check=False)
        if ingest.returncode != 0:
            raise SystemExit(f"paperchat ingest failed:\n{ingest.stderr}")
        figures: dict[str, Any] = {"machine": machine(), "conversations": len(chats), "rounds": args.rounds,
                                   "ingest": f"{ingest.stdout.strip().splitlines()[-1]} "
                                             f"({time.perf_counter() - started:.0f} s with start-up)",
                                   "load_average_before": load_average()}
        startups = [asyncio.run(mcp_startup(data_dir, config)) for _ in range(STARTUPS)]
        figures["mcp_stdio_startup_s"] = {"p50": statistics.median(startups), "max": max(startups),
                                          "runs": len(startups)}
        with ui_server(data_dir, config) as url:
            remote = asyncio.run(end_to_end(url, data_dir, config, chats, args.rounds))

        from assistant.service import PaperChat
        from assistant.settings import load_settings

        service = PaperChat(load_settings(config, data_dir=data_dir))
        service.search("warm up", top_k=1)
        local = asyncio.run(interleaved({"direct": direct_channel(service), "/v1 code": v1_code_channel(service),
                                         "mcp code": mcp_code_channel(service)}, chats, args.rounds))
        figures["load_average_after"] = load_average()
        figures["end_to_end"] = {name: summary(samples) for name, samples in remote.items()}
        figures["adapter_code"] = {name: summary(samples) for name, samples in local.items()}

    print(f"machine: {figures['machine']}; load average (1/5/15 min) before {figures['load_average_before']}, "
          f"after {figures['load_average_after']}")
    print(f"index: {figures['ingest']}; {len(chats)} conversations x {args.rounds} rounds")
    start = figures["mcp_stdio_startup_s"]
    print(f"paperchat mcp: initialize + tools/list p50 {start['p50']:.2f} s, max {start['max']:.2f} s "
          f"({start['runs']} fresh processes)")
    for part in ("end_to_end", "adapter_code"):
        print(f"\n{part.replace('_', ' ')}:")
        print("| channel | turns | wall p50 / p95 ms | service p50 ms | overhead p50 / p95 / max ms |")
        print("|---|---|---|---|---|")
        for name, row in figures[part].items():
            print(f"| {name} | {row['turns']} | {row['wall_p50_ms']:.1f} / {row['wall_p95_ms']:.1f} | "
                  f"{row['service_p50_ms']:.1f} | {row['overhead_p50_ms']:.2f} / {row['overhead_p95_ms']:.2f} / "
                  f"{row['overhead_max_ms']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
