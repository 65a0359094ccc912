"""The APIs beside the web UI: /v1 (OpenAI-compatible chat) and /mcp (MCP over streamable HTTP).

Both are served by the Gradio app's own server, so `paperchat ui` is one process with one
PaperChat service on one port. They are put in place from the app's lifespan, which runs before the
server takes its first request, and the lifespan also runs the MCP session manager for as long as
the server. They sit in front of Gradio's own stack: a request for /v1 or /mcp goes straight to a
small app holding only those routes, not through Gradio's middleware and routes first, which took
about 1 ms off a turn in bench/bench_adapters.py runs. It also means Gradio's CORS headers do not
apply to them: a page on another origin cannot read their replies, while server-side
clients (Open WebUI, LibreChat, IDE agents) and the MCP SDK, which checks Origin itself, are not
affected.

Bind and auth rules: beyond 127.0.0.1 `api_token` is required (`ui.bind.check_api_bind`), and once
set every /v1 and /mcp request needs `Authorization: Bearer <api_token>`. Both share one
`ServiceGate`: `ui_concurrency` answers at once, `api_queue` waiting, then 429.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from assistant.conversations import HistoryCache
from assistant.mcp_server import build_server, gate_for, tools_for
from ui.openai_api import APIError, ChatAPI, check_request

if TYPE_CHECKING:
    from assistant.service import PaperChat


class GuardedMCP:
    """The MCP app behind the same token (or loopback-name) check as /v1; answers 401/403 itself."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            from starlette.datastructures import Headers

            try:
                check_request(Headers(scope=scope), self.token)
            except APIError as exc:
                await exc.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)


class APIFirst:
    """Send HTTP requests for /v1/... and /mcp to `apis`; everything else (the UI) to `gradio`."""

    def __init__(self, apis: ASGIApp, gradio: ASGIApp) -> None:
        self.apis = apis
        self.gradio = gradio

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path.startswith("/v1/") or path in ("/mcp", "/mcp/")):
            await self.apis(scope, receive, send)
        else:
            await self.gradio(scope, receive, send)


def api_lifespan(service: PaperChat, host: str, token: str | None
                 ) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan for the Gradio app that adds /v1 and /mcp and runs the MCP session manager."""
    settings = service.settings
    gate = gate_for(settings)
    chat = ChatAPI(service, gate, HistoryCache(settings.conversations_max, settings.conversation_max_age_s), token)
    mcp = build_server(tools_for(settings, lambda: service), gate)
    # Stateless: every POST stands alone, so there are no transport sessions to bound or expire;
    # follow-ups go by the tools' own conversation_id. JSON replies rather than an SSE stream: a
    # tool call has one reply, and the stream's set-up cost ~1.4 ms a call. The price: no progress
    # notifications over HTTP, which only a first call on an empty collection would send (stdio still
    # sends them). On loopback the SDK also checks Host and Origin headers against DNS rebinding.
    http_app = mcp.streamable_http_app(streamable_http_path="/mcp", stateless_http=True, json_response=True,
                                       host=host)
    mcp_app = GuardedMCP(http_app, token)
    # Built here, not in the lifespan: Gradio reports a failed start-up as "cannot find empty port".
    router = chat.router()

    def add_apis(app: FastAPI) -> None:
        app.include_router(router, prefix="/v1")
        app.add_route("/mcp", mcp_app, include_in_schema=False)

    apis = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    add_apis(apis)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Starlette builds the app's middleware stack on its first call, which is this lifespan's
        # start-up, so it is in place here and the APIs can go in front of it.
        if app.middleware_stack is None:  # a Starlette that builds it later: serve them as Gradio routes
            add_apis(app)
        else:
            app.middleware_stack = APIFirst(apis, app.middleware_stack)
        async with mcp.session_manager.run():
            yield

    return lifespan


def app_kwargs(service: PaperChat, host: str, token: str | None) -> dict[str, Any]:
    """What `Blocks.launch(app_kwargs=...)` passes on to the FastAPI app Gradio makes."""
    return {"lifespan": api_lifespan(service, host, token)}
