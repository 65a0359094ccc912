"""The web UI without a browser: its HTML rendering, upload checks, the bind rule, and the running app
driven through gradio_client (the `/ask` API, separate sessions, uploads, export, escaping).

The app runs in this process on a free loopback port over its own small index (five papers).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import jsonl, make_settings, paper_titled

from assistant.answer import Answer, RetrievedPaper, Source
from assistant.settings import SettingsError
from ui import render
from ui.bind import check_bind, is_loopback
from ui.uploads import UPLOAD_SUFFIXES, safe_name, store_uploads

if TYPE_CHECKING:
    from gradio_client import Client

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")  # gradio's own pandas calls

UI_TITLES = ["ZeRO:", "ZeRO++:", "FlashAttention-2:", "FuseMax:", "MoE++:"]
SCRIPT = "<script>window.__pwned = 1</script>"
GLIMMER = {
    "title": "Glimmer: Sparse Retrieval Heads for Long-Context Transformers",
    "abstract": "Long-context transformers spend most of their memory on attention caches. Glimmer keeps only "
                f"sparse retrieval heads and drops the rest of the cache {SCRIPT} without retraining. "
                "On long-document question answering, Glimmer cuts cache memory by 5x with under 1% accuracy "
                "loss. The <b>bold</b> claim is that retrieval heads suffice.",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_ui_corpus(directory: Path) -> Path:
    path = directory / "ui_papers.jsonl"
    path.write_text(jsonl([paper_titled(prefix) for prefix in UI_TITLES]), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The UI on a free port over a five-paper index (ingested here); closed after the module."""
    from assistant.service import PaperChat
    from ui.app import launch

    work = tmp_path_factory.mktemp("ui_app")
    service = PaperChat(make_settings(work / "data", [write_ui_corpus(work)]))
    service.ensure_index()
    port = free_port()
    demo = launch(service, "127.0.0.1", port, block=False, quiet=True)
    try:
        yield {"url": f"http://127.0.0.1:{port}/", "service": service, "work": work}
    finally:
        demo.close()


def client(app: dict[str, Any], **kwargs: Any) -> Client:
    from gradio_client import Client

    return Client(app["url"], verbose=False, download_files=str(app["work"] / "downloads"), **kwargs)


def ask(c: Client, question: str) -> tuple[dict[str, Any], list[dict[str, Any]], str, str]:
    answer, chat, sources, status, box = c.predict(question, "extractive", api_name="/ask")
    assert box == ""
    return answer, chat, sources, status


def text_of(message: dict[str, Any]) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


# ---- rendering, uploads and binding (no server) ----------------------------------------------

def test_answer_message_escapes_html_and_links_citations() -> None:
    text = f"Glimmer drops the cache {SCRIPT} quickly. [1] It cites LoRA \\[23\\]. [2]"
    html = render.answer_message(text, 3, ["fell back <now>"])
    assert "<script" not in html and "&lt;script&gt;" in html
    assert '<a class="pc-cite" href="#pc-src-3-1"' in html and 'href="#pc-src-3-2"' in html
    assert "\\[23\\]" in html  # an abstract's own reference marker is not a citation
    assert "> **Note:** fell back &lt;now&gt;" in html


def test_sources_panel_highlights_quoted_sentences_as_text() -> None:
    abstract = f"First sentence. Second {SCRIPT} sentence. Third & last."
    source = Source(1, "pg", "Glimmer <i>x</i>", ["up.jsonl:1"], [f"Second {SCRIPT} sentence."], abstract)
    answer = Answer("What <b>is</b> it?", "Second sentence. [1]", "lookup", [source], notices=["a <notice>"])
    html = render.sources_panel(answer, 2)
    assert '<section class="pc-source" id="pc-src-2-1">' in html
    assert "<mark>Second &lt;script&gt;window.__pwned = 1&lt;/script&gt; sentence.</mark>" in html
    assert "Third &amp; last." in html and "Glimmer &lt;i&gt;x&lt;/i&gt;" in html
    assert "<q>What &lt;b&gt;is&lt;/b&gt; it?</q>" in html and "a &lt;notice&gt;" in html
    assert "<script" not in html and "<i>" not in html and "<b>" not in html


