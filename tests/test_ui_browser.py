"""The web UI in a real browser: Debian's chromium driven by Playwright (never `playwright install`).

One app over an empty data dir: loading the page indexes the corpus, then a comparison is asked
and its citations and sources checked, a JSONL is uploaded and its paper asked about (its
`<script>` must show as text), the collection searched and the conversation exported.
Screenshots go to test-artifacts/ui/. `make test` installs chromium first (`make browser`).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import REPO_ROOT, jsonl, make_settings, paper_titled

if TYPE_CHECKING:
    from playwright.sync_api import Page

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "ui"
UI_TITLES = ["ZeRO:", "ZeRO++:", "FlashAttention-2:", "FuseMax:", "MoE++:"]
GLIMMER = {
    "title": "Glimmer: Sparse Retrieval Heads for Long-Context Transformers",
    "abstract": "Long-context transformers spend most of their memory on attention caches. Glimmer keeps only "
                "sparse retrieval heads and drops the rest of the cache <script>window.__pwned = 1</script> "
                "without retraining. On long-document question answering, Glimmer cuts cache memory by 5x with "
                "under 1% accuracy loss. The <b>bold</b> claim is that retrieval heads suffice.",
}
WAIT_MS = 120_000  # two slow cores: generous, the happy path takes seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The UI over an empty data dir whose corpus is five small-corpus papers (the page load ingests them)."""
    from assistant.service import PaperChat
    from ui.app import launch

    work = tmp_path_factory.mktemp("ui_browser")
    corpus = work / "ui_papers.jsonl"
    corpus.write_text(jsonl([paper_titled(prefix) for prefix in UI_TITLES]), encoding="utf-8")
    port = free_port()
    demo = launch(PaperChat(make_settings(work / "data", [corpus])), "127.0.0.1", port, block=False, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("/usr/bin/chromium is missing: `make browser` installs it")
        pytest.skip("/usr/bin/chromium is missing: run `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Any, app_url: str) -> Iterator[Page]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)
    try:
        yield page
    finally:
        context.close()
    assert not outside, f"the page fetched from outside the app: {outside[:5]}"


def shot(page: Page, name: str, full_page: bool = False) -> None:
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


def test_chat_upload_escape_and_export_in_a_browser(page: Page, app_url: str, tmp_path: Path) -> None:
    # Record what the page shows while it loads: the first visit indexes the corpus with a progress bar.
    page.add_init_script("""
        window.__seen = [];
        new MutationObserver(() => {
            const text = document.body ? document.body.innerText : "";
            const hit = text.match(/Indexing the corpus[^\\n]*|\\d+\\/\\d+ chunks/g);
            if (hit) window.__seen.push(...hit);
        }).observe(document, {subtree: true, childList: true, characterData: true});
    """)
    page.goto(app_url)
    page.wait_for_selector("#pc-ready >> text=Ask away")
    assert "Indexed the corpus: 5 papers added" in page.inner_text("#pc-ready")
    assert any("Indexing the corpus" in text for text in page.evaluate("() => window.__seen")), (
        page.evaluate("() => window.__seen"))
    shot(page, "01-loaded.png")

    # A comparison from the example buttons: streamed into the chat, table rendered, citations linked.
    page.locator("#pc-examples").get_by_text("Compare ZeRO and ZeRO++", exact=True).click()
    page.wait_for_function("() => document.querySelector('#pc-question textarea').value === 'Compare ZeRO and ZeRO++'")
    page.locator("#pc-question textarea").press("Enter")
    page.wait_for_selector("#pc-status >> text=Answered by extractive")
    chat = page.locator("#pc-chat")
    assert chat.locator("table").count() == 1
    header = chat.locator("table th").all_inner_texts()
    assert [h.strip() for h in header][1:] == ["ZeRO [1]", "ZeRO++ [2]"]
    assert chat.locator("table td").filter(has_text="Method").count() == 1
    assert chat.locator("a.pc-cite").count() >= 4
    panel = page.locator("#pc-sources-panel")
    assert panel.locator("section.pc-source").count() == 2
    assert panel.locator("#pc-src-0-1 .pc-source-title").inner_text().startswith("[1] ZeRO: Memory Optimizations")
    assert panel.locator("#pc-src-0-2 mark").count() >= 3
    assert "comparison · 2 source(s)" in page.inner_text("#pc-status")
    shot(page, "02-comparison.png")  # the picture in docs/ui.png

    # A [2] in the answer jumps to source 2 and flashes it.
    chat.locator('a.pc-cite[href="#pc-src-0-2"]').last.click()
    page.wait_for_selector("#pc-src-0-2.pc-flash")
    # The card scrolls into the panel's view (the panel scrolls on its own, beside the chat).
    page.wait_for_function("""() => {
        const card = document.querySelector('#pc-src-0-2').getBoundingClientRect();
        const panel = document.querySelector('#pc-sources-panel').getBoundingClientRect();
        return Math.abs(card.top - panel.top) < 60 && card.top < window.innerHeight;
    }""")
    shot(page, "03-citation.png")

    # Upload a JSONL: progress, then a summary naming the added paper and the skipped record.
    page.get_by_role("tab", name="Add papers").click()
    upload = tmp_path / "glimmer.jsonl"
    upload.write_text(jsonl([GLIMMER, {"title": "No abstract here"}]), encoding="utf-8")
    page.locator("#pc-upload input[type=file]").set_input_files(str(upload))
    page.wait_for_selector("#pc-upload >> text=glimmer.jsonl")
    page.click("#pc-add")
    page.wait_for_selector("#pc-ingest-report >> text=1 added")
    report = page.inner_text("#pc-ingest-report")
    assert "1 added, 0 updated, 0 unchanged, 1 skipped" in report
    assert "Added: Glimmer: Sparse Retrieval Heads" in report and "Skipped:" in report
    shot(page, "04-upload.png")

    # The new paper is searchable at once; the <script> in its abstract is shown as text, never run.
    page.get_by_role("tab", name="Chat").click()
    box = page.locator("#pc-question textarea")
    box.fill("What does Glimmer do?")
    box.press("Enter")
    page.wait_for_selector("#pc-sources-panel >> text=Glimmer: Sparse Retrieval Heads")
    page.wait_for_selector("#pc-status >> text=lookup")
    last_answer = chat.locator(".message.bot, [data-testid='bot']").last
    assert "<script>window.__pwned = 1</script>" in last_answer.inner_text()
    assert "<script>window.__pwned = 1</script>" in panel.inner_text()
    assert "<b>bold</b>" in panel.inner_text()
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#pc-chat script, #pc-sources-panel script, #pc-sources-panel b").count() == 0
    shot(page, "05-escaped.png")

    # Clicking the earlier answer brings its sources back into the panel.
    chat.get_by_text("Side by side").click()
    page.wait_for_selector("#pc-sources-panel .pc-sources-head >> text=Compare ZeRO and ZeRO++")
    assert panel.locator("#pc-src-0-2").count() == 1

    # Collection: count, files, search by title.
    page.get_by_role("tab", name="Collection").click()
    page.wait_for_selector("#pc-collection-stats >> text=6 papers")
    assert "glimmer.jsonl" in page.inner_text("#pc-collection-stats")
    page.fill("#pc-title-filter textarea, #pc-title-filter input", "glimmer")
    page.wait_for_selector("#pc-paper-list >> text=1 paper(s)")
    assert "Glimmer: Sparse Retrieval Heads" in page.inner_text("#pc-paper-list")
    shot(page, "06-collection.png")

    # Export: both files offered for download; the Markdown keeps the script as text.
    page.get_by_role("tab", name="Chat").click()
    page.click("#pc-export")
    link = page.locator('#pc-exported a[download="paperchat-conversation.md"]')
    link.wait_for()
    assert page.locator('#pc-exported a[download="paperchat-conversation.bib"]').count() == 1
    with page.expect_download() as download:
        link.click()
    markdown = Path(download.value.path()).read_text(encoding="utf-8")
    assert "## 1. Compare ZeRO and ZeRO++" in markdown and "## 2. What does Glimmer do?" in markdown
    assert "## References" in markdown and "&lt;script&gt;" in markdown and "<script" not in markdown
    shot(page, "07-export.png", full_page=True)

    # New chat: history and sources panel cleared.
    page.click("#pc-new-chat")
    page.wait_for_selector("#pc-status >> text=New chat")
    assert chat.locator("a.pc-cite").count() == 0
    assert panel.locator("section.pc-source").count() == 0

