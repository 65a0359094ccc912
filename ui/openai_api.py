"""The OpenAI-compatible chat API `paperchat ui` serves under /v1: the collection as a model.

`GET /v1/models` lists `paperchat` (the default generator) and `paperchat-<generator>` for each
generator the service offers; `POST /v1/chat/completions` answers the last user message with
the same `PaperChat` service the UI uses. The reply's content is the answer (Markdown, `[n]`
markers) followed by the sources list; the response, and the last chunk of a streamed one, also
carry the sources as data (`sources`) and the rest of the service's Answer (`paperchat`: kind,
status, notices, generator, retrieved papers, timings, and whatever the Answer gains later).

Follow-ups: an OpenAI client sends the whole chat every time. The service needs each earlier
turn's Answer to resolve "it", so after each answer the turns are cached under the chat's user
questions (`HistoryCache`); the next request of that chat finds them. On a miss (a restart, an
evicted chat, a chat begun with another model) the earlier user questions, the last
`history_turns` of them, are asked again with the extractive generator (tens of ms each) to rebuild
the state: assistant messages are not needed for that, so a client that reformats them loses nothing.

Adapter only: parsing, auth, the gate, and formatting; no answering logic.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.types import Receive, Scope, Send

from assistant.answer import Answer
from assistant.chat import Conversation
from assistant.conversations import HistoryCache, conversation_of
from assistant.gate import Busy, ServiceGate, Ticket
from assistant.safe_text import SafeStream, safe_answer, safe_markdown
from ui.bind import is_loopback

if TYPE_CHECKING:
    from assistant.service import PaperChat

log = logging.getLogger(__name__)

MODEL = "paperchat"
MAX_BODY_BYTES = 4_000_000  # a long chat's history; the question itself is limited by max_question_chars
CHARS_PER_TOKEN = 4  # for the usage figures, which are estimates: paperchat does not tokenize
ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
REBUILD_GENERATOR = "extractive"
_END = object()  # the producer thread is done
DONE = "data: [DONE]\n\n"


class APIError(Exception):
    """An OpenAI-style error object with its HTTP status."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.code = status, message, kind, param, code
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


# ---- the request ---------------------------------------------------------------------------------

