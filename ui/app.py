"""The Gradio Blocks app behind `paperchat ui`: presentation only, every action calls the PaperChat service.

Layout: a Chat tab (chat with streamed answers beside a sources panel, generator picker, example
questions, new chat, export), an "Add papers" tab (upload and ingest with a progress bar) and a
Collection tab (counts, source files, search by title). Each browser session keeps its own
conversation in a gr.State; the service is shared, and at most settings.ui_concurrency calls into it
run at once (PaperChat is safe to share between threads; bench/load_ui.py measures it).

The chat is also the API endpoint `/ask` (see the README for a gradio_client example); its answer dict goes
through assistant.safe_text like every other channel. The same server also serves /v1 (OpenAI-compatible
chat) and /mcp (ui/apis.py) over the same service.
"""

from __future__ import annotations

import inspect
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr

from assistant.answer import Answer
from assistant.chat import Conversation
from assistant.export import export_conversation
from assistant.safe_text import safe_answer
from assistant.store import chroma_failure
from ui import apis, render
from ui.bind import check_api_bind, check_bind
from ui.uploads import UPLOAD_SUFFIXES, store_uploads

if TYPE_CHECKING:
    from assistant.service import PaperChat

log = logging.getLogger(__name__)

EXAMPLES = [
    "Compare ZeRO and ZeRO++",
    "Which papers are about attention?",
    "What does FlashAttention-2 improve?",
    "Which papers reduce the memory needed to train large models?",
]
SERVICE_QUEUE = "paperchat-service"  # every call into the service shares these queue slots

CSS = """
.pc-sources { font-size: 0.92rem; line-height: 1.45; }
.pc-sources-head { font-weight: 600; margin-bottom: 8px; }
.pc-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 12px;
             margin-bottom: 10px; scroll-margin-top: 8px; transition: box-shadow 0.3s; }
.pc-source:target, .pc-source.pc-flash { box-shadow: 0 0 0 3px var(--color-accent); }
.pc-source-title { font-weight: 600; }
.pc-num { color: var(--color-accent); }
.pc-files { font-size: 0.8rem; opacity: 0.75; margin: 2px 0 6px; }
.pc-abstract { margin: 0; }
.pc-source mark { background: #fde68a; color: #1f2937; padding: 0 1px; border-radius: 2px; }
.pc-notice { border-left: 3px solid #f59e0b; padding: 4px 8px; margin-bottom: 8px; }
.pc-empty { opacity: 0.75; }
a.pc-cite { text-decoration: none; font-weight: 600; }
#pc-chat table td:first-child { white-space: nowrap; }
table.pc-papers { width: 100%; border-collapse: collapse; font-size: 0.9rem; }
table.pc-papers td, table.pc-papers th { border-bottom: 1px solid var(--border-color-primary);
                                         padding: 4px 6px; text-align: left; vertical-align: top; }
"""

# A click on [n] shows source card n (once the panel shows that answer's sources) and flashes it.
HEAD = """
<script>
document.addEventListener("click", function (event) {
  var link = event.target && event.target.closest ? event.target.closest("a.pc-cite") : null;
  if (!link) return;
  event.preventDefault();
  var id = (link.getAttribute("href") || "").slice(1);
  var tries = 0;
  (function show() {
    var card = document.getElementById(id);
    if (!card) { if (++tries < 30) setTimeout(show, 100); return; }
    var box = card.parentElement;  // the panel's own scroll box: bring the card to its top
    while (box && !(box.scrollHeight > box.clientHeight + 2 && /(auto|scroll)/.test(getComputedStyle(box).overflowY))) {
      box = box.parentElement;
    }
    if (box && box !== document.scrollingElement) {
      box.scrollIntoView({behavior: "smooth", block: "nearest"});
      box.scrollTo({top: box.scrollTop + card.getBoundingClientRect().top - box.getBoundingClientRect().top - 8,
                    behavior: "smooth"});
    } else {
      card.scrollIntoView({behavior: "smooth", block: "start"});
    }
    card.classList.remove("pc-flash"); void card.offsetWidth; card.classList.add("pc-flash");
    setTimeout(function () { card.classList.remove("pc-flash"); }, 2000);
  })();
}, true);
</script>
"""


def theme() -> gr.themes.Base:
    """The default look with system fonts: nothing is fetched from a font service."""
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                             font_mono=["ui-monospace", "monospace"])


