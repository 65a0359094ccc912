"""The APIs beside the web UI: /v1 (OpenAI-compatible chat) and /mcp (MCP over streamable HTTP).

Both go on the Gradio app's own FastAPI, so `paperchat ui` is one process with one PaperChat
service on one port. They are added from the app's lifespan, which runs before the server takes
its first request, and the lifespan also runs the MCP session manager for as long as the server.

Bind and auth rules: beyond 127.0.0.1 `api_token` is required (`ui.bind.check_api_bind`), and once
set every /v1 and /mcp request needs `Authorization: Bearer <api_token>`. Both share one
`ServiceGate`: `ui_concurrency` answers at once, `api_queue` waiting, then 429.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Receive, Scope, Send

from assistant.conversations import HistoryCache
from assistant.mcp_server import build_server, gate_for, tools_for
from ui.openai_api import APIError, ChatAPI, check_request

if TYPE_CHECKING:
    from fastapi import FastAPI

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


def api_lifespan(service: PaperChat, host: str, token: str | None
                 ) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan for the Gradio app that adds /v1 and /mcp and runs the MCP session manager."""
    settings = service.settings
    gate = gate_for(settings)
    chat = ChatAPI(service, gate, HistoryCache(settings.conversations_max, settings.conversation_max_age_s), token)
    mcp = build_server(tools_for(settings, lambda: service), gate)
    # Stateless: every POST stands alone, so there are no transport sessions to bound or expire;
    # follow-ups go by the tools' own conversation_id. On loopback the SDK also checks Host and
    # Origin headers against DNS rebinding.
    mcp_app = GuardedMCP(mcp.streamable_http_app(streamable_http_path="/mcp", stateless_http=True, host=host), token)
    # Built here, not in the lifespan: Gradio reports a failed start-up as "cannot find empty port".
    router = chat.router()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.include_router(router, prefix="/v1")
        app.add_route("/mcp", mcp_app, include_in_schema=False)
        async with mcp.session_manager.run():
            yield

    return lifespan


def app_kwargs(service: PaperChat, host: str, token: str | None) -> dict[str, Any]:
    """What `Blocks.launch(app_kwargs=...)` passes on to the FastAPI app Gradio makes."""
    return {"lifespan": api_lifespan(service, host, token)}
