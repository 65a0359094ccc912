"""The LLM judge: a real HTTP endpoint speaking the OpenAI chat API scores candidates; its scores
choose the paper, and a reply without scores leaves the default judge's choice (with a notice)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.answering.llm_judge import parse_scores
from assistant.chat import Conversation
from assistant.service import PaperChat

QUESTION = "Which method reduces the communication volume of sharded data-parallel training?"


def judge_handler(scores_for: Callable[[list[str]], str], requests: list[str]) -> type[BaseHTTPRequestHandler]:
    """Judge prompts (they end in 'Scores:') get `scores_for(titles)`; answer prompts get a no-answer reply."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
            prompt = request["messages"][-1]["content"]
            titles = [line.removeprefix("Title: ") for line in prompt.splitlines() if line.startswith("Title: ")]
            is_judge = prompt.rstrip().endswith("Scores:")
            requests.append("judge" if is_judge else "answer")
            text = scores_for(titles) if is_judge else "The collection does not contain this information."
            body = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                               "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                            "finish_reason": "stop"}]}).encode()
            if request.get("stream"):
                chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m",
                         "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": "stop"}]}
                body = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
            self.send_response(200)
            self.send_header("content-type", "text/event-stream" if request.get("stream") else "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def judged(small_service: PaperChat) -> Iterator[Callable[[Callable[[list[str]], str]], tuple[PaperChat, list[str]]]]:
    servers: list[ThreadingHTTPServer] = []

    def start(scores_for: Callable[[list[str]], str]) -> tuple[PaperChat, list[str]]:
        requests: list[str] = []
        server = ThreadingHTTPServer(("127.0.0.1", 0), judge_handler(scores_for, requests))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        small_service.settings.openai_base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        small_service.settings.llm_timeout_s = 5.0
        small_service.pipeline.stages.writer.reset()
        return small_service, requests

    yield start
    small_service.settings.openai_base_url = None
    small_service.pipeline.stages.writer.reset()
    for server in servers:
        server.shutdown()
        server.server_close()


def test_parse_scores_reads_numbered_lines_and_ignores_the_rest() -> None:
    assert parse_scores("1: 9\n[2] - 3\n3 = 10\n7: 8\n4: 42\nnoise", 4) == {1: 9.0, 2: 3.0, 3: 10.0}
    assert parse_scores("I think the first one is best.", 3) == {}


def test_the_models_scores_choose_the_paper(judged: Callable) -> None:
    default = judged(lambda titles: "no scores here")[0].pipeline.extractive(QUESTION, _fresh(), "hybrid")
    default_title = default.retrieved[0].title
    wanted = "ZeRO-Infinity: Breaking the GPU Memory Wall for Extreme Scale Deep Learning"
    assert default_title != wanted  # the judge must overturn the default choice for this test to mean anything

    def scores(titles: list[str]) -> str:
        return "\n".join(f"{n}: {9 if t == wanted else 1}" for n, t in enumerate(titles, 1))

    service, requests = judged(scores)
    answer = service.ask(QUESTION, generator="openai")
    assert requests[0] == "judge"
    assert answer.retrieved[0].title == wanted, answer.notices
    assert any("LLM judge" in notice for notice in answer.notices)


def low_scores(titles: list[str]) -> str:
    return "\n".join(f"{n}: 1" for n in range(1, len(titles) + 1))


def test_low_scores_where_retrieval_found_the_paper_give_a_partial_answer(judged: Callable) -> None:
    service, requests = judged(low_scores)
    default = service.pipeline.extractive(QUESTION, _fresh(), "hybrid")
    assert default.status == "answered"  # the default judge answers: the two judges disagree
    answer = service.ask(QUESTION, generator="openai")
    assert answer.status == "partial" and answer.abstained
    assert [s.title for s in answer.sources] == [default.sources[0].title]
    assert answer.text.startswith("Only in part:") and "LLM judge" in answer.text
    assert any("rated every abstract under" in notice for notice in answer.notices)
    assert requests == ["judge"]  # a partial answer is not sent to the writer


def test_low_scores_where_retrieval_found_nothing_refuse(judged: Callable) -> None:
    service, requests = judged(low_scores)
    question = "What is the boiling point of water at sea level?"
    assert service.pipeline.extractive(question, _fresh(), "hybrid").status == "refused"
    answer = service.ask(question, generator="openai")
    assert answer.status == "refused" and answer.abstained and not answer.sources
    assert requests == ["judge"]  # a refusal is not sent to the writer


def test_a_reply_without_scores_keeps_the_default_choice(judged: Callable) -> None:
    service, _ = judged(lambda titles: "I cannot rate these.")
    default = service.pipeline.extractive(QUESTION, _fresh(), "hybrid")
    answer = service.ask(QUESTION, generator="openai")
    assert answer.retrieved[0].title == default.retrieved[0].title
    assert any("held no score" in notice for notice in answer.notices)


def _fresh() -> Conversation:
    return Conversation()