class _TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    text: str | None = None


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str
    content: str | list[_TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: the text ones (an image part has nothing to quote)
            return "\n".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class _StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class _ChatRequest(BaseModel):
    """The fields paperchat reads; every other OpenAI field (temperature, tools, n, ...) is ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[_Message]
    stream: bool = False
    stream_options: _StreamOptions | None = None


@dataclass
class ChatTurn:
    """A request reduced to what the service needs: this question, the earlier ones, which generator."""

    model: str
    generator: str
    question: str
    earlier: list[str]
    stream: bool
    include_usage: bool
    prompt_chars: int


def parse_chat(payload: Any, models: dict[str, str]) -> ChatTurn:
    """The request body as a ChatTurn, or an APIError (400/404) that says what is wrong."""
    if not isinstance(payload, dict):
        raise APIError(400, "the request body must be a JSON object")
    try:
        request = _ChatRequest.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise APIError(400, f"invalid request: {where}: {first['msg']}", param=where.split(".")[0] or None) from exc
    if request.model not in models:
        raise APIError(404, f"the model {request.model[:100]!r} does not exist; GET /v1/models lists "
                       f"{', '.join(models)}", param="model", code="model_not_found")
    if not request.messages:
        raise APIError(400, "messages is empty: send at least the user's question", param="messages")
    for index, message in enumerate(request.messages):
        if message.role not in ROLES:
            raise APIError(400, f"messages.{index}.role: {message.role[:40]!r} is not one of "
                           f"{', '.join(sorted(ROLES))}", param="messages")
    last = request.messages[-1]
    if last.role != "user":
        raise APIError(400, f"the last message must be the user's question, not a {last.role!r} message",
                       param="messages")
    question = last.text()
    earlier = [m.text() for m in request.messages[:-1] if m.role == "user" and m.text().strip()]
    include_usage = bool(request.stream_options and request.stream_options.include_usage)
    prompt_chars = sum(len(m.text()) for m in request.messages)
    return ChatTurn(request.model, models[request.model], question, earlier, request.stream, include_usage,
                    prompt_chars)


async def read_json(request: Request) -> Any:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise APIError(413, f"the request body is over {MAX_BODY_BYTES:,} bytes")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > MAX_BODY_BYTES:
            raise APIError(413, f"the request body is over {MAX_BODY_BYTES:,} bytes")
    if not body.strip():
        raise APIError(400, "the request body is empty: send a JSON object with model and messages")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise APIError(400, f"the request body is not valid JSON ({type(exc).__name__}: {str(exc)[:120]})") from exc


# ---- auth ----------------------------------------------------------------------------------------

def host_name(host_header: str) -> str:
    """`127.0.0.1:7860` -> `127.0.0.1`, `[::1]:7860` -> `::1`, `localhost` -> `localhost`."""
    host = host_header.strip()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def check_request(headers: Any, token: str | None) -> None:
    """Raise APIError unless the request may use the API.

    With a token (required beyond loopback): `Authorization: Bearer <token>`, compared in constant
    time. Without one the server listens on loopback only, and requests must also be addressed to a
    loopback name, so a web page cannot reach the API through DNS rebinding or a local proxy.
    """
    if token is None:
        if not is_loopback(host_name(headers.get("host", ""))):
            raise APIError(403, "this server has no api_token, so it answers only requests addressed to "
                           "127.0.0.1 or localhost; set api_token to serve the API under another name",
                           code="forbidden_host")
        return
    scheme, _, given = headers.get("authorization", "").partition(" ")
    # compare_digest on bytes: constant time in the token's content whatever the client sent.
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        what = "missing" if not given.strip() else "invalid"
        raise APIError(401, f"{what} API token: send the header 'Authorization: Bearer <api_token>'",
                       code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})


# ---- the reply -----------------------------------------------------------------------------------

def sources_block(answer: Answer) -> str:
    """The sources list (and notices) that follow the answer in the reply's content."""
    lines: list[str] = []
    if answer.sources:
        lines += ["", "", "**Sources**", ""]
        for source in answer.sources:
            files = f" ({safe_markdown(', '.join(source.files))})" if source.files else ""
            lines.append(f"- [{source.number}] {safe_markdown(source.title)}{files}")
    for notice in answer.notices:
        lines += ["", f"> Note: {safe_markdown(' '.join(notice.split()))}"]
    return "\n".join(lines)


def answer_fields(answer: Answer) -> dict[str, Any]:
    """The extra fields of a reply: `sources` (the cited sources as data) and `paperchat` (the rest of the
    Answer: text, kind, status, notices, generator, retrieved papers, timings, and any field added later)."""
    data = safe_answer(answer)
    data.setdefault("status", getattr(answer, "status", None))
    return {"sources": data.pop("sources"), "paperchat": data}


def usage(prompt_chars: int, content: str) -> dict[str, int]:
    prompt = math.ceil(prompt_chars / CHARS_PER_TOKEN)
    completion = math.ceil(len(content) / CHARS_PER_TOKEN)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class _GatedStream(StreamingResponse):
    """A streamed reply that gives its gate place back however the response ends (even unsent)."""

    def __init__(self, content: AsyncIterator[str], ticket: Ticket) -> None:
        super().__init__(content, media_type="text/event-stream",
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self.ticket = ticket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.ticket.release()


class ChatAPI:
    """The /v1 routes over one service, gate and history cache."""

    def __init__(self, service: PaperChat, gate: ServiceGate, history: HistoryCache, token: str | None) -> None:
        self.service = service
        self.gate = gate
        self.history = history
        self.token = token

    def models(self) -> dict[str, str]:
        """Model id -> generator."""
        default = str(self.service.settings.generator)
        return {MODEL: default, **{f"{MODEL}-{name}": name for name in self.service.generators()}}

    def router(self) -> APIRouter:
        # Off Gradio's API page and schema; response_model=None: the routes build their own responses.
        router = APIRouter(include_in_schema=False)
        router.add_api_route("/models", self.list_models, methods=["GET"], response_model=None)
        router.add_api_route("/models/{model_id}", self.get_model, methods=["GET"], response_model=None)
        router.add_api_route("/chat/completions", self.chat_completions, methods=["POST"], response_model=None)
        router.add_api_route("/{rest:path}", self.not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                             response_model=None)
        return router

    # ---- routes ----------------------------------------------------------------------------------
    async def list_models(self, request: Request) -> JSONResponse:
        try:
            check_request(request.headers, self.token)
        except APIError as exc:
            return exc.response()
        return JSONResponse({"object": "list", "data": [self._model(name) for name in self.models()]})

    async def get_model(self, request: Request, model_id: str) -> JSONResponse:
        try:
            check_request(request.headers, self.token)
            if model_id not in self.models():
                raise APIError(404, f"the model {model_id[:100]!r} does not exist", param="model",
                               code="model_not_found")
        except APIError as exc:
            return exc.response()
        return JSONResponse(self._model(model_id))

    async def not_found(self, request: Request, rest: str) -> JSONResponse:
        try:
            check_request(request.headers, self.token)  # an unauthorised caller learns nothing about routes
        except APIError as exc:
            return exc.response()
        return APIError(404, f"{request.method} /v1/{rest[:100]} is not part of this API: it serves GET "
                        "/v1/models and POST /v1/chat/completions", code="not_found").response()

    async def chat_completions(self, request: Request) -> JSONResponse | StreamingResponse:
        try:
            check_request(request.headers, self.token)
            turn = parse_chat(await read_json(request), self.models())
            ticket = self.gate.admit()
        except Busy as exc:
            return APIError(429, str(exc), kind="rate_limit_error", code="busy",
                            headers={"Retry-After": "2"}).response()
        except APIError as exc:
            return exc.response()
        if turn.stream:
            return _GatedStream(self._events(turn), ticket)
        try:
            async with self.gate.turn():
                completion = await anyio.to_thread.run_sync(self.complete, turn)
        except Exception as exc:
            log.exception("answering over /v1 failed")
            return APIError(500, f"answering failed: {type(exc).__name__}", kind="server_error").response()
        finally:
            ticket.release()
        return JSONResponse(completion)

    def complete(self, turn: ChatTurn) -> dict[str, Any]:
        """A non-streamed reply: the service's answer as a `chat.completion` object (in a worker thread)."""
        answer = self._answer(turn)
        content = safe_markdown(answer.text).rstrip() + sources_block(answer)
        return {
            "id": _completion_id(), "object": "chat.completion", "created": int(time.time()), "model": turn.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "logprobs": None,
                         "finish_reason": "stop"}],
            "usage": usage(turn.prompt_chars, content), **answer_fields(answer),
        }

    # ---- answering (in a worker thread) ---------------------------------------------------------
    def _conversation(self, turn: ChatTurn) -> Conversation:
        """The conversation state after the chat's earlier user turns: cached, or rebuilt by asking them again."""
        max_turns = self.service.settings.history_turns
        cached = self.history.get(turn.generator, turn.earlier)
        if cached is not None:
            return conversation_of(cached, max_turns)
        conversation = Conversation(max_turns=max_turns)
        for question in turn.earlier[-max_turns:] if max_turns else []:
            self.service.ask(question, conversation, generator=REBUILD_GENERATOR)
        return conversation

    def _pieces(self, turn: ChatTurn) -> Iterator[str | Answer]:
        """service.stream for this turn, and the turns kept for the chat's next request."""
        self.service.ensure_index()
        conversation = self._conversation(turn)
        for piece in self.service.stream(turn.question, conversation, generator=turn.generator):
            if isinstance(piece, Answer):
                kept = tuple((t.question, t.answer) for t in conversation.turns)
                self.history.put(turn.generator, [*turn.earlier, turn.question], kept)
            yield piece

    def _answer(self, turn: ChatTurn) -> Answer:
        final = None
        for piece in self._pieces(turn):
            if isinstance(piece, Answer):
                final = piece
        assert final is not None
        return final

    def _produce(self, turn: ChatTurn, loop: asyncio.AbstractEventLoop, arrived: asyncio.Queue[object],
                 stop: threading.Event) -> None:
        """In a worker thread: each piece of the answer onto `arrived`, then _END; stops early once `stop` is set."""
        pieces = self._pieces(turn)
        try:
            for item in pieces:
                loop.call_soon_threadsafe(arrived.put_nowait, item)
                if stop.is_set():
                    break
        except Exception as exc:
            loop.call_soon_threadsafe(arrived.put_nowait, exc)
        finally:
            pieces.close()  # here, in the thread that ran it
            loop.call_soon_threadsafe(arrived.put_nowait, _END)

    async def _events(self, turn: ChatTurn) -> AsyncIterator[str]:
        """The SSE stream: a role chunk, content chunks as the answer streams, the sources, the data, [DONE]."""
        completion_id, created = _completion_id(), int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            body = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": turn.model,
                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **extra}
            return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        content: list[str] = []
        streamed: list[str] = []
        safe = SafeStream()
        async with self.gate.turn():
            loop = asyncio.get_running_loop()
            arrived: asyncio.Queue[object] = asyncio.Queue()
            stop = threading.Event()
            # One worker thread runs the whole service call and hands each piece over as it comes, rather
            # than a thread hop (and a wake-up of the loop) for every piece.
            producer = asyncio.ensure_future(anyio.to_thread.run_sync(self._produce, turn, loop, arrived, stop))
            try:
                # Text that is already here goes out as one chunk (an extractive answer and its sources arrive
                # all at once, and each chunk costs the client a parse); an LLM's tokens go out as they come.
                ready = ""
                while (item := await arrived.get()) is not _END:
                    if isinstance(item, BaseException):
                        raise item
                    if isinstance(item, Answer):
                        ready += safe.flush()
                        if "".join(streamed).strip() != item.text.strip():
                            # An LLM's verified text can differ from what streamed: send the checked version.
                            ready += "\n\n---\n\nChecked answer:\n\n" + safe_markdown(item.text).rstrip()
                        ready += sources_block(item)
                        content.append(ready)
                        # The last text, the finish chunk with the data, usage and [DONE] in one write.
                        ending = chunk({"content": ready}) + chunk({}, "stop", **answer_fields(item))
                        if turn.include_usage:
                            body = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                                    "model": turn.model, "choices": [],
                                    "usage": usage(turn.prompt_chars, "".join(content))}
                            ending += f"data: {json.dumps(body)}\n\n"
                        yield ending + DONE
                        return
                    streamed.append(str(item))
                    ready += safe.feed(str(item))
                    if ready and arrived.empty():
                        content.append(ready)
                        yield chunk({"content": ready})
                        ready = ""
            except Exception as exc:
                log.exception("answering over /v1 (streamed) failed")
                error = {"message": f"answering failed: {type(exc).__name__}", "type": "server_error",
                         "param": None, "code": None}
                yield f"data: {json.dumps({'error': error})}\n\n"
            finally:
                stop.set()
                # Even when the client left (we are cancelled): the slot is held until the service call ended.
                with anyio.CancelScope(shield=True):
                    await producer
        yield DONE  # after an error (the answer's own end returned above)

    def _model(self, name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": 0, "owned_by": "paperchat"}


def _completion_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"

