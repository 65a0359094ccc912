"""Core benchmark: cold ingest, unchanged re-ingest, per-turn answer latency, RSS, CLI start-up.

    .venv/bin/python bench/bench_core.py [--questions ../shared/eval/dev.jsonl] [--rounds 3]

Prints figures (not pass/fail): the issue's targets are checked by reading them. Runs in a
fresh temporary data dir so the cold ingest is really cold (the model load is timed apart).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.jsonl")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the questions for latency")
    args = parser.parse_args()

    from assistant.chat import Conversation
    from assistant.service import PaperChat
    from assistant.settings import load_settings

    figures: dict[str, float | str] = {"machine": machine()}
    with tempfile.TemporaryDirectory() as data_dir:
        service = PaperChat(load_settings(data_dir=Path(data_dir)))
        started = time.perf_counter()
        service.embed_model  # noqa: B018 - load the model outside the ingest timing
        figures["model_load_s"] = time.perf_counter() - started

        started = time.perf_counter()
        summary = service.ingest()
        figures["cold_ingest_s"] = time.perf_counter() - started
        figures["papers"] = summary.total_papers
        figures["chunks"] = summary.chunks_embedded
        figures["ingest_abstracts_per_s"] = summary.total_papers / figures["cold_ingest_s"]

        started = time.perf_counter()
        again = service.ingest()
        figures["reingest_unchanged_s"] = time.perf_counter() - started
        assert again.chunks_embedded == 0, "an unchanged re-ingest embedded chunks"

        items = [json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()]
        for warm in ("warm-up: attention accelerators", "Compare ZeRO and ZeRO++", "Which papers study pruning?"):
            service.ask(warm)
        turn_ms: list[float] = []
        retrieve_ms: list[float] = []
        for _ in range(args.rounds):
            for item in items:
                chat = Conversation()
                for question in item.get("turns") or [item["question"]]:
                    started = time.perf_counter()
                    answer = service.ask(question, chat)
                    turn_ms.append((time.perf_counter() - started) * 1000)
                    retrieve_ms.append(answer.timings.get("retrieve_ms", 0.0))
        figures["turns"] = len(turn_ms)
        figures["answer_p50_ms"] = percentile(turn_ms, 0.5)
        figures["answer_p95_ms"] = percentile(turn_ms, 0.95)
        figures["retrieve_p50_ms"] = percentile(retrieve_ms, 0.5)
        figures["retrieve_p95_ms"] = percentile(retrieve_ms, 0.95)
        figures["answer_mean_ms"] = statistics.mean(turn_ms)
        figures["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    cli = str(Path(sys.executable).with_name("paperchat"))
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([cli, "--help"], check=True, capture_output=True)
        runs.append(time.perf_counter() - started)
    figures["help_s"] = statistics.median(runs)

    for key, value in figures.items():
        print(f"{key:24} {value:.2f}" if isinstance(value, float) else f"{key:24} {value}")


if __name__ == "__main__":
    main()
