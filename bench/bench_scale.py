"""Scale benchmark: paperchat against a stock LlamaIndex citation pipeline at growing collection sizes.

    .venv/bin/python bench/bench_scale.py --sizes 388,10000,100000 --work /tmp/scale \\
        [--vectors-dir DIR] [--questions ../shared/eval/dev.jsonl] [--rounds 3] [--peer-top-k 30] \\
        [--plot docs/scale.png] [--json scale.json]

Prints figures (not pass/fail) and a Markdown table for docs/benchmarks.md. Per size:

* paperchat (hybrid, extractive): per-turn retrieval ms (answer.timings["retrieve_ms"]) and full
  cited-answer ms over every dev turn (multi-turn items as one Conversation), p50/p95; dev
  recall@5/@10 at paper level; process RSS.
* the peer, over THE SAME Chroma collection: VectorStoreIndex.from_vector_store(ChromaVectorStore)
  with the same embedding model, `.as_retriever(similarity_top_k=K)`, then CitationQueryEngine's
  own `_create_citation_nodes` (numbered "Source n:" nodes) and its QA prompt filled in: everything
  the stock engine does before it calls an LLM. Ratios paperchat/peer of latency and recall.
* paperchat again with Chroma behind a `chroma run` server on the same files.
* cold start (`paperchat ask --json` from launch to exit) and `paperchat --help`.

Size 388 is the bundled corpus; a larger size is the bundled corpus plus `size - 388` synthetic
papers (bench/synth.py, seed 0), so every dev question stays answerable and recall compares
across sizes. Each size has its own data dir under --work, ingested once and reused.

Every phase runs in its own process (`--worker`): RSS is then that phase's own, the embedded
Chroma files are closed before the server opens them, and no phase inherits another's caches.

Precomputed vectors (e.g. from a GPU box): this script writes WORK/synth-<size>.jsonl; embed it
(and data/corpus) with `python -m ingest.embed_batch data/corpus WORK/synth-<size>.jsonl --model
<all-MiniLM-L6-v2 dir> --chunk-max-words 90 --out VDIR/synth-<size>.npz --device cuda` and pass
`--vectors-dir VDIR`: files named synth-<size>*.npz (and corpus*.npz) are given to the ingest.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_core import machine, percentile  # noqa: E402
from bench.procs import free_port, stop  # noqa: E402

CORPUS = ROOT / "data" / "corpus"
HOST = "127.0.0.1"
SERVER_START_S = 120  # a server over 100k papers loads its HNSW index before answering
WARM_UP = ("warm-up: attention accelerators", "Compare ZeRO and ZeRO++", "Which papers study pruning?")
COLD_RUNS = 3
HELP_RUNS = 5

Figures = dict[str, Any]


# ---- small helpers ------------------------------------------------------------------------------
def load_items(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def unique_titles(titles: list[str]) -> list[str]:
    """Rank order kept; the corpus repeats papers across files, so recall counts each title once."""
    return list(dict.fromkeys(titles))


def recall_at(retrieved: list[str], gold: list[str], k: int) -> float:
    top = set(unique_titles(retrieved)[:k])
    return sum(title in top for title in gold) / len(gold)


def spread(values: list[float], prefix: str) -> Figures:
    return {f"{prefix}_p50_ms": round(percentile(values, 0.5), 2),
            f"{prefix}_p95_ms": round(percentile(values, 0.95), 2)}


def rss_figures() -> Figures:
    """Peak RSS (getrusage, KiB on Linux) and the current one (VmRSS), in MiB."""
    current = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            current = int(line.split()[1]) / 1024
    return {"max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rss_mb": round(current, 1)}


def pid_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def machine_line() -> str:
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        memory = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, IndexError, ValueError):
        pass
    return machine() + memory


def recall_summary(per_item: list[tuple[list[str], list[str]]]) -> Figures:
    """Mean paper-level recall@5/@10 over answerable items, from (retrieved titles, gold titles)."""
    scored = [(r, g) for r, g in per_item if g]
    return {"recall_items": len(scored),
            "recall_at_5": round(statistics.mean(recall_at(r, g, 5) for r, g in scored), 4),
            "recall_at_10": round(statistics.mean(recall_at(r, g, 10) for r, g in scored), 4)}


# ---- worker: ingest -----------------------------------------------------------------------------
def size_inputs(size: int, work: Path) -> list[Path]:
    """The bundled corpus, plus a synthetic file bringing the unique-paper count up to `size`."""
    from bench.synth import corpus_papers, synthesize

    base = len(corpus_papers(CORPUS))
    if size < base:
        raise SystemExit(f"size {size} is below the bundled corpus ({base} papers)")
    if size == base:
        return [CORPUS]
    synth = work / f"synth-{size}.jsonl"
    if not synth.exists():
        lines = [json.dumps(p, ensure_ascii=False) + "\n" for p in synthesize(size - base, seed=0)]
        partial = synth.with_suffix(".tmp")
        partial.write_text("".join(lines), encoding="utf-8")
        partial.replace(synth)  # a killed run leaves no half file that a rerun would trust
    return [CORPUS, synth]


def vector_files(vectors_dir: Path | None, size: int) -> list[Path]:
    if vectors_dir is None:
        return []
    return sorted(vectors_dir.glob(f"synth-{size}*.npz")) + sorted(vectors_dir.glob("corpus*.npz"))


def progress_printer(label: str) -> Callable[[int, int], None]:
    last = [-1]

    def show(done: int, total: int) -> None:
        step = done * 20 // total if total else 20  # every 5%: enough to see it move at 100k papers
        if step != last[0]:
            last[0] = step
            print(f"  {label}: {done}/{total} chunks", file=sys.stderr, flush=True)

    return show


def work_ingest(args: argparse.Namespace) -> Figures:
    from assistant.service import PaperChat
    from assistant.settings import load_settings

    service = PaperChat(load_settings(data_dir=args.data_dir))
    paths = size_inputs(args.size, args.work)
    store = service.store
    figures: Figures = {"ingested": False}
    if len(store.catalog) != args.size or not store.check().vectors_ok:
        vectors = vector_files(args.vectors_dir, args.size)
        kwargs: Figures = {}
        if vectors and "vectors" in inspect.signature(service.ingest).parameters:
            kwargs["vectors"] = vectors
        elif vectors:
            print("  PaperChat.ingest takes no vectors= yet: embedding here", file=sys.stderr)
        started = time.perf_counter()
        summary = service.ingest(paths, progress_printer(f"ingest {args.size}"), **kwargs)
        figures.update(ingested=True, ingest_s=round(time.perf_counter() - started, 1),
                       chunks_embedded=summary.chunks_embedded,
                       chunks_loaded=getattr(summary, "chunks_loaded", 0),
                       vector_files=[str(v) for v in kwargs.get("vectors", [])])
    started = time.perf_counter()
    store.keyword_index()  # built and saved once here, so no timed phase pays for it
    figures["keyword_index_s"] = round(time.perf_counter() - started, 2)
    figures["papers"] = len(store.catalog)
    figures["chunks"] = int(store.collection.count())
    if figures["papers"] != args.size:
        raise SystemExit(f"the store holds {figures['papers']} papers, expected {args.size}")
    return figures


# ---- worker: paperchat (embedded or server) -----------------------------------------------------
def work_paperchat(args: argparse.Namespace) -> Figures:
    from assistant.chat import Conversation
    from assistant.service import PaperChat
    from assistant.settings import load_settings

    overrides: Figures = {"data_dir": args.data_dir}
    if args.chroma_port:
        overrides.update(chroma_host=HOST, chroma_port=args.chroma_port)
    service = PaperChat(load_settings(**overrides))
    items = load_items(args.questions)
    started = time.perf_counter()
    for question in WARM_UP:  # model, catalog, keyword index and Chroma segments load here, untimed
        service.ask(question)
    figures: Figures = {"warm_up_s": round(time.perf_counter() - started, 2)}
    answer_ms: list[float] = []
    retrieve_ms: list[float] = []
    per_item: list[tuple[list[str], list[str]]] = []
    for round_no in range(args.rounds):
        for item in items:
            chat = Conversation(max_turns=service.settings.history_turns)
            for question in item.get("turns") or [item["question"]]:
                started = time.perf_counter()
                answer = service.ask(question, chat)
                answer_ms.append((time.perf_counter() - started) * 1000)
                retrieve_ms.append(answer.timings.get("retrieve_ms", 0.0))
                if answer.kind == "error":
                    raise SystemExit(f"paperchat answered with an error: {answer.text}")
            if round_no == 0:  # retrieval is deterministic: one round scores recall
                per_item.append(([r.title for r in answer.retrieved], item.get("gold_titles", [])))
    figures.update(turns=len(answer_ms), **spread(retrieve_ms, "retrieve"), **spread(answer_ms, "answer"),
                   **recall_summary(per_item), **rss_figures())
    return figures


# ---- worker: the stock LlamaIndex peer ----------------------------------------------------------
class StockCitationPipeline:
    """VectorStoreIndex retriever over paperchat's Chroma collection + CitationQueryEngine's source building."""

    def __init__(self, settings: Any, top_k: int) -> None:
        from llama_index.core import VectorStoreIndex
        from llama_index.core.query_engine import CitationQueryEngine
        from llama_index.vector_stores.chroma import ChromaVectorStore

        from assistant.embeddings import load_embedding
        from assistant.runtime import configure_environment, configure_llama_index
        from assistant.store import open_chroma_collection

        configure_environment()
        configure_llama_index()  # MockLLM: the engine's synthesizer is built but never called
        vector_store = ChromaVectorStore(chroma_collection=open_chroma_collection(settings))
        index = VectorStoreIndex.from_vector_store(vector_store, embed_model=load_embedding(settings))
        self.retriever = index.as_retriever(similarity_top_k=top_k)
        # Defaults (citation_chunk_size 512, overlap 20, SentenceSplitter): the engine as shipped.
        self.engine = CitationQueryEngine(retriever=self.retriever)

    def retrieve(self, question: str) -> list[Any]:
        from llama_index.core.schema import QueryBundle

        return self.engine.retrieve(QueryBundle(question))

    def sources(self, nodes: list[Any], question: str) -> tuple[list[Any], str]:
        """Numbered citation nodes and the QA prompt an LLM would get, as CitationQueryEngine makes them."""
        from llama_index.core.query_engine.citation_query_engine import CITATION_QA_TEMPLATE
        from llama_index.core.schema import MetadataMode

        # The private method is the engine's own code path (_query calls it); copying it would drift.
        cited = self.engine._create_citation_nodes(nodes)
        context = "\n\n".join(n.node.get_content(metadata_mode=MetadataMode.LLM) for n in cited)
        return cited, CITATION_QA_TEMPLATE.format(context_str=context, query_str=question)


def work_peer(args: argparse.Namespace) -> Figures:
    from assistant.settings import load_settings

    started = time.perf_counter()
    peer = StockCitationPipeline(load_settings(data_dir=args.data_dir), args.peer_top_k)
    setup_s = time.perf_counter() - started  # imports and model load; paperchat pays these in its warm-up
    items = load_items(args.questions)
    started = time.perf_counter()
    for question in WARM_UP:
        peer.sources(peer.retrieve(question), question)
    figures: Figures = {"setup_s": round(setup_s, 2), "warm_up_s": round(time.perf_counter() - started, 2),
                        "top_k_chunks": args.peer_top_k}
    retrieve_ms: list[float] = []
    answer_ms: list[float] = []
    per_item: list[tuple[list[str], list[str]]] = []
    papers_per_turn: list[int] = []
    for round_no in range(args.rounds):
        for item in items:
            # The stock retriever keeps no history: each turn is retrieved on its own words.
            for question in item.get("turns") or [item["question"]]:
                started = time.perf_counter()
                nodes = peer.retrieve(question)
                retrieved = time.perf_counter()
                cited, _prompt = peer.sources(nodes, question)
                done = time.perf_counter()
                retrieve_ms.append((retrieved - started) * 1000)
                answer_ms.append((done - started) * 1000)
                titles = unique_titles([n.node.metadata["title"] for n in cited])
                papers_per_turn.append(len(titles))
            if round_no == 0:
                per_item.append((titles, item.get("gold_titles", [])))
    figures.update(turns=len(answer_ms), **spread(retrieve_ms, "retrieve"), **spread(answer_ms, "answer"),
                   min_unique_papers=min(papers_per_turn),
                   mean_unique_papers=round(statistics.mean(papers_per_turn), 1),
                   **recall_summary(per_item), **rss_figures())
    return figures


WORKERS: dict[str, Callable[[argparse.Namespace], Figures]] = {
    "ingest": work_ingest, "paperchat": work_paperchat, "peer": work_peer}


# ---- driver ---------------------------------------------------------------------------------------
def run_worker(kind: str, args: argparse.Namespace, size: int, data_dir: Path, port: int = 0) -> Figures:
    """One phase in a fresh process; its figures come back as the last line of its stdout."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--size", str(size),
               "--data-dir", str(data_dir), "--work", str(args.work), "--questions", str(args.questions),
               "--rounds", str(args.rounds), "--peer-top-k", str(args.peer_top_k), "--chroma-port", str(port)]
    if args.vectors_dir:
        command += ["--vectors-dir", str(args.vectors_dir)]
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)  # stderr: live progress
    if result.returncode != 0:
        raise SystemExit(f"{kind} worker for {size} papers failed ({result.returncode}):\n{result.stdout[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def timed_runs(command: list[str], env: dict[str, str], runs: int) -> list[float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        seconds.append(time.perf_counter() - started)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(command[:2])} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return seconds


def cold_start(data_dir: Path, question: str) -> Figures:
    """Process launch to a printed answer. The OS file cache is warm after the first run, so both are kept."""
    cli = str(Path(sys.executable).with_name("paperchat"))
    env = {**os.environ, "PAPERCHAT_DATA_DIR": str(data_dir)}
    runs = timed_runs([cli, "ask", question, "--json"], env, COLD_RUNS)
    return {"cold_first_s": round(runs[0], 2), "cold_median_s": round(statistics.median(runs), 2)}


def help_time() -> float:
    cli = str(Path(sys.executable).with_name("paperchat"))
    return round(statistics.median(timed_runs([cli, "--help"], dict(os.environ), HELP_RUNS)), 3)


def heartbeat(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/api/v2/heartbeat", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def chroma_server(path: Path) -> Iterator[tuple[int, int]]:
    """`chroma run` over `path` on a free port as in tests/test_chroma_server.py: (port, pid), stopped on exit."""
    chroma = Path(sys.executable).with_name("chroma")
    executable = str(chroma) if chroma.exists() else shutil.which("chroma")
    if not executable:
        raise SystemExit("the `chroma` command (installed with chromadb) is missing")
    port = free_port(HOST)
    log_path = path.with_name("chroma-server.log")
    with log_path.open("a") as log:
        process = subprocess.Popen([executable, "run", "--path", str(path), "--host", HOST, "--port", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while not heartbeat(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"chroma run did not come up; see {log_path}")
            time.sleep(0.2)
        yield port, process.pid
    finally:
        stop(process, 15)


def measure_size(args: argparse.Namespace, size: int, question: str) -> Figures:
    data_dir = args.work / f"papers-{size}"
    print(f"== {size} papers ({data_dir})", file=sys.stderr, flush=True)
    figures: Figures = {"size": size, "ingest": run_worker("ingest", args, size, data_dir)}
    figures["cold"] = cold_start(data_dir, question)
    figures["paperchat"] = run_worker("paperchat", args, size, data_dir)
    figures["peer"] = run_worker("peer", args, size, data_dir)
    with chroma_server(data_dir / "chroma") as (port, pid):
        figures["server"] = run_worker("paperchat", args, size, data_dir, port)
        figures["server"]["chroma_server_rss_mb"] = pid_rss_mb(pid)
    return figures


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def add_ratios(size_figures: Figures) -> None:
    pc, peer = size_figures["paperchat"], size_figures["peer"]
    size_figures["ratios"] = {
        "retrieve_p50": ratio(pc["retrieve_p50_ms"], peer["retrieve_p50_ms"]),
        "retrieve_p95": ratio(pc["retrieve_p95_ms"], peer["retrieve_p95_ms"]),
        "answer_p50": ratio(pc["answer_p50_ms"], peer["answer_p50_ms"]),
        "answer_p95": ratio(pc["answer_p95_ms"], peer["answer_p95_ms"]),
        "recall_at_5": ratio(pc["recall_at_5"], peer["recall_at_5"]),
        "recall_at_10": ratio(pc["recall_at_10"], peer["recall_at_10"]),
        "server_answer_p50_vs_embedded": ratio(size_figures["server"]["answer_p50_ms"], pc["answer_p50_ms"]),
    }


# ---- output ---------------------------------------------------------------------------------------
def pair(figures: Figures, prefix: str) -> str:
    return f"{figures[f'{prefix}_p50_ms']:.0f} / {figures[f'{prefix}_p95_ms']:.0f}"


def markdown(result: Figures) -> str:
    rows = result["sizes"]
    lines = [
        f"Machine: {result['machine']}. Dev set: {result['turns_per_round']} turns x {result['rounds']} rounds "
        f"per system; peer retriever similarity_top_k={result['peer_top_k']} chunks. "
        f"`paperchat --help`: {result['help_s']:.2f} s.",
        "",
        "Latency, ms p50 / p95 per turn (paperchat: hybrid retrieval, extractive cited answer; peer: stock "
        "VectorStoreIndex retriever + CitationQueryEngine numbered sources and prompt, no LLM):",
        "",
        "| papers | chunks | paperchat retrieve | paperchat answer | peer retrieve | peer sources | "
        "ratio retrieve p50 | ratio answer p50 | server retrieve | server answer |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        pc, peer, srv, q = r["paperchat"], r["peer"], r["server"], r["ratios"]
        lines.append(f"| {r['size']:,} | {r['ingest']['chunks']:,} | {pair(pc, 'retrieve')} | {pair(pc, 'answer')} | "
                     f"{pair(peer, 'retrieve')} | {pair(peer, 'answer')} | {q['retrieve_p50']}x | {q['answer_p50']}x | "
                     f"{pair(srv, 'retrieve')} | {pair(srv, 'answer')} |")
    lines += [
        "",
        "Recall (paper level, answerable dev items, last turn), memory and start-up:",
        "",
        "| papers | paperchat R@5 / R@10 | peer R@5 / R@10 | ratio R@5 / R@10 | paperchat RSS MB (peak / now) | "
        "peer RSS MB (peak) | server: client / chroma RSS MB | cold start s (first / median) | ingest s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        pc, peer, srv, q = r["paperchat"], r["peer"], r["server"], r["ratios"]
        ingest = f"{r['ingest']['ingest_s']:.0f}" if r["ingest"]["ingested"] else "reused"
        lines.append(f"| {r['size']:,} | {pc['recall_at_5']:.3f} / {pc['recall_at_10']:.3f} | "
                     f"{peer['recall_at_5']:.3f} / {peer['recall_at_10']:.3f} | {q['recall_at_5']}x / "
                     f"{q['recall_at_10']}x | {pc['max_rss_mb']:.0f} / {pc['rss_mb']:.0f} | {peer['max_rss_mb']:.0f} | "
                     f"{srv['max_rss_mb']:.0f} / {srv['chroma_server_rss_mb']} | {r['cold']['cold_first_s']:.2f} / "
                     f"{r['cold']['cold_median_s']:.2f} | {ingest} |")
    return "\n".join(lines)


def plot(result: Figures, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    import matplotlib.pyplot as plt

    rows = result["sizes"]
    sizes = [r["size"] for r in rows]
    lines = [("paperchat retrieval p50", "paperchat", "retrieve_p50_ms", "-o"),
             ("paperchat answer p50", "paperchat", "answer_p50_ms", "-s"),
             ("paperchat answer p95", "paperchat", "answer_p95_ms", "--s"),
             ("peer (stock LlamaIndex) retrieval p50", "peer", "retrieve_p50_ms", "-^"),
             ("paperchat answer p50, Chroma server", "server", "answer_p50_ms", ":d")]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for label, system, key, style in lines:
        axes.plot(sizes, [r[system][key] for r in rows], style, label=label)
    axes.set_xscale("log")
    axes.set_xlabel("papers in the collection")
    axes.set_ylabel("ms per turn")
    axes.set_title("Latency against collection size")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="388,10000,100000", help="comma-separated paper counts")
    parser.add_argument("--work", type=Path, required=True, help="one data dir per size lives here (reused)")
    parser.add_argument("--vectors-dir", type=Path, help="precomputed vector files: synth-<size>*.npz, corpus*.npz")
    parser.add_argument("--questions", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.jsonl")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the dev turns for latency")
    parser.add_argument("--peer-top-k", type=int, default=30,
                        help="chunks the peer retrieves (papers have 1-4 chunks; 30 gives >= 10 unique papers)")
    parser.add_argument("--plot", type=Path, help="write the latency plot (PNG) here")
    parser.add_argument("--json", type=Path, help="write every figure as JSON here")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--chroma-port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.work = args.work.resolve()
    args.questions = args.questions.resolve()
    return args


def main() -> None:
    args = parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args)))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    items = load_items(args.questions)
    turns = sum(len(item.get("turns") or [item["question"]]) for item in items)
    question = next(item["question"] for item in items if item.get("question") and item.get("gold_titles"))
    result: Figures = {"machine": machine_line(), "rounds": args.rounds, "turns_per_round": turns,
                       "peer_top_k": args.peer_top_k, "help_s": help_time(), "cold_question": question, "sizes": []}
    for size in sorted(int(s) for s in args.sizes.split(",")):
        figures = measure_size(args, size, question)
        add_ratios(figures)
        result["sizes"].append(figures)
        print(json.dumps(figures), file=sys.stderr, flush=True)  # a long run shows each size as it finishes
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.plot:
        plot(result, args.plot)
        print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
