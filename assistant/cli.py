"""`paperchat` command line: argument parsing and printing only; all work goes through the service.

Imports of the heavy stack happen inside commands, so `paperchat --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.answer import Answer
    from assistant.service import PaperChat


def _service(args: argparse.Namespace) -> PaperChat:
    from assistant.service import PaperChat
    from assistant.settings import load_settings

    overrides: dict[str, Any] = {
        "data_dir": args.data_dir, "chroma_host": args.chroma_host, "chroma_port": args.chroma_port,
    }
    return PaperChat(load_settings(args.config, **overrides))


def _progress_bar() -> Any:
    from tqdm import tqdm

    bar: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, unit="chunk", desc="embedding", file=sys.stderr, disable=total == 0)
        bar["bar"].n = done
        bar["bar"].refresh()
        if done >= total:
            bar["bar"].close()

    return update


def _print_json(answer: Answer) -> None:
    from assistant.safe_text import safe_answer

    print(json.dumps(safe_answer(answer), ensure_ascii=False, indent=2))


def cmd_ingest(args: argparse.Namespace) -> int:
    service = _service(args)
    summary = service.ingest([Path(p) for p in args.paths] or None, _progress_bar(), args.vectors or ())
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print("\n".join(summary.lines()))
    nothing_read = summary.records == 0 and summary.skipped
    return 1 if nothing_read else 0


def cmd_embed(args: argparse.Namespace) -> int:
    import time

    started = time.perf_counter()
    papers, chunks = _service(args).embed_to_file([Path(p) for p in args.paths] or None, args.out, args.dtype)
    seconds = time.perf_counter() - started
    print(f"{papers} papers, {chunks} chunks embedded in {seconds:.1f}s ({papers / seconds:.1f} abstracts/s) "
          f"-> {args.out}")
    return 0 if papers else 1


def _ensure(service: PaperChat) -> None:
    summary = service.ensure_index(_progress_bar())
    if summary is not None:
        print("\n".join(summary.lines()[:1]), file=sys.stderr)


def _stream_answer(service: PaperChat, question: str, conversation: Any, generator: str | None) -> Answer:
    """Print the answer as it streams; if verification changed it, print the checked version.

    Everything printed goes through assistant.safe_text, as on every other channel: a terminal's
    output is often pasted into, or piped to, something that renders Markdown.
    """
    from assistant.answer import Answer
    from assistant.safe_text import SafeStream, safe_markdown

    streamed: list[str] = []
    safe = SafeStream()
    final: Answer | None = None
    for piece in service.stream(question, conversation, generator=generator):
        if isinstance(piece, Answer):
            final = piece
        else:
            streamed.append(piece)
            print(safe.feed(piece), end="", flush=True)
    assert final is not None
    print(safe.flush(), end="")
    if "".join(streamed).strip() != final.text.strip():
        print("\n\n--- checked answer ---\n" + safe_markdown(final.text))
    else:
        print()
    final_sources = final.sources_markdown()
    if final_sources:
        print("\nSources:\n" + safe_markdown(final_sources))
    if final.status == "partial":
        lacking = f" (the sources do not report {', '.join(final.missing)})" if final.missing else ""
        print(safe_markdown(f"\nanswer: partial{lacking}"))
    for notice in final.notices:
        print(f"\nnote: {safe_markdown(notice)}")
    return final


def cmd_ask(args: argparse.Namespace) -> int:
    service = _service(args)
    _ensure(service)
    if args.json:
        answer = service.ask(args.question, generator=args.generator)
        _print_json(answer)
    else:
        answer = _stream_answer(service, args.question, None, args.generator)
    return 1 if answer.kind == "error" else 0


def cmd_chat(args: argparse.Namespace) -> int:
    from assistant.chat import Conversation

    service = _service(args)
    _ensure(service)
    conversation = Conversation(max_turns=service.settings.history_turns)
    turns: list[tuple[str, Answer]] = []  # the whole chat, for /export (the conversation keeps only the last few)
    print("paperchat: ask about the papers in the collection. Commands: /new (forget history), "
          "/export PATH.md (Markdown, and PATH.bib, .ris, .json), /quit.")
    while True:
        try:
            question = input("\nyou> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if question.strip() in ("/quit", "/exit"):
            return 0
        if question.strip() == "/new":
            conversation.clear()
            turns.clear()
            print("(history cleared)")
            continue
        command, _, target = question.strip().partition(" ")
        if command == "/export":
            _export_chat(service, turns, target.strip())
            continue
        if not question.strip():
            continue
        turns.append((question, _stream_answer(service, question, conversation, args.generator)))


def _export_chat(service: PaperChat, turns: list[tuple[str, Answer]], target: str) -> None:
    from assistant.export import cited_papers, export_conversation

    if not target:
        print("usage: /export PATH.md  (writes the Markdown, and PATH.bib, PATH.ris and PATH.json beside it)")
        return
    if not turns:
        print("(nothing to export yet)")
        return
    catalog = {paper.id: paper for paper in service.papers()}
    try:
        files = export_conversation(turns, Path(target).expanduser(), catalog)
    except OSError as exc:
        print(f"(export failed: {exc})")
        return
    print(f"(wrote {files.markdown}, {files.bibtex}, {files.ris} and {files.csl_json}: {len(turns)} question(s), "
          f"{len(cited_papers(turns))} cited paper(s))")


def cmd_ui(args: argparse.Namespace) -> int:
    from assistant.settings import load_settings
    from ui.bind import check_api_bind, check_bind

    overrides: dict[str, Any] = {"ui_host": args.host, "ui_port": args.port}
    settings = load_settings(args.config, data_dir=args.data_dir, chroma_host=args.chroma_host,
                             chroma_port=args.chroma_port, **overrides)
    check_bind(settings.ui_host, settings.ui_auth)  # refuse before loading anything
    check_api_bind(settings.ui_host, settings.api_token)  # /v1 and /mcp: a token beyond loopback
    from assistant.service import PaperChat
    from ui.app import launch

    launch(PaperChat(settings))
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    """MCP over stdio: the service (model, Chroma) is built on the first tool call, not here."""
    from assistant.mcp_server import run_stdio
    from assistant.settings import load_settings

    settings = load_settings(args.config, data_dir=args.data_dir, chroma_host=args.chroma_host,
                             chroma_port=args.chroma_port)
    run_stdio(settings, args.generator)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    stats = _service(args).stats()
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        for key, value in stats.items():
            print(f"{key}: {', '.join(value) if isinstance(value, list) else value}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from assistant.evaluate import run_eval

    service = _service(args)
    _ensure(service)
    count = run_eval(service, Path(args.questions), Path(args.out), mode=args.mode, generator=args.generator,
                     limit=args.limit)
    print(f"wrote {count} answers to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paperchat",
                                     description="Cited answers over a collection of paper abstracts.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="TOML settings file (default: ./paperchat.toml if present)")
    common.add_argument("--data-dir", type=Path, help="where the index lives (default: .paperchat)")
    common.add_argument("--chroma-host", help="use a Chroma server (`chroma run`) at this host")
    common.add_argument("--chroma-port", type=int, help="Chroma server port (default 8000)")
    common.add_argument("--generator", choices=["extractive", "openai", "local"],
                        help="who writes answers (default: settings.generator, i.e. extractive)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", parents=[common],
                       help="add files or folders to the index: BibTeX, RIS, JSON/JSONL (CSL-JSON, arXiv, Semantic "
                            "Scholar, OpenAlex), CSV/TSV, Markdown, PDF, a Zotero library (~/Zotero), listings")
    p.add_argument("paths", nargs="*", help="files or directories (default: the bundled corpus)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--vectors", type=Path, action="append",
                   help="vector file from `paperchat embed` (repeatable): its embeddings are loaded, not computed")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("embed", parents=[common],
                       help="embed files into a vector file for `ingest --vectors` (e.g. on a GPU machine)")
    p.add_argument("paths", nargs="*", help="files or directories (default: the bundled corpus)")
    p.add_argument("--out", type=Path, required=True, help="vector file to write (.npz)")
    p.add_argument("--dtype", choices=["float16", "int8"], default="float16",
                   help="stored precision: float16 (default) or int8 (a quarter of float32's size)")
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("ask", parents=[common], help="answer one question with citations")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the whole answer as JSON")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", parents=[common], help="interactive chat with follow-up questions")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("ui", parents=[common], help="web UI (Gradio) on 127.0.0.1:7860, with /v1 and /mcp")
    p.add_argument("--host", help="address to bind (default 127.0.0.1; any other needs ui_auth 'user:password' "
                   "and api_token)")
    p.add_argument("--port", type=int, help="port (default 7860)")
    p.set_defaults(func=cmd_ui)

    p = sub.add_parser("mcp", parents=[common],
                       help="MCP server over stdio (for Claude Desktop, IDE agents): search_papers, ask, ...")
    p.set_defaults(func=cmd_mcp)

    p = sub.add_parser("stats", parents=[common], help="what the index holds")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("eval", parents=[common], help="answer a question set and write an answers file")
    p.add_argument("questions", help="questions JSONL (dev.jsonl format)")
    p.add_argument("--out", required=True, help="answers JSONL to write")
    p.add_argument("--mode", choices=["hybrid", "dense", "keyword"], default="hybrid", help="retriever to use")
    p.add_argument("--limit", type=int, help="answer only the first N items (slow generators on a CPU)")
    p.set_defaults(func=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from assistant.settings import SettingsError
    from assistant.store import StoreError
    from ingest.vectorfile import VectorFileError

    try:
        return int(args.func(args) or 0)
    except (SettingsError, StoreError, VectorFileError, OSError) as exc:
        print(f"paperchat: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("paperchat: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a user sees one line, never a traceback; PAPERCHAT_DEBUG=1 shows it
        if os.environ.get("PAPERCHAT_DEBUG"):
            raise
        print(f"paperchat: error: {type(exc).__name__}: {exc} (set PAPERCHAT_DEBUG=1 for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