def test_highlight_merges_overlaps_and_tolerates_whitespace() -> None:
    abstract = "Alpha beta.  Gamma\ndelta. Epsilon."
    assert render.highlight(abstract, ["Alpha beta.", "beta.  Gamma delta.", "missing"]) == (
        "<mark>Alpha beta.  Gamma\ndelta.</mark> Epsilon.")


def test_refusal_panel_lists_nearest_papers() -> None:
    answer = Answer("Protein folding?", "No paper addresses this.", "refusal",
                    retrieved=[RetrievedPaper("p1", "ZeRO <x>", 0.1)], abstained=True)
    html = render.sources_panel(answer, 0)
    assert "No paper is cited" in html and "<li>ZeRO &lt;x&gt;</li>" in html


def test_safe_name_keeps_uploads_in_their_folder(tmp_path: Path) -> None:
    assert safe_name("../../etc/passwd.txt") == "passwd.txt"
    assert safe_name("..\\..\\win\\evil.JSONL") == "evil.jsonl"
    assert safe_name("my papers (v2).bib") == "my_papers_v2.bib"
    assert safe_name(".hidden.csv") == "hidden.csv"
    assert safe_name("../..") == "upload"
    assert safe_name("Résumé.txt") == "Resume.txt"
    data_dir = tmp_path / "data"
    good = tmp_path / "in" / "..%2F..%2Fpapers.jsonl"
    good.parent.mkdir()
    good.write_text(jsonl([GLIMMER]), encoding="utf-8")
    big = tmp_path / "in" / "big.csv"
    big.write_bytes(b"title,abstract\n" + b"x" * 5000)
    exe = tmp_path / "in" / "run.sh"
    exe.write_text("echo hi")
    stored = store_uploads([good, big, exe], data_dir, max_bytes=2000)
    assert [p.relative_to(data_dir.resolve()) for p in stored.paths] == [Path("uploads/2F._2Fpapers.jsonl")]
    assert len(stored.rejected) == 2
    assert "over the 2,000-byte upload limit" in stored.rejected[0] and "only .bib" in stored.rejected[1]
    assert sorted(p.name for p in (tmp_path).rglob("*") if p.is_file() and "data" in p.parts) == [
        "2F._2Fpapers.jsonl"]
    assert ".bib" in UPLOAD_SUFFIXES and ".jsonl" in UPLOAD_SUFFIXES


def test_bind_rule() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("[::1]")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
    assert check_bind("127.0.0.1", None) is None
    assert check_bind("0.0.0.0", "ann:s3cret:x") == ("ann", "s3cret:x")
    with pytest.raises(SettingsError, match=r"refusing to serve the web UI on 0\.0\.0\.0 without a password"):
        check_bind("0.0.0.0", None)
    with pytest.raises(SettingsError, match="user:password"):
        check_bind("127.0.0.1", "nopassword")