@dataclass
class ChatSession:
    """One browser session's chat: the follow-up state and every turn (for display and export)."""

    conversation: Conversation
    turns: list[tuple[str, Answer]] = field(default_factory=list)

    def clear(self) -> None:
        self.conversation.clear()
        self.turns.clear()


class PaperChatUI:
    """The event handlers; each one formats what a PaperChat call returned."""

    def __init__(self, service: PaperChat) -> None:
        self.service = service
        self.export_root = Path(tempfile.mkdtemp(prefix="paperchat-export-"))

    # ---- helpers -------------------------------------------------------------------------------
    @property
    def default_generator(self) -> str:
        return str(self.service.settings.generator)

    def generators(self) -> list[str]:
        names = list(getattr(self.service, "generators", lambda: ["extractive"])())
        if self.default_generator not in names:
            names.insert(0, self.default_generator)
        return names

    def new_session(self) -> ChatSession:
        return ChatSession(Conversation(max_turns=self.service.settings.history_turns))

    def _stream(self, question: str, conversation: Conversation, generator: str | None) -> Iterator[str | Answer]:
        """service.stream, passing the picked generator when the service takes one."""
        kwargs: dict[str, Any] = {}
        if generator and "generator" in inspect.signature(self.service.stream).parameters:
            kwargs["generator"] = generator
        return self.service.stream(question, conversation, **kwargs)

    def _collection(self, title_filter: str = "") -> tuple[str, str]:
        stats = self.service.stats()
        return render.collection_summary(stats), render.paper_list(self.service.papers(title_filter), title_filter)

    # ---- startup -------------------------------------------------------------------------------
    def startup(self, progress: gr.Progress = gr.Progress()) -> tuple[str, str, str]:  # noqa: B008
        """Load the index; ingest the configured corpus first when it is empty."""
        def report(done: int, total: int) -> None:
            progress((done, total), desc="Indexing the corpus (embedding chunks)", unit="chunks")

        progress(0, desc="Opening the index")
        summary = self.service.ensure_index(report)
        progress(None, desc="Loading the embedding model")
        try:
            self.service.search("warm up", top_k=1)  # loads the model now, not on the first question
        except Exception:  # an empty collection, say: the first question reports any real problem
            log.debug("warm-up search failed", exc_info=True)
        stats_md, papers_html = self._collection()
        papers = self.service.stats()["papers"]
        if summary is not None:
            status = (f"Indexed the corpus: {len(summary.added)} papers added, {len(summary.skipped)} skipped "
                      f"({summary.seconds:.0f} s). Ask away.")
        else:
            status = f"Index loaded: {papers} papers. Ask away."
        return status, stats_md, papers_html

    # ---- chat ----------------------------------------------------------------------------------
    def ask(self, question: str, generator: str | None,
            session: ChatSession | None) -> Iterator[tuple[Any, ...]]:
        """Stream one answer. Outputs: answer dict, chat messages, sources panel, status, textbox, session."""
        session = session or self.new_session()
        question = question or ""
        history = render.chat_messages(session.turns)
        if not question.strip():
            yield None, history, gr.skip(), "Type a question first.", "", session
            return
        turn = len(session.turns)
        pending = {"role": "assistant", "content": "…"}
        messages = [*history, {"role": "user", "content": render.user_message(question)}, pending]
        yield None, messages, render.sources_panel(None, turn), "Searching the collection…", "", session
        answer: Answer | None = None
        text = ""
        try:
            self.service.ensure_index()
            for piece in self._stream(question, session.conversation, generator):
                if isinstance(piece, Answer):
                    answer = piece
                    break
                text += piece
                pending["content"] = render.answer_message(text, turn)
                yield None, messages, gr.skip(), "Answering…", "", session
        except Exception as exc:  # shown in the chat; the session stays usable
            failure = chroma_failure(self.service.settings, exc)
            if failure is not None:  # e.g. the Chroma server is down: the message names it and says what to do
                answer = Answer(question, str(failure), "error")
            else:
                log.exception("answering %r failed", question)
                answer = Answer(question, f"Sorry, answering failed: {type(exc).__name__}: {exc}", "error")
        if answer is None:
            answer = Answer(question, text or "No answer was produced.", "error")
        session.turns.append((question, answer))
        pending["content"] = render.answer_message(answer.text, turn, answer.notices)
        yield (safe_answer(answer), messages, render.sources_panel(answer, turn),
               render.status_line(answer, self.default_generator), "", session)

    def show_turn(self, session: ChatSession | None, event: gr.SelectData) -> tuple[str, str]:
        """A click on a message shows that turn's sources."""
        if not session or not session.turns:
            return render.sources_panel(None, 0), ""
        index = event.index[0] if isinstance(event.index, list | tuple) else event.index
        turn = min(max(int(index or 0) // 2, 0), len(session.turns) - 1)
        answer = session.turns[turn][1]
        return render.sources_panel(answer, turn), render.status_line(answer, self.default_generator)

    def new_chat(self, session: ChatSession | None) -> tuple[Any, ...]:
        session = session or self.new_session()
        session.clear()
        return None, [], render.sources_panel(None, 0), "New chat: history cleared.", "", session

    # ---- export --------------------------------------------------------------------------------
    def export(self, session: ChatSession | None) -> list[str] | None:
        """Paths of the Markdown, BibTeX, RIS and CSL-JSON files (the API returns them as downloads)."""
        if not session or not session.turns:
            gr.Warning("Nothing to export yet: ask a question first.")
            return None
        catalog = {paper.id: paper for paper in self.service.papers()}
        folder = Path(tempfile.mkdtemp(dir=self.export_root))
        files = export_conversation(session.turns, folder / "paperchat-conversation.md", catalog)
        return [str(path) for path in files.paths]

    # ---- uploads and collection ----------------------------------------------------------------
    def add_files(self, files: list[str] | None,
                  progress: gr.Progress = gr.Progress()) -> tuple[str, str, str, None]:  # noqa: B008
        settings = self.service.settings
        if not files:
            return "Choose one or more files first.", *self._collection(), None
        progress(0, desc="Checking the files")
        stored = store_uploads(files, settings.data_dir, settings.max_upload_bytes)
        for reason in stored.rejected:
            log.warning("upload refused: %s", reason)  # one line each; the UI shows the same reason
        summary = None
        if stored.paths:
            def report(done: int, total: int) -> None:
                progress((done, total), desc="Embedding new papers", unit="chunks")

            try:
                summary = self.service.ingest(stored.paths, report)
            except Exception as exc:
                log.exception("ingest of uploads failed")
                return f"Ingest failed: {type(exc).__name__}: {exc}", *self._collection(), None
        titles = {paper.id: paper.title for paper in self.service.papers()} if summary else {}
        base = str(Path(settings.data_dir).resolve())
        return render.ingest_report(summary, titles, stored.rejected, base), *self._collection(), None

    def list_papers(self, title_filter: str) -> tuple[str, str]:
        return self._collection(title_filter or "")


def build_app(service: PaperChat) -> gr.Blocks:
    ui = PaperChatUI(service)
    # One slot per core: answering is CPU-bound, more slots only add contention (bench/load_ui.py).
    queue = {"concurrency_id": SERVICE_QUEUE, "concurrency_limit": service.settings.ui_concurrency}
    choices = ui.generators()
    with gr.Blocks(title="paperchat", analytics_enabled=False) as demo:
        session = gr.State(None)
        gr.Markdown("## paperchat\nCited answers from a collection of paper abstracts: every sentence is quoted "
                    "from an abstract and cited as [n].")
        ready = gr.Markdown("Loading the index…", label="Index status", elem_id="pc-ready")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            label="Chat", elem_id="pc-chat", height=560, latex_delimiters=[], allow_tags=False,
                            buttons=["copy"], feedback_options=None, sanitize_html=True, render_markdown=True,
                            placeholder="Ask about the papers: a lookup, a comparison of two papers, or "
                                        "“which papers …”. Follow-up questions keep the context.")
                        with gr.Row():
                            question = gr.Textbox(label="Question", placeholder="Ask a question about the papers…",
                                                  show_label=False, scale=5, elem_id="pc-question", autofocus=True,
                                                  submit_btn=True)
                        gr.Examples(EXAMPLES, inputs=[question], label="Example questions", elem_id="pc-examples")
                        with gr.Row():
                            generator = gr.Dropdown(choices, value=ui.default_generator, label="Generator",
                                                    elem_id="pc-generator", interactive=len(choices) > 1, scale=2)
                            new_chat = gr.Button("New chat", elem_id="pc-new-chat", scale=1)
                            export = gr.Button("Export conversation", elem_id="pc-export", scale=1)
                        status = gr.Markdown("", label="Status", elem_id="pc-status")
                        exported = gr.File(label="Exported conversation (Markdown, BibTeX, RIS, CSL-JSON)",
                                           file_count="multiple", interactive=False, visible=False,
                                           elem_id="pc-exported")
                    with gr.Column(scale=2):
                        gr.Markdown("### Sources")
                        sources = gr.HTML(render.sources_panel(None, 0), label="Sources", elem_id="pc-sources-panel",
                                          max_height=620)
                answer_json = gr.JSON(visible=False, label="Answer")
            with gr.Tab("Add papers", id="upload"):
                gr.Markdown("Upload paper files, as `paperchat ingest` reads them: BibTeX (.bib, from Zotero, "
                            "JabRef, Mendeley), RIS (.ris), CSL-JSON or other JSON / JSON Lines (.json, .jsonl: "
                            "arXiv, Semantic Scholar, OpenAlex dumps), CSV/TSV, Markdown (.md), PDFs (.pdf: title "
                            "and abstract), a Zotero database (zotero.sqlite) or a listing (.txt, a title line then "
                            f"its abstract); at most {service.settings.max_upload_bytes:,} bytes each. Records need "
                            "a title and an abstract. New papers are searchable as soon as the ingest finishes.")
                # No file_types: Gradio refuses other types itself, with a traceback in the server's log and
                # a bare error in the page; ui.uploads refuses them instead, naming the file and what is accepted.
                upload = gr.File(label=f"Paper files ({', '.join(UPLOAD_SUFFIXES)})", file_count="multiple",
                                 elem_id="pc-upload")
                add = gr.Button("Add to collection", variant="primary", elem_id="pc-add")
                ingest_report = gr.Markdown("", label="Ingest report", elem_id="pc-ingest-report")
            with gr.Tab("Collection", id="collection"):
                collection_stats = gr.Markdown("", label="Collection", elem_id="pc-collection-stats")
                title_filter = gr.Textbox(label="Search titles", placeholder="part of a title",
                                          elem_id="pc-title-filter")
                paper_list = gr.HTML("", label="Papers", elem_id="pc-paper-list")

        demo.load(ui.startup, outputs=[ready, collection_stats, paper_list], api_name="startup", **queue)
        chat_outputs = [answer_json, chatbot, sources, status, question, session]
        question.submit(ui.ask, inputs=[question, generator, session], outputs=chat_outputs, api_name="ask",
                        **queue)
        chatbot.select(ui.show_turn, inputs=[session], outputs=[sources, status], api_visibility="private")
        new_chat.click(ui.new_chat, inputs=[session], outputs=chat_outputs, api_name="new_chat")
        chatbot.clear(ui.new_chat, inputs=[session], outputs=chat_outputs, api_visibility="private")
        export.click(ui.export, inputs=[session], outputs=[exported], api_name="export", **queue).then(
            lambda files: gr.update(visible=bool(files)), inputs=[exported], outputs=[exported],
            api_visibility="private")
        add.click(ui.add_files, inputs=[upload], outputs=[ingest_report, collection_stats, paper_list, upload],
                  api_name="add_files", **queue)
        title_filter.change(ui.list_papers, inputs=[title_filter], outputs=[collection_stats, paper_list],
                            api_name="papers", **queue)
    return demo


def launch(service: PaperChat, host: str | None = None, port: int | None = None, *, auth: str | None = None,
           api_token: str | None = None, block: bool = True, quiet: bool = False) -> gr.Blocks:
    """Serve the app on `host:port` (default settings.ui_host/ui_port, auth settings.ui_auth "user:password"),
    with the OpenAI-compatible API under /v1 and MCP at /mcp (bearer token settings.api_token; see ui/apis.py).

    With block=False it returns once the server is up (call .close() on the result to stop it).
    """
    settings = service.settings
    host = host or settings.ui_host
    port = port or settings.ui_port
    credentials = check_bind(host, auth or settings.ui_auth)
    token = check_api_bind(host, api_token or settings.api_token)
    # Gradio keeps its own copy of every upload (and export) in a cache before add_files copies it to
    # <data_dir>/uploads: keep that cache under the data dir too, not in a /tmp/gradio shared by all users.
    os.environ.setdefault("GRADIO_TEMP_DIR", str(Path(settings.data_dir).resolve() / "tmp" / "gradio"))
    demo = build_app(service)
    demo.launch(server_name=host, server_port=port, auth=credentials, prevent_thread_lock=not block, quiet=quiet,
                share=False, inbrowser=False, show_error=False, max_file_size=settings.max_upload_bytes,
                theme=theme(), css=CSS, head=HEAD, footer_links=["api"], run_history=False,
                auth_message="paperchat: sign in with the ui_auth user and password",
                app_kwargs=apis.app_kwargs(service, host, token))
    return demo
