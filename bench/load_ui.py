"""Load and isolation test of the web UI's `/ask` API: N concurrent conversations x M turns each.

    .venv/bin/python bench/load_ui.py                      # start `paperchat ui` on 127.0.0.1, 20 x 10
    .venv/bin/python bench/load_ui.py --ui-concurrency 1   # the same with one queue slot
    .venv/bin/python bench/load_ui.py --url http://127.0.0.1:7860/ --data-dir .paperchat   # a running UI

Each conversation is its own gradio_client.Client, i.e. its own browser session with its own
history. Its questions are built from two corpus titles (papers A and B, never shared between
conversations): a lookup of A, follow-ups about "it", a comparison with B, and so on. Isolation: a
follow-up may cite only its own conversation's papers, and no turn may cite a paper that belongs
to another conversation; a leak of history between sessions shows up as exactly that.

Prints errors, isolation violations and latency per turn (p50/p95/max, client-side, queueing
included); exits 1 on any error or violation, or when --timeout ends the run early.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.procs import free_port, stop  # noqa: E402

HOST = "127.0.0.1"
STARTUP_S = 300  # the UI loads torch, the model and the index before it answers

# (question, is_follow_up). {a} and {b} are the short names of the conversation's two papers.
SCRIPT: list[tuple[str, bool]] = [
    ("What does {a} propose?", False),
    ("What does it report?", True),
    ("How does it compare with {b}?", False),
    ("What problem does {b} address?", False),
    ("What results does it report?", True),
    ("Compare {a} and {b}", False),
    ("Summarize {a}", False),
    ("What numbers does it report?", True),
    ("Tell me about {b}", False),
    ("What method does it use?", True),
]


@dataclass
class Conversation:
    number: int
    a: tuple[str, str]  # (short name, full title)
    b: tuple[str, str]

    @property
    def own_titles(self) -> set[str]:
        return {self.a[1], self.b[1]}

    def questions(self, turns: int) -> list[tuple[str, bool]]:
        script = [SCRIPT[i % len(SCRIPT)] for i in range(turns)]
        return [(q.format(a=self.a[0], b=self.b[0]), follow) for q, follow in script]


@dataclass
class Turn:
    conversation: int
    number: int
    question: str
    follow_up: bool
    seconds: float = 0.0
    server_ms: float | None = None
    kind: str = ""
    cited: list[str] = field(default_factory=list)
    error: str = ""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def short_names(data_dir: Path) -> list[tuple[str, str]]:
    """(name, title) for titles like "FuseMax: ..." whose one-word name occurs in no other title.

    A name that is part of another title ("ZeRO" in "ZeRO++: ...") could fairly be resolved to
    either paper; unique names keep the isolation check about sessions, not about name matching.
    """
    with sqlite3.connect(f"file:{data_dir / 'catalog.sqlite'}?mode=ro", uri=True) as db:
        titles = [row[0] for row in db.execute("SELECT title FROM papers ORDER BY id")]
    lowered = [t.lower() for t in titles]
    found = []
    for title in titles:
        name = title.split(":", 1)[0].strip()
        if ":" not in title or " " in name or not re.fullmatch(r"[A-Za-z][\w+.-]{2,}", name):
            continue
        if sum(name.lower() in t for t in lowered) == 1:
            found.append((name, title))
    return found


def ensure_ingested(data_dir: Path, env: dict[str, str]) -> None:
    catalog = data_dir / "catalog.sqlite"
    if catalog.exists():
        with sqlite3.connect(f"file:{catalog}?mode=ro", uri=True) as db:
            if db.execute("SELECT COUNT(*) FROM papers").fetchone()[0]:
                return
    print(f"ingesting the bundled corpus into {data_dir} ...", flush=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", "--data-dir", str(data_dir)], cwd=ROOT,
                   env=env, check=True, stdout=subprocess.DEVNULL)
    print(f"ingested in {time.monotonic() - started:.1f} s", flush=True)


def wait_for(url: str, process: subprocess.Popen[bytes] | None, deadline: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process is not None and process.poll() is not None:
            raise SystemExit(f"paperchat ui exited with status {process.returncode} before it answered")
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not answer within {STARTUP_S} s")
        time.sleep(0.5)


def converse(url: str, conversation: Conversation, turns: int, deadline: float, start: threading.Barrier,
             record: Callable[[Turn], None], auth: tuple[str, str] | None) -> None:
    """One session: its own Client, its questions in order; every failure is recorded, never raised."""
    from gradio_client import Client

    planned = [Turn(conversation.number, n + 1, q, f) for n, (q, f) in enumerate(conversation.questions(turns))]
    try:
        client = Client(url, verbose=False, auth=auth)
    except Exception as exc:  # counted as errors for every planned turn
        for turn in planned:
            turn.error = f"client: {type(exc).__name__}: {exc}"
            record(turn)
        start.abort()  # release the others instead of letting them wait for this one
        return
    # A broken barrier means another conversation could not start; this one still runs.
    with contextlib.suppress(threading.BrokenBarrierError):
        start.wait(timeout=max(1.0, deadline - time.monotonic()))
    for turn in planned:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            turn.error = "not run: --timeout reached"
            record(turn)
            continue
        started = time.monotonic()
        try:
            job = client.submit(turn.question, "extractive", api_name="/ask")
            answer = job.result(timeout=remaining)[0]
            turn.seconds = time.monotonic() - started
            if not isinstance(answer, dict):
                turn.error = f"no answer: {answer!r}"[:200]
            else:
                turn.kind = str(answer.get("kind"))
                turn.cited = [s["title"] for s in answer.get("sources", [])]
                turn.server_ms = (answer.get("timings") or {}).get("total_ms")
                if turn.kind == "error":
                    turn.error = f"error answer: {answer.get('text', '')[:200]}"
        except Exception as exc:
            turn.seconds = time.monotonic() - started
            turn.error = f"{type(exc).__name__}: {exc}"[:300]
        record(turn)


def violations(turns: list[Turn], conversations: list[Conversation]) -> list[str]:
    owner = {title: c.number for c in conversations for title in c.own_titles}
    by_number = {c.number: c for c in conversations}
    found = []
    for turn in turns:
        own = by_number[turn.conversation].own_titles
        for title in turn.cited:
            foreign = owner.get(title, turn.conversation) != turn.conversation
            if foreign or (turn.follow_up and title not in own):
                where = f"conversation {owner[title]}'s paper" if foreign else "a paper outside this conversation"
                found.append(f"conversation {turn.conversation} turn {turn.number} ({turn.question!r}) cites "
                             f"{where}: {title}")
    return found


def summarize(turns: list[Turn], conversations: list[Conversation], wall_s: float) -> dict[str, Any]:
    ok = [t for t in turns if not t.error]
    seconds = [t.seconds for t in ok]
    server = [t.server_ms / 1000 for t in ok if t.server_ms is not None]
    per_turn = {}
    for number in sorted({t.number for t in ok}):
        values = [t.seconds for t in ok if t.number == number]
        per_turn[number] = {"p50_s": round(statistics.median(values), 3),
                            "p95_s": round(percentile(values, 0.95), 3), "max_s": round(max(values), 3)}
    return {
        "conversations": len(conversations), "turns_planned": len(turns), "turns_answered": len(ok),
        "errors": [f"conversation {t.conversation} turn {t.number}: {t.error}" for t in turns if t.error],
        "violations": violations(turns, conversations),
        "kinds": {k: sum(t.kind == k for t in ok) for k in sorted({t.kind for t in ok})},
        "wall_s": round(wall_s, 2),
        "throughput_turns_per_s": round(len(ok) / wall_s, 3) if wall_s else 0.0,
        "latency_s": {"p50": round(statistics.median(seconds), 3) if seconds else None,
                      "p95": round(percentile(seconds, 0.95), 3) if seconds else None,
                      "max": round(max(seconds), 3) if seconds else None},
        "server_s": {"p50": round(statistics.median(server), 3) if server else None,
                     "p95": round(percentile(server, 0.95), 3) if server else None},
        "per_turn": per_turn,
    }


def warm_up(url: str, name: str, auth: tuple[str, str] | None) -> float:
    """One question first, so the figures are the steady state: the UI loads its model on first use."""
    from gradio_client import Client

    started = time.monotonic()
    Client(url, verbose=False, auth=auth).predict(f"What does {name} propose?", "extractive", api_name="/ask")
    return time.monotonic() - started


def run_load(url: str, data_dir: Path, conversations: int, turns: int, timeout_s: float, seed: int = 7,
             auth: tuple[str, str] | None = None, warm: bool = True) -> dict[str, Any]:
    """Run the conversations against `url` (whose index lives in `data_dir`); return the summary."""
    names = short_names(data_dir)
    if len(names) < 2 * conversations:
        raise SystemExit(f"only {len(names)} papers with a unique short name: too few for {conversations} "
                         "conversations of two papers each")
    picked = random.Random(seed).sample(names, 2 * conversations)
    warmup_s = warm_up(url, names[0][0], auth) if warm else None
    plans = [Conversation(n + 1, picked[2 * n], picked[2 * n + 1]) for n in range(conversations)]
    results: list[Turn] = []
    lock = threading.Lock()
    deadline = time.monotonic() + timeout_s
    start = threading.Barrier(conversations)

    def record(turn: Turn) -> None:
        with lock:
            results.append(turn)

    # Daemon threads: a conversation stuck past --timeout must not keep the script alive.
    threads = [threading.Thread(target=converse, args=(url, plan, turns, deadline, start, record, auth),
                                daemon=True) for plan in plans]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()) + 30)
    wall = time.monotonic() - started
    with lock:
        done = list(results)
    answered = {(t.conversation, t.number) for t in done}
    for plan in plans:  # turns a stuck thread never reported are errors too
        for number, (question, follow) in enumerate(plan.questions(turns), 1):
            if (plan.number, number) not in answered:
                done.append(Turn(plan.number, number, question, follow, error="no result before --timeout"))
    summary = summarize(done, plans, wall)
    summary["warmup_s"] = warmup_s
    summary["pairs"] = [{"conversation": p.number, "a": p.a[1], "b": p.b[1]} for p in plans]
    return summary


def report(summary: dict[str, Any]) -> str:
    lat, srv = summary["latency_s"], summary["server_s"]
    lines = [
        f"conversations x turns: {summary['conversations']} x {summary['turns_planned'] // summary['conversations']}"
        f" = {summary['turns_planned']} turns, {summary['turns_answered']} answered in {summary['wall_s']} s "
        f"({summary['throughput_turns_per_s']} turns/s)",
        f"warm-up question (model load on first use, not counted): {summary['warmup_s']} s"
        if summary["warmup_s"] is not None else "no warm-up question",
        f"errors: {len(summary['errors'])}",
        f"isolation violations: {len(summary['violations'])}",
        f"answer kinds: {summary['kinds']}",
        f"latency per turn (client, queueing included): p50 {lat['p50']} s, p95 {lat['p95']} s, max {lat['max']} s",
        f"service time per turn (answer timings): p50 {srv['p50']} s, p95 {srv['p95']} s",
        "by turn number: " + ", ".join(f"{n}: p50 {v['p50_s']} / p95 {v['p95_s']}"
                                       for n, v in summary["per_turn"].items()),
    ]
    lines += [f"  error: {e}" for e in summary["errors"][:20]]
    lines += [f"  violation: {v}" for v in summary["violations"][:20]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running UI (default: start `paperchat ui` on a free 127.0.0.1 port)")
    parser.add_argument("--data-dir", type=Path, help="index dir (with --url: the running UI's, for the titles); "
                        "default: a temporary dir, ingested from the bundled corpus")
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds for the whole run (bounded)")
    parser.add_argument("--ui-concurrency", type=int, help="PAPERCHAT_UI_CONCURRENCY for the UI started here")
    parser.add_argument("--auth", help="user:password when the running UI has ui_auth (never printed)")
    parser.add_argument("--seed", type=int, default=7, help="which corpus papers the conversations ask about")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args(argv)
    if args.conversations < 1 or args.turns < 1:
        parser.error("--conversations and --turns must be at least 1")
    auth = tuple(args.auth.split(":", 1)) if args.auth else None

    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERCHAT_")}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", GRADIO_ANALYTICS_ENABLED="False")
    temp = None
    if args.data_dir is None:
        if args.url:
            parser.error("--url needs --data-dir (the running UI's index, for the paper titles)")
        temp = tempfile.TemporaryDirectory(prefix="paperchat-load-")
        args.data_dir = Path(temp.name) / "data"
    process = None
    try:
        url = args.url
        if url is None:
            ensure_ingested(args.data_dir, env)
            port = free_port(HOST)
            if args.ui_concurrency:
                env["PAPERCHAT_UI_CONCURRENCY"] = str(args.ui_concurrency)
            log = (args.data_dir / "load-ui.log").open("wb")
            process = subprocess.Popen([sys.executable, "-m", "assistant.cli", "ui", "--host", HOST, "--port",
                                        str(port), "--data-dir", str(args.data_dir)], cwd=ROOT, env=env,
                                       stdout=log, stderr=subprocess.STDOUT)
            url = f"http://{HOST}:{port}/"
            started = time.monotonic()
            wait_for(url, process, started + STARTUP_S)
            print(f"paperchat ui up on {url} in {time.monotonic() - started:.1f} s "
                  f"(ui_concurrency={args.ui_concurrency or 'default'})", flush=True)
        summary = run_load(url, args.data_dir, args.conversations, args.turns, args.timeout, args.seed, auth)
        summary["ui_concurrency"] = args.ui_concurrency or "default"
    finally:
        if process is not None:
            stop(process, 30)
        if temp is not None:
            temp.cleanup()
    print(report(summary))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 1 if summary["errors"] or summary["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
