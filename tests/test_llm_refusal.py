"""An LLM that says the sources do not answer stands; an LLM number bound to the wrong quantity does not.

A small OpenAI-compatible server on 127.0.0.1 plays the model: it streams or not, as the client
asks, and answers the LLM judge's scoring request (system prompt "You rate ...") with one score per
source. Everything else is real: the synthetic collection of tests/data/answering_papers.jsonl in
embedded Chroma, the packaged encoder, the `openai` client, check_generated.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from answering_corpus import TITLES, indexed_service

from assistant.answer import Answer
from assistant.citations import CITATION, check_generated, verify
from assistant.service import PaperChat
from assistant.store import StoredPaper

SOURCE_TITLE = re.compile(r'<source id="(\d+)">\s*Title: ([^\n]*)')
NAMED_QUESTION = "What CIFAR-10 accuracy does Kestrel reach?"
UNNAMED_QUESTION = "Which method learns a different pruning threshold for every layer of the network?"


@dataclass
class FakeModel:
    """What the fake endpoint replies, and what it was asked (kind, stream) per request."""

    reply: str = ""
    favour: str = ""  # the judge scores 9 for sources whose title holds this, 1 for the others
    requests: list[tuple[str, bool]] = field(default_factory=list)

    def answer(self, request: dict[str, object]) -> str:
        chat = request.get("messages") or []
        assert isinstance(chat, list)
        if chat and str(chat[0].get("content", "")).startswith("You rate"):
            self.requests.append(("judge", bool(request.get("stream"))))
            found = SOURCE_TITLE.findall(str(chat[-1].get("content", "")))
            return "\n".join(f"{n}: {9 if self.favour and self.favour in title else 1}" for n, title in found)
        self.requests.append(("answer", bool(request.get("stream"))))
        return self.reply


def sse(pieces: list[str]) -> Iterator[bytes]:
    for n, piece in enumerate(pieces):
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                 "choices": [{"index": 0, "delta": {"content": piece},
                              "finish_reason": "stop" if n == len(pieces) - 1 else None}]}
        yield f"data: {json.dumps(chunk)}\n\n".encode()
    yield b"data: [DONE]\n\n"


def handler_for(model: FakeModel) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
            content = model.answer(request)
            self.send_response(200)
            if request.get("stream"):
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                middle = len(content) // 2
                for chunk in sse([content[:middle], content[middle:]]):
                    self.wfile.write(chunk)
                    self.wfile.flush()
                return
            body = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m",
                               "choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": content}}]}).encode()
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture(scope="module")
def fake_model() -> Iterator[tuple[FakeModel, str]]:
    model = FakeModel()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(model))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield model, f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, fake_model: tuple[FakeModel, str]) -> PaperChat:
    chat = indexed_service(tmp_path_factory, "llm-refusal")
    chat.settings.openai_base_url = fake_model[1]
    chat.settings.llm_timeout_s = 10.0
    chat.settings.llm_max_retries = 0
    chat.pipeline.stages.writer.reset()
    return chat


@pytest.fixture
def model(fake_model: tuple[FakeModel, str], service: PaperChat) -> Iterator[FakeModel]:
    """The fake model, reset for one test; the LLM judge is on unless the test turns it off."""
    fake, _ = fake_model
    fake.reply, fake.favour = "", ""
    fake.requests.clear()
    service.settings.llm_judge = True
    yield fake
    service.settings.llm_judge = True


def ask_llm(service: PaperChat, question: str) -> tuple[Answer, str]:
    """(final Answer, the text streamed before it) with the openai generator."""
    pieces: list[str] = []
    final = None
    for piece in service.stream(question, generator="openai"):
        if isinstance(piece, Answer):
            final = piece
        else:
            pieces.append(piece)
    assert final is not None
    return final, "".join(pieces)


def paper(service: PaperChat, name: str) -> StoredPaper:
    [found] = [p for p in service.store.catalog.papers().values() if p.title == TITLES[name]]
    return found


def assert_citations_hold(service: PaperChat, answer: Answer) -> None:
    """Extractive text quotes verbatim (verify); model text is numbered densely, each source quoting its abstract."""
    if answer.generator == "extractive":
        assert verify(answer.text, answer.sources).ok
    used = list(dict.fromkeys(int(n) for n in CITATION.findall(answer.text)))
    assert used == [s.number for s in answer.sources] == list(range(1, len(answer.sources) + 1))
    papers = service.store.catalog.papers()
    for source in answer.sources:
        assert source.sentences and all(s in papers[source.paper_id].abstract for s in source.sentences)


def assert_no_answer_stands(service: PaperChat, answer: Answer, question: str, name: str) -> None:
    """The model's "no answer" is not overruled: the answer is partial and says so before anything else;
    it then shows the paper retrieval chose with its verified quotes (a near miss's partial answer)."""
    extractive = service.ask(question, generator="extractive")
    assert extractive.status == "answered" and extractive.sources  # there was an extractive answer to fall back to
    assert answer.generator == "openai", answer.notices
    assert answer.abstained and answer.status == "partial"
    assert answer.text.startswith("Only in part: the openai model found no answer")
    assert answer.text != extractive.text and answer.text.endswith(extractive.text)  # shown as what it says
    assert [s.title for s in answer.sources] == [s.title for s in extractive.sources] == [TITLES[name]]
    assert verify(answer.text, answer.sources).ok
    assert any("found no answer" in notice for notice in answer.notices), answer.notices


# ---- "the sources do not say" stands ---------------------------------------------------------------
NO_ANSWER_REPLIES = [
    "The collection does not contain this information.",
    "I cannot find this in the sources.",
    "The sources do not contain the CIFAR-10 accuracy of Kestrel.",
    pytest.param("The sources do not say."),
    pytest.param("The abstract does not report this."),
    pytest.param("The provided sources do not mention Kestrel's accuracy on CIFAR-10."),
    pytest.param("The sources do not contain this information [1]."),
]


@pytest.mark.parametrize("question", [NAMED_QUESTION, UNNAMED_QUESTION], ids=["named", "described"])
@pytest.mark.parametrize("reply", NO_ANSWER_REPLIES)
def test_model_saying_the_sources_do_not_answer_stands(service: PaperChat, model: FakeModel, reply: str,
                                                       question: str) -> None:
    model.favour, model.reply = "Kestrel", reply
    answer, streamed = ask_llm(service, question)
    assert ("answer", True) in model.requests  # the client asked for a stream, and the model was asked
    assert streamed == reply
    assert_no_answer_stands(service, answer, question, "Kestrel")


@pytest.mark.parametrize("llm_judge, calls", [
    (True, [("judge", False), ("answer", True)]),
    (False, [("answer", True)]),
], ids=["llm-judge", "default-judge"])
def test_no_answer_with_and_without_the_llm_judge(service: PaperChat, model: FakeModel, llm_judge: bool,
                                                  calls: list[tuple[str, bool]]) -> None:
    """A described paper: the LLM judge's call (not streamed) scores Kestrel, then the writer (streamed) declines."""
    service.settings.llm_judge = llm_judge
    model.favour, model.reply = "Kestrel", "The collection does not contain this information."
    answer, _ = ask_llm(service, UNNAMED_QUESTION)
    assert model.requests == calls
    assert answer.focus == [paper(service, "Kestrel").id]
    assert_no_answer_stands(service, answer, UNNAMED_QUESTION, "Kestrel")


def test_verified_reply_is_used(service: PaperChat, model: FakeModel) -> None:
    """Control: the same harness with a reply that checks out gives the model's answer, cited."""
    model.reply = "Kestrel reaches 93.8% accuracy on CIFAR-10 [1]."
    answer, _ = ask_llm(service, NAMED_QUESTION)
    assert answer.generator == "openai" and answer.status == "answered" and not answer.abstained
    assert answer.text == "Kestrel reaches 93.8% accuracy on CIFAR-10. [1]"
    assert answer.cited_titles == [TITLES["Kestrel"]]
    assert_citations_hold(service, answer)


def test_model_cannot_turn_a_partial_answer_into_an_answer(service: PaperChat, model: FakeModel) -> None:
    """Kestrel reports no ImageNet figure; a model that invents one must not make the answer 'answered'."""
    model.reply = "Kestrel reaches 93.8% top-1 accuracy on ImageNet [1]."
    answer, _ = ask_llm(service, "What ImageNet top-1 accuracy does Kestrel reach?")
    assert answer.status == "partial" and answer.abstained
    assert any("ImageNet" in m for m in answer.missing)
    assert "93.8% top-1 accuracy on ImageNet" not in answer.text
    assert_citations_hold(service, answer)


# ---- a number from the abstract, bound to the wrong quantity, is not passed -------------------------
# (paper, claim the model makes, the figure that must not survive). Each number occurs in the abstract.
WRONG_BINDINGS = [
    ("Kestrel", "Kestrel reaches 80% accuracy on CIFAR-10 [1].", "80%"),  # 80% of the weights are pruned
    ("GradPrune", "GradPrune reaches 90% top-1 accuracy on ImageNet [1].", "90%"),  # 90% is the sparsity
    ("EchoASR", "EchoASR reaches a word error rate of 34.6% on Quechua [1].", "34.6%"),  # the scratch baseline
    ("QueryDETR", "QueryDETR reaches 35 AP on COCO [1].", "35 AP"),  # 35% is the memory saving
    ("PruneDet", "PruneDet removes 41% of the FLOPs of the detector [1].", "41%"),  # 41 is frames per second
    ("StreamCTC", "StreamCTC keeps the median emission latency under 3.1 milliseconds [1].", "3.1"),  # a WER
    pytest.param("MolFlow", "MolFlow samples 50 times faster than diffusion models [1].", "50 times",
                 marks=pytest.mark.xfail(strict=True, reason="50 is the number of integration steps; 'times' "
                                         "stands within the 4-word window around 50 in the abstract ('50 "
                                         "integration steps, ten times fewer'), so the binding passes")),
    pytest.param("NoiseGuard", "NoiseGuard lowers the word error rate by 0% at 27 dB signal-to-noise ratio [1].",
                 "27 dB", marks=pytest.mark.xfail(
                     strict=True, reason="the two numbers are swapped (27% is the WER reduction, 0 dB the SNR); "
                     "the nearest measure word skips over the other number ('by 0% at 27' binds 27 to 'rate'), "
                     "so both bind")),
    pytest.param("QueryDETR", "QueryDETR converges in 500 epochs [1].", "500 epochs",
                 marks=pytest.mark.xfail(strict=True, reason="500 epochs is what plain detection transformers "
                                         "need, not QueryDETR (12): binding checks the measure, not the subject")),
    pytest.param("DistillPrune", "Without feature imitation the pruned detector loses 1.2 AP [1].", "1.2 AP",
                 marks=pytest.mark.xfail(strict=True, reason="1.2 AP is the loss with feature imitation (3.8 "
                                         "without): the condition the number holds under is not checked")),
]


@pytest.mark.parametrize("name, claim, figure", WRONG_BINDINGS)
def test_number_bound_to_the_wrong_quantity_is_removed(service: PaperChat, name: str, claim: str,
                                                       figure: str) -> None:
    checked = check_generated(claim, [paper(service, name)], service.settings.verify_min_support)
    assert checked.verified == 0 and checked.removed == 1, checked.text
    assert figure not in checked.text


@pytest.mark.parametrize("name, claim", [
    ("Kestrel", "Kestrel reaches 93.8% accuracy on CIFAR-10 [1]."),
    ("GradPrune", "At 90% sparsity GradPrune reaches 74.1% top-1 accuracy on ImageNet [1]."),
    ("EchoASR", "EchoASR reaches a word error rate of 18.2% on Quechua [1]."),
    ("QueryDETR", "QueryDETR converges in 12 epochs [1]."),
    ("StreamCTC", "StreamCTC reaches a word error rate of 3.1% on LibriSpeech test-clean [1]."),
    ("NoiseGuard", "NoiseGuard lowers the word error rate by 27% at 0 dB signal-to-noise ratio [1]."),
])
def test_number_bound_to_its_own_quantity_is_kept(service: PaperChat, name: str, claim: str) -> None:
    """Control: the binding check does not reject every number."""
    checked = check_generated(claim, [paper(service, name)], service.settings.verify_min_support)
    assert checked.verified == 1 and checked.removed == 0
    assert checked.text.endswith("[1]") and [s.title for s in checked.sources] == [TITLES[name]]


@pytest.mark.parametrize("question, reply, figure", [
    (NAMED_QUESTION, "Kestrel reaches 80% accuracy on CIFAR-10 [1].", "80% accuracy"),
    pytest.param("How much does NoiseGuard lower the word error rate?",
                 "NoiseGuard lowers the word error rate by 0% at 27 dB signal-to-noise ratio [1].", "27 dB",
                 marks=pytest.mark.xfail(strict=True, reason="the swapped-numbers claim passes check_generated "
                                         "(see test_number_bound_to_the_wrong_quantity_is_removed) and is shown")),
])
def test_wrong_binding_from_the_endpoint_is_not_shown(service: PaperChat, model: FakeModel, question: str,
                                                      reply: str, figure: str) -> None:
    model.reply = reply
    answer, streamed = ask_llm(service, question)
    assert streamed == reply and ("answer", True) in model.requests
    assert figure not in answer.text
    assert_citations_hold(service, answer)
    if answer.generator == "extractive":
        assert any("was not used" in notice for notice in answer.notices)