def test_cli_refuses_non_loopback_host_without_auth(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERCHAT_")}
    config = tmp_path / "empty.toml"
    config.write_text("")
    result = subprocess.run([sys.executable, "-m", "assistant.cli", "ui", "--host", "0.0.0.0", "--config", config,
                             "--data-dir", tmp_path / "data"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "paperchat: error: refusing to serve the web UI on 0.0.0.0 without a password: set ui_auth to "
        "'user:password' (PAPERCHAT_UI_AUTH or the config file), or bind 127.0.0.1"]
    assert not (tmp_path / "data").exists()  # refused before anything was opened


# ---- the running app through gradio_client ---------------------------------------------------

def test_api_lists_the_chat_endpoint(app: dict[str, Any]) -> None:
    endpoints = client(app).view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/ask", "/new_chat", "/export", "/add_files", "/papers"} <= set(endpoints)
    assert [p["parameter_name"] for p in endpoints["/ask"]["parameters"]] == ["question", "generator"]


def test_ask_streams_a_comparison_with_sources(app: dict[str, Any]) -> None:
    c = client(app)
    job = c.submit("Compare ZeRO and ZeRO++", "extractive", api_name="/ask")
    answer, chat, sources, status, _ = job.result(timeout=120)
    assert len(job.outputs()) > 3  # the answer arrived in pieces before the final one
    assert answer["kind"] == "compare"
    assert [s["title"].split(":")[0] for s in answer["sources"]] == ["ZeRO", "ZeRO++"]
    reply = text_of(chat[-1])
    assert "| **Method** |" in reply and '<a class="pc-cite" href="#pc-src-0-2"' in reply
    assert 'id="pc-src-0-1"' in sources and 'id="pc-src-0-2"' in sources and "<mark>" in sources
    assert status.startswith("Answered by **extractive** · comparison · 2 source(s)")


def test_two_sessions_keep_separate_histories(app: dict[str, Any]) -> None:
    scripts = {
        "flash": ["What does FlashAttention-2 improve?", "How fast is it?"],
        "zero": ["What is ZeRO++?", "How much does it reduce communication volume?"],
    }
    results: dict[str, list[tuple[dict[str, Any], list[dict[str, Any]]]]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(scripts))

    def converse(name: str) -> None:
        try:
            c = client(app)
            start.wait(timeout=60)
            results[name] = [ask(c, q)[:2] for q in scripts[name]]
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=converse, args=(name,)) for name in scripts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    for name, expected_title in (("flash", "FlashAttention-2:"), ("zero", "ZeRO++:")):
        (_, _), (follow_up, chat) = results[name]
        # The follow-up ("it") resolved against this session's own first question...
        assert follow_up["sources"][0]["title"].startswith(expected_title), follow_up["sources"]
        # ...and the session's chat holds only its own two turns.
        assert [text_of(m) for m in chat if m["role"] == "user"] == scripts[name]


def test_new_chat_forgets_the_history(app: dict[str, Any]) -> None:
    c = client(app)
    ask(c, "What does FlashAttention-2 improve?")
    cleared = c.predict(api_name="/new_chat")
    assert cleared[1] == []
    _, chat, _, _ = ask(c, "Which papers are about attention?")
    assert [text_of(m) for m in chat if m["role"] == "user"] == ["Which papers are about attention?"]


def test_upload_then_ask_shows_script_as_text_and_exports(app: dict[str, Any], tmp_path: Path) -> None:
    from gradio_client import handle_file

    upload = tmp_path / "new papers.jsonl"
    upload.write_text(jsonl([GLIMMER, {"title": "No abstract here"}]), encoding="utf-8")
    c = client(app)
    report, stats, _, cleared = c.predict([handle_file(upload)], api_name="/add_files")
    assert report.startswith("**1 added, 0 updated, 0 unchanged, 1 skipped**"), report
    assert "Added: Glimmer: Sparse Retrieval Heads" in report
    assert "- Skipped: uploads/new_papers.jsonl:2: title 'No abstract here' has no 'abstract' field" in report
    assert "**6 papers**" in stats and "new_papers.jsonl" in stats and cleared is None
    assert (Path(app["service"].settings.data_dir) / "uploads" / "new_papers.jsonl").is_file()

    answer, chat, sources, _ = ask(c, "What does Glimmer do?")
    assert answer["sources"][0]["title"] == GLIMMER["title"]
    reply = text_of(chat[-1])
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in reply and "<script" not in reply
    assert "&lt;script&gt;" in sources and "<script" not in sources and "<b>" not in sources

    _, listed = c.predict("glimmer", api_name="/papers")
    assert "1 paper(s)" in listed and "Glimmer: Sparse Retrieval Heads" in listed

    exported = {Path(f).suffix: Path(f) for f in c.predict(api_name="/export")}
    assert sorted(exported) == [".bib", ".json", ".md", ".ris"]
    markdown = exported[".md"].read_text(encoding="utf-8")
    bib = exported[".bib"].read_text(encoding="utf-8")
    assert "TI  - Glimmer: Sparse Retrieval Heads" in exported[".ris"].read_text(encoding="utf-8")
    assert "## 1. What does Glimmer do?" in markdown and "&lt;script&gt;" in markdown
    assert "<script" not in markdown
    assert "@misc{glimmer_p" in bib


def test_auth_is_required_when_set(app: dict[str, Any]) -> None:
    from gradio_client import Client

    from ui.app import launch

    port = free_port()
    demo = launch(app["service"], "127.0.0.1", port, auth="ann:s3cret", block=False, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        with pytest.raises(Exception):  # noqa: B017 - gradio_client raises its own error for a login page
            Client(url, verbose=False)
        answer, *_ = Client(url, auth=("ann", "s3cret"), verbose=False).predict(
            "Which papers are about attention?", "extractive", api_name="/ask")
        assert answer["kind"] == "list"
    finally:
        demo.close()



def test_upload_takes_every_file_type_the_cli_reads(app: dict[str, Any], tmp_path: Path) -> None:
    from gradio_client import handle_file
    from library_files import ABSTRACTS, FORMATS_DIR, ZoteroItem, build_zotero_sqlite, write_paper_pdf

    from ingest.readers import SUPPORTED_SUFFIXES
    from ui.uploads import UPLOAD_SUFFIXES

    assert UPLOAD_SUFFIXES == SUPPORTED_SUFFIXES
    pdf = write_paper_pdf(tmp_path / "grok.pdf", "Grokking: Generalization Beyond Overfitting on Small Algorithmic "
                          "Datasets", ["Alethea Power"], ABSTRACTS["GROK"])
    zotero = build_zotero_sqlite(tmp_path / "Zotero" / "zotero.sqlite", [ZoteroItem(
        "BERT2019", "conferencePaper", {"title": "BERT: Pre-training of Deep Bidirectional Transformers for Language "
                                        "Understanding", "abstractNote": ABSTRACTS["BERT"], "date": "2019"})], {})
    uploads = [FORMATS_DIR / name for name in ("zotero.bib", "zotero.ris", "zotero_csl.json", "semantic_scholar.jsonl",
                                               "excel_semicolon.csv", "notes.md")] + [pdf, zotero]
    assert {path.suffix for path in uploads} == {".bib", ".ris", ".json", ".jsonl", ".csv", ".md", ".pdf", ".sqlite"}
    report, _, _, _ = client(app).predict([handle_file(path) for path in uploads], api_name="/add_files")
    # ZeRO and FlashAttention-2 are in the UI's corpus already (another abstract there): updated, not added twice.
    assert report.startswith("**8 added, 2 updated, 0 unchanged, 2 skipped** — 8 file(s), 16 record(s)"), report
    assert "- Updated: ZeRO: Memory Optimizations Toward Training Trillion Parameter Models" in report
    for title in ("Attention is All you Need",
                  "Mixture-of-Experts with Expert Choice Routing", "LoRA: Low-Rank Adaptation of Large Language Models",
                  "Grokking: Generalization Beyond Overfitting on Small Algorithmic Datasets",
                  "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding"):
        assert f"- Added: {title}" in report.splitlines(), title


def test_refused_upload_is_a_message_and_one_log_line_not_a_traceback(app: dict[str, Any], tmp_path: Path,
                                                                       capfd: pytest.CaptureFixture[str],
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    from gradio_client import handle_file

    docx = tmp_path / "thesis.docx"
    docx.write_bytes(b"PK\x03\x04 not a paper list")
    capfd.readouterr()
    with caplog.at_level("INFO"):
        report, _, _, _ = client(app).predict([handle_file(docx)], api_name="/add_files")
    assert report.splitlines()[0] == "**Nothing ingested; 1 file(s) refused.**", report
    assert "thesis.docx: only .bib" in report
    refusals = [record for record in caplog.records if "thesis.docx" in record.getMessage()]
    assert len(refusals) == 1 and refusals[0].exc_info is None, [r.getMessage() for r in refusals]
    err = capfd.readouterr().err
    assert "Traceback" not in err, err
