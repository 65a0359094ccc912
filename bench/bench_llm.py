"""LLM generator benchmark: answers a question set with one generator, writes the scorer's answers
file, and prints time to first token, tokens/s and how much of each answer survived verification.

    .venv/bin/python bench/bench_llm.py QUESTIONS.jsonl --generator local --out answers.jsonl

Score the answers with ../shared/eval/score.py. Each streamed piece from llama.cpp is one token.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--generator", default="local", choices=["local", "openai", "extractive"])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from assistant.answer import Answer
    from assistant.chat import Conversation
    from assistant.citations import CITATION
    from assistant.service import PaperChat

    service = PaperChat()
    service.ensure_index()
    items = [json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()]
    ttft, rates, used, outside = [], [], 0, 0
    with args.out.open("w") as out:
        for item in items:
            chat = Conversation()
            turns = []
            for question in item.get("turns") or [item["question"]]:
                started = time.perf_counter()
                pieces, final = 0, None
                for piece in service.stream(question, chat, generator=args.generator):
                    if isinstance(piece, Answer):
                        final = piece
                    else:
                        pieces += 1
                assert final is not None
                latency = (time.perf_counter() - started) * 1000
                timing = final.timings
                if "first_token_ms" in timing and "generate_ms" in timing:
                    ttft.append(timing["first_token_ms"])
                    decode_s = (timing["generate_ms"] - timing["first_token_ms"]) / 1000
                    if decode_s > 0 and pieces > 1:
                        rates.append((pieces - 1) / decode_s)
                used += final.generator == args.generator
                listed = {s.number for s in final.sources}
                outside += sum(int(n) not in listed for n in CITATION.findall(final.text))
                print(f"{item['id']}: {final.generator:10} {latency / 1000:6.1f} s  {final.notices[:1]}", flush=True)
                turns.append({"question": question, "answer": final.text,
                              "retrieved": [r.title for r in final.retrieved][:max(10, len(final.sources))],
                              "cited": final.cited_titles, "abstained": final.abstained,
                              "latency_ms": round(latency, 2)})
            out.write(json.dumps({"id": item["id"], "turns": turns}, ensure_ascii=False) + "\n")
    total = sum(len(i.get("turns") or [1]) for i in items)
    print(f"turns {total}; written by {args.generator}: {used}; citations outside the source list: {outside}")
    if ttft:
        print(f"time to first token p50 {statistics.median(ttft) / 1000:.1f} s, max {max(ttft) / 1000:.1f} s")
    if rates:
        print(f"decode tokens/s median {statistics.median(rates):.1f}")


if __name__ == "__main__":
    main()
