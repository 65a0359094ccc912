"""Run a question set (dev.jsonl format) through the service and write the scorer's answers format."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from assistant.chat import Conversation
from assistant.retrieval import Mode
from assistant.service import PaperChat

MIN_RETRIEVED = 10


def answer_item(service: PaperChat, item: dict[str, Any], mode: Mode = "hybrid",
                generator: str | None = None) -> dict[str, Any]:
    """All turns of one item as one conversation; each turn timed on its own."""
    questions = item.get("turns") or [item["question"]]
    conversation = Conversation(max_turns=service.settings.history_turns)
    turns = []
    for question in questions:
        started = time.perf_counter()
        answer = service.ask(question, conversation, mode=mode, generator=generator)
        latency = (time.perf_counter() - started) * 1000
        cited = answer.cited_titles
        retrieved = [r.title for r in answer.retrieved]
        retrieved = retrieved[: max(MIN_RETRIEVED, len(cited))]
        turns.append({"question": question, "answer": answer.text, "retrieved": retrieved, "cited": cited,
                      "abstained": answer.abstained, "latency_ms": round(latency, 2)})
    return {"id": item["id"], "turns": turns}


def run_eval(service: PaperChat, questions: Path, out: Path, mode: Mode = "hybrid", generator: str | None = None,
             limit: int | None = None) -> int:
    items = [json.loads(line) for line in questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    items = items[:limit] if limit else items
    service.ask("warm-up question about attention")  # load models before the first timed turn
    with out.open("w", encoding="utf-8") as handle:
        for item in items:
            handle.write(json.dumps(answer_item(service, item, mode, generator), ensure_ascii=False) + "\n")
    return len(items)
