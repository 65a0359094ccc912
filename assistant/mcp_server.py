"""MCP tools over the PaperChat service: `paperchat mcp` (stdio) and `/mcp` on the UI's server.

Adapter only: each tool calls one service method (`search`, `ask`, `papers`) and translates its
result; every string that leaves goes through `assistant.safe_text`. The service is built on the
first tool call, not at start-up, so `initialize` and `tools/list` answer before the embedding model
loads or Chroma opens (the service module itself is imported lazily for the same reason).

Tools run in worker threads (answering is CPU-bound) behind a `ServiceGate`: `ui_concurrency` at
once, `api_queue` waiting, and beyond that the call fails at once with a "busy" tool error.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from assistant.conversations import ConversationRegistry, UnknownConversation
from assistant.gate import Busy, ServiceGate
from assistant.safe_text import safe_answer, safe_data, safe_markdown

if TYPE_CHECKING:
    from assistant.answer import Answer
    from assistant.service import PaperChat
    from assistant.settings import Settings
    from assistant.store import StoredPaper

SERVER_NAME = "paperchat"
INSTRUCTIONS = (
    "paperchat answers questions from a collection of research-paper abstracts. Every sentence of an answer is "
    "quoted from an abstract and cited as [n]; the sources list says which paper each number is. Use ask for "
    "questions (pass the conversation_id it returns to ask a follow-up), search_papers to find papers, "
    "list_papers and get_paper to browse the collection.")
MAX_SEARCH_K = 50
MAX_LIST_LIMIT = 500
AMBIGUOUS_SHOWN = 10
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


# ---- what the tools return (their output schemas) ----------------------------------------------------

class PaperSummary(BaseModel):
    paper_id: str
    title: str
    year: int | None = None
    files: list[str] = Field(default_factory=list, description="where the paper was read from (file:line)")


class SearchHit(PaperSummary):
    rank: int
    score: float = Field(description="fused dense + keyword relevance; higher is closer")


class SearchResult(BaseModel):
    query: str
    papers: list[SearchHit]


class PaperList(BaseModel):
    total: int = Field(description="papers matching the filter; at most `limit` are listed")
    papers: list[PaperSummary]


class PaperDetail(PaperSummary):
    abstract: str
    authors: list[str] = Field(default_factory=list)
    url: str | None = None


class CitedSource(BaseModel):
    model_config = ConfigDict(extra="allow")

    number: int = Field(description="the [n] the answer text cites it by")
    paper_id: str
    title: str
    sentences: list[str] = Field(description="the abstract's sentences the answer quotes")
    files: list[str] = Field(default_factory=list)


class AskResult(BaseModel):
    """The service's Answer as data, plus the conversation id; fields the service adds later pass through."""

    model_config = ConfigDict(extra="allow")

    conversation_id: str = Field(description="pass it to ask again for a follow-up question")
    text: str = Field(description="the answer, Markdown, citing sources as [n]")
    kind: str = Field(description="lookup, compare, list, summary, topic_summary, refusal or error")
    status: str | None = Field(None, description="answered, partial or refused, where the service reports it")
    sources: list[CitedSource]
    notices: list[str] = Field(default_factory=list)
    generator: str = "extractive"


# ---- the tools ----------------------------------------------------------------------------------------

