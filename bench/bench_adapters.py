"""Adapter overhead: what /v1 (plain and streamed), MCP over HTTP and MCP over stdio add to a service call,
and how fast `paperchat mcp` answers `initialize` + `tools/list`.

    .venv/bin/python bench/bench_adapters.py [--questions ../shared/eval/dev.jsonl] [--rounds 3]
                                             [--data-dir DIR] [--json out.json]

Each dev-set item is one conversation (multi-turn items turn by turn, follow-ups included), asked
`--rounds` times through each channel in turn by one client. Per turn, the adapter's overhead is the
client's wall time minus the answer's own `timings.total_ms` (the service's time for that very call, which
the API returns), so the answering itself, and its run-to-run noise, cancel out. "direct" is
`PaperChat.ask` in this process. The servers run as `paperchat ui` and `paperchat mcp` subprocesses,
as deployed; without --data-dir the bundled corpus is ingested into a temporary data dir first.

Prints figures (not pass/fail): the target is overhead p50 <= 5 ms per turn, and `initialize` +
`tools/list` under 5 s.
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_core import machine, percentile  # noqa: E402
from procs import free_port, stop  # noqa: E402

HOST = "127.0.0.1"
STARTUPS = 5  # fresh `paperchat mcp` processes timed for initialize + tools/list


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


Sample = tuple[float, float]  # (client wall ms, service total_ms)


def direct(service: Any, chats: list[list[str]], rounds: int) -> list[Sample]:
    from assistant.chat import Conversation

    samples = []
    for _ in range(rounds):
        for turns in chats:
            conversation = Conversation(max_turns=service.settings.history_turns)
            for question in turns:
                started = time.perf_counter()
                answer = service.ask(question, conversation)
                samples.append(((time.perf_counter() - started) * 1000, answer.timings["total_ms"]))
    return samples


def openai_chat(url: str, chats: list[list[str]], rounds: int, stream: bool) -> list[Sample]:
    import openai

    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120)

    def turn(messages: list[dict[str, str]]) -> tuple[float, str, dict[str, Any]]:
        started = time.perf_counter()
        if stream:
            chunks = list(client.chat.completions.create(model="paperchat", messages=messages, stream=True))
            wall = (time.perf_counter() - started) * 1000
            content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            return wall, content, chunks[-1].model_extra["paperchat"]
        reply = client.chat.completions.create(model="paperchat", messages=messages)
        wall = (time.perf_counter() - started) * 1000
        return wall, reply.choices[0].message.content or "", reply.model_extra["paperchat"]

    turn([{"role": "user", "content": "warm up: what is attention?"}])
    samples = []
    for _ in range(rounds):
        for turns in chats:
            messages: list[dict[str, str]] = []
            for question in turns:
                messages.append({"role": "user", "content": question})
                wall, content, data = turn(messages)
                messages.append({"role": "assistant", "content": content})
                samples.append((wall, data["timings"]["total_ms"]))
    return samples


async def mcp_asks(client: Any, chats: list[list[str]], rounds: int) -> list[Sample]:
    await client.call_tool("ask", {"question": "warm up: what is attention?"})
    samples = []
    for _ in range(rounds):
        for turns in chats:
            conversation_id = None
            for question in turns:
                arguments = {"question": question, **({"conversation_id": conversation_id} if conversation_id else {})}
                started = time.perf_counter()
                result = await client.call_tool("ask", arguments)
                wall = (time.perf_counter() - started) * 1000
                conversation_id = result.structured_content["conversation_id"]
                samples.append((wall, result.structured_content["timings"]["total_ms"]))
    return samples


def stdio_params(data_dir: Path, config: Path) -> Any:
    from mcp import StdioServerParameters

    return StdioServerParameters(command=sys.executable, args=["-m", "assistant.cli", "mcp", "--data-dir",
                                                               str(data_dir), "--config", str(config)],
                                 cwd=str(ROOT), env=env())


async def mcp_startup(data_dir: Path, config: Path) -> float:
    """Seconds from spawning `paperchat mcp` to the `tools/list` reply (initialize included)."""
    from mcp import Client

    started = time.perf_counter()
    async with Client(stdio_params(data_dir, config), mode="legacy", read_timeout_seconds=60) as client:
        await client.list_tools()
        return time.perf_counter() - started


async def mcp_stdio(data_dir: Path, config: Path, chats: list[list[str]], rounds: int) -> list[Sample]:
    from mcp import Client

    async with Client(stdio_params(data_dir, config), read_timeout_seconds=300) as client:
        return await mcp_asks(client, chats, rounds)


async def mcp_http(url: str, chats: list[list[str]], rounds: int) -> list[Sample]:
    from mcp import Client

    async with Client(f"{url}/mcp", read_timeout_seconds=300) as client:
        return await mcp_asks(client, chats, rounds)


def summary(samples: list[Sample]) -> dict[str, float]:
    walls = [wall for wall, _ in samples]
    overheads = [wall - service for wall, service in samples]
    return {"turns": len(samples), "wall_p50_ms": statistics.median(walls), "wall_p95_ms": percentile(walls, 0.95),
            "service_p50_ms": statistics.median(s for _, s in samples),
            "overhead_p50_ms": statistics.median(overheads), "overhead_p95_ms": percentile(overheads, 0.95),
            "overhead_max_ms": max(overheads)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.jsonl")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the conversations per channel")
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
        # A subprocess, like the servers: this process opens the index only once they have stopped.
        ingest = subprocess.run(cli("ingest", "--data-dir", str(data_dir), "--config", str(config)), cwd=ROOT,
                                env=env(), capture_output=True, text=True, check=False)
        if ingest.returncode != 0:
            raise SystemExit(f"paperchat ingest failed:\n{ingest.stderr}")
        figures: dict[str, Any] = {"machine": machine(), "conversations": len(chats), "rounds": args.rounds,
                                   "ingest": f"{ingest.stdout.strip().splitlines()[-1]} "
                                             f"({time.perf_counter() - started:.0f} s with start-up)"}
        startups = [asyncio.run(mcp_startup(data_dir, config)) for _ in range(STARTUPS)]
        figures["mcp_stdio_startup_s"] = {"p50": statistics.median(startups), "max": max(startups),
                                          "runs": len(startups)}
        channels: dict[str, list[Sample]] = {}
        channels["mcp stdio"] = asyncio.run(mcp_stdio(data_dir, config, chats, args.rounds))
        with ui_server(data_dir, config) as url:
            channels["/v1"] = openai_chat(url, chats, args.rounds, stream=False)
            channels["/v1 stream"] = openai_chat(url, chats, args.rounds, stream=True)
            channels["mcp http"] = asyncio.run(mcp_http(url, chats, args.rounds))

        from assistant.service import PaperChat
        from assistant.settings import load_settings

        service = PaperChat(load_settings(config, data_dir=data_dir))
        service.search("warm up", top_k=1)
        channels = {"direct": direct(service, chats, args.rounds), **channels}
        figures["channels"] = {name: summary(samples) for name, samples in channels.items()}

    print(f"machine: {figures['machine']}")
    print(f"index: {figures['ingest']}; {len(chats)} conversations x {args.rounds} rounds per channel")
    start = figures["mcp_stdio_startup_s"]
    print(f"paperchat mcp: initialize + tools/list p50 {start['p50']:.2f} s, max {start['max']:.2f} s "
          f"({start['runs']} fresh processes)")
    print("| channel | turns | wall p50 / p95 ms | service p50 ms | overhead p50 / p95 / max ms |")
    print("|---|---|---|---|---|")
    for name, row in figures["channels"].items():
        print(f"| {name} | {row['turns']} | {row['wall_p50_ms']:.1f} / {row['wall_p95_ms']:.1f} | "
              f"{row['service_p50_ms']:.1f} | {row['overhead_p50_ms']:.2f} / {row['overhead_p95_ms']:.2f} / "
              f"{row['overhead_max_ms']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