class PaperChatTools:
    """The tool bodies, synchronous (they run in a worker thread); `service` is built on first use."""

    def __init__(self, service: Callable[[], PaperChat], conversations: ConversationRegistry,
                 generator: str | None = None) -> None:
        self._make_service = service
        self._service: PaperChat | None = None
        self._ready = False
        self._lock = threading.Lock()
        self.conversations = conversations
        self.generator = generator

    def service(self, progress: Callable[[int, int], None] | None = None) -> PaperChat:
        """The service, with the index checked (and the corpus ingested if empty) once."""
        with self._lock:
            if self._service is None:
                self._service = self._make_service()
            if not self._ready:
                self._service.ensure_index(progress)
                self._ready = True
        return self._service

    def search_papers(self, query: str, k: int, progress: Callable[[int, int], None] | None = None) -> SearchResult:
        query = query.strip()
        if not query:
            raise ToolError("query is empty: give words to search the papers for")
        hits = self.service(progress).search(query, top_k=k)
        papers = [SearchHit(rank=rank, score=round(hit.score, 5), **_summary(hit.paper))
                  for rank, hit in enumerate(hits, 1)]
        return SearchResult(query=safe_markdown(query), papers=papers)

    def ask(self, question: str, conversation_id: str | None,
            progress: Callable[[int, int], None] | None = None) -> CallToolResult:
        service = self.service(progress)
        try:
            if conversation_id:
                kept = self.conversations.get(conversation_id)
            else:
                conversation_id, kept = self.conversations.new()
        except UnknownConversation as exc:
            raise ToolError(str(exc)) from exc
        with kept.lock:  # two calls on one conversation take turns; other conversations are not held up
            answer = service.ask(question, kept.conversation, generator=self.generator)
        data = {"conversation_id": conversation_id, **safe_answer(answer)}
        data.setdefault("status", getattr(answer, "status", None))
        return CallToolResult(content=[TextContent(type="text", text=answer_text(answer, conversation_id))],
                              structured_content=data, is_error=answer.kind == "error")

    def get_paper(self, id_or_title: str, progress: Callable[[int, int], None] | None = None) -> PaperDetail:
        wanted = id_or_title.strip()
        if not wanted:
            raise ToolError("id_or_title is empty: give a paper id (from search_papers) or its title")
        service = self.service(progress)
        papers = service.papers()
        by_id = {paper.id: paper for paper in papers}
        if wanted in by_id:
            return _detail(by_id[wanted])
        matches = service.papers(wanted)
        if len(matches) == 1:
            return _detail(matches[0])
        # "ZeRO" means "ZeRO: Memory Optimizations ...", not every title containing "zero": the whole
        # title, or the name before its colon, is a better match than a part of one.
        for whole in (lambda title: title, lambda title: title.partition(":")[0]):
            exact = [paper for paper in matches if whole(paper.title).strip().casefold() == wanted.casefold()]
            if len(exact) == 1:
                return _detail(exact[0])
        if not matches:
            raise ToolError(f"no paper has the id or a title containing {safe_markdown(wanted[:200])!r}; "
                            "search_papers or list_papers find papers")
        shown = "; ".join(f"{paper.id}: {safe_markdown(paper.title)}" for paper in matches[:AMBIGUOUS_SHOWN])
        more = f" and {len(matches) - AMBIGUOUS_SHOWN} more" if len(matches) > AMBIGUOUS_SHOWN else ""
        raise ToolError(f"{len(matches)} papers have titles containing {safe_markdown(wanted[:200])!r}: {shown}"
                        f"{more}. Ask again with one of these ids.")

    def list_papers(self, title_filter: str, limit: int,
                    progress: Callable[[int, int], None] | None = None) -> PaperList:
        papers = self.service(progress).papers(title_filter)
        return PaperList(total=len(papers), papers=[PaperSummary(**_summary(paper)) for paper in papers[:limit]])


def _summary(paper: StoredPaper) -> dict[str, Any]:
    return safe_data({"paper_id": paper.id, "title": paper.title, "year": paper.year, "files": list(paper.sources)})


def _detail(paper: StoredPaper) -> PaperDetail:
    extra = safe_data({"abstract": paper.abstract, "authors": list(paper.authors or []), "url": paper.url})
    return PaperDetail(**_summary(paper), **extra)


def answer_text(answer: Answer, conversation_id: str) -> str:
    """What a model reads: the answer with its [n] markers, the numbered sources, notices, the id."""
    lines = [safe_markdown(answer.text).rstrip()]
    if answer.sources:
        lines += ["", "Sources:"]
        lines += [f"[{s.number}] {safe_markdown(s.title)} (paper id {s.paper_id})" for s in answer.sources]
    lines += [f"\nNote: {safe_markdown(' '.join(notice.split()))}" for notice in answer.notices]
    lines += ["", f"conversation_id: {conversation_id} (pass it to ask for a follow-up)"]
    return "\n".join(lines)


# ---- the server ------------------------------------------------------------------------------------

def build_server(tools: PaperChatTools, gate: ServiceGate) -> MCPServer:
    """An MCPServer whose four tools call `tools` in a worker thread, behind `gate`."""
    root = logging.getLogger()
    handlers_before = list(root.handlers)
    server = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, log_level="WARNING")
    # The SDK gives the root logger a handler (when it has none) with no level of its own, so a library
    # whose logger is at DEBUG (bm25s) printed its debug lines on stderr and in the UI's console.
    for handler in root.handlers:
        if handler not in handlers_before:
            handler.setLevel(logging.WARNING)

    async def call(ctx: Context | None, body: Callable[..., Any], *args: Any) -> Any:
        try:
            async with gate.slot():
                progress = _progress_reporter(ctx)
                return await anyio.to_thread.run_sync(functools.partial(body, *args, progress=progress))
        except Busy as exc:
            raise ToolError(f"{exc} (HTTP 429 equivalent)") from exc

    @server.tool(annotations=READ_ONLY)
    async def search_papers(
        query: Annotated[str, Field(description="what to look for: words, a method's name, a topic")],
        k: Annotated[int, Field(ge=1, le=MAX_SEARCH_K, description="how many papers to return")] = 5,
        ctx: Context | None = None,
    ) -> SearchResult:
        """Rank the collection's papers for a query (hybrid dense + keyword search); ids, titles, scores."""
        return await call(ctx, tools.search_papers, query, k)

    @server.tool(annotations=READ_ONLY)
    async def ask(
        question: Annotated[str, Field(description="a question about the papers: a lookup, a comparison of "
                                                   "named papers, 'which papers ...', a topic summary")],
        conversation_id: Annotated[str | None, Field(description="from an earlier ask, to ask a follow-up "
                                                                 "('how fast is it?')")] = None,
        ctx: Context | None = None,
    ) -> Annotated[CallToolResult, AskResult]:
        """Answer from the collection: text quoting abstracts with [n] citations, and the cited sources as data.

        When the collection does not hold the answer, the reply says so (kind 'refusal') and names
        the nearest papers instead of guessing.
        """
        return await call(ctx, tools.ask, question, conversation_id)

    @server.tool(annotations=READ_ONLY)
    async def get_paper(
        id_or_title: Annotated[str, Field(description="a paper id (from search_papers or ask) or its title, "
                                                      "or a part of the title that only one paper has")],
        ctx: Context | None = None,
    ) -> PaperDetail:
        """One paper's title, abstract, authors, year and where it was read from."""
        return await call(ctx, tools.get_paper, id_or_title)

    @server.tool(annotations=READ_ONLY)
    async def list_papers(
        title_filter: Annotated[str, Field(description="keep papers whose title contains this; empty = all")] = "",
        limit: Annotated[int, Field(ge=1, le=MAX_LIST_LIMIT, description="most papers listed")] = 50,
        ctx: Context | None = None,
    ) -> PaperList:
        """The collection's papers by title, with the total count."""
        return await call(ctx, tools.list_papers, title_filter, limit)

    return server


def _progress_reporter(ctx: Context | None) -> Callable[[int, int], None] | None:
    """Indexing progress (an empty collection is ingested on the first call) as MCP progress notifications."""
    if ctx is None:
        return None

    def report(done: int, total: int) -> None:
        try:
            anyio.from_thread.run(ctx.report_progress, done, total, "indexing the collection")
        except Exception:  # a client that left, or one without a progress token: indexing goes on
            return

    return report


def tools_for(settings: Settings, service: Callable[[], PaperChat], generator: str | None = None) -> PaperChatTools:
    registry = ConversationRegistry(settings.conversations_max, settings.conversation_max_age_s,
                                    settings.history_turns)
    return PaperChatTools(service, registry, generator)


def gate_for(settings: Settings) -> ServiceGate:
    return ServiceGate(settings.ui_concurrency, settings.api_queue)


def run_stdio(settings: Settings, generator: str | None = None) -> None:
    """`paperchat mcp`: serve the tools over stdin/stdout until the client closes them."""

    def make_service() -> PaperChat:
        from assistant.service import PaperChat  # here, not at import: keeps `initialize` fast

        return PaperChat(settings)

    server = build_server(tools_for(settings, make_service, generator), gate_for(settings))
    server.run("stdio")
