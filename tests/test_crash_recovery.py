"""Crash recovery and concurrent use of one data dir, with real `paperchat` processes.

`paperchat ingest` runs as a subprocess over a 20-paper corpus (three batches of up to 8
papers) and is SIGKILLed at distinct points: while the first batch embeds (seen in its progress
output), after the first batch is written (progress output again), between a batch's Chroma write
and its catalog rows, and after the last batch but before the keyword index is saved. Those last
two windows are milliseconds wide, so the pipeline's test hook (IngestPipeline.TEST_PAUSE_ENV)
stops the process there; the test checks the real on-disk state of the stopped process before
killing it. After each kill the store is reopened by a new process and must hold exactly the
corpus: paper and chunk counts, no duplicate or orphan chunk ids, the keyword index's documents
equal to Chroma's ids, every chunk's text equal to its catalog abstract, and answers that work.

Store contents are always read in a separate process: a Chroma client kept open here would keep
its own view of files the subprocesses change.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS_DIR, REPO_ROOT

from ingest.chunking import paper_chunks
from ingest.pipeline import IngestPipeline, read_inputs
from ingest.records import Paper

CORPUS_PAPERS = 20  # 8 + 8 + 4: three batches of about a second each on a 2-core CPU
BATCH = 8  # small batches (PAPERCHAT_INGEST_BATCH_PAPERS) keep every ingest here short
TIMEOUT_S = 240
PROGRESS = re.compile(r"(\d+)/(\d+) \[")  # tqdm's "106/297 [00:12<..." on stderr

# Reads a data dir in a fresh process and prints what the assertions need as JSON.
INSPECT = r"""
import json, sys
from pathlib import Path
from assistant.keyword import KeywordIndex
from assistant.settings import load_settings
from assistant.store import PaperStore

store = PaperStore(load_settings(config_file=Path(sys.argv[2]), data_dir=Path(sys.argv[1])))
generation, catalog = store.catalog.snapshot()
got = store.collection.get(include=["documents"])
docs = dict(zip(got["ids"], got["documents"]))
count = store.collection.count()
nearest = []
if count:
    probe = store.collection.get(ids=got["ids"][:1], include=["embeddings"])["embeddings"][0]
    nearest = store.collection.query(query_embeddings=[probe], n_results=count, include=[])["ids"][0]
keyword = KeywordIndex.load(store.settings.keyword_dir, generation)
print(json.dumps({
    "papers": {pid: row.chunks for pid, row in catalog.items()},
    "abstracts": {pid: row.abstract for pid, row in catalog.items()},
    "chroma_ids": got["ids"],
    "count": count,
    "vector_index_ids": nearest,
    "chunk_text_differs": sorted(pid for pid, row in catalog.items()
                                 if " ".join(docs.get(f"{pid}#{n}", "") for n in range(row.chunks)) != row.abstract),
    "pending": store.catalog.pending(),
    "keyword_current": keyword is not None,
    "keyword_ids": [d["node_id"] for d in keyword.retriever.corpus] if keyword and keyword.retriever else [],
}))
"""

# Damages a store the way a crash or a stray tool could: drops chunks, adds orphans, drops a row.
DAMAGE = r"""
import json, sys
from pathlib import Path
from assistant.settings import load_settings
from assistant.store import PaperStore

store = PaperStore(load_settings(config_file=Path(sys.argv[2]), data_dir=Path(sys.argv[1])))
lose_vectors, lose_row = sys.argv[3], sys.argv[4]
store.collection.delete(ids=[f"{lose_vectors}#0", f"{lose_vectors}#1"])
store.collection.add(ids=["pdeadbeefdeadbee#0", f"{lose_vectors}#99"], embeddings=[[0.05] * 384] * 2,
                     metadatas=[{"paper_id": "pdeadbeefdeadbee", "chunk": 0}, {"paper_id": lose_vectors, "chunk": 99}],
                     documents=["stray", "stray"])
store.catalog.delete([lose_row])
print(json.dumps({"count": store.collection.count(), "papers": len(store.catalog)}))
"""


# ---- corpus and expectations ---------------------------------------------------------------------


def corpus_papers() -> list[Paper]:
    """The first CORPUS_PAPERS papers of the bundled corpus, in file and line order."""
    papers, problems, _ = read_inputs([CORPUS_DIR], 10**9, 10**9)
    assert not problems

    def where(paper: Paper) -> tuple[str, int]:
        name, _, line = paper.sources[0].rpartition(":")
        return name, int(line)

    return sorted(papers, key=where)[:CORPUS_PAPERS]


def write_corpus(path: Path, papers: list[Paper]) -> Path:
    path.write_text("".join(json.dumps({"title": p.title, "abstract": p.abstract}) + "\n" for p in papers))
    return path


def chunk_counts(papers: list[Paper]) -> dict[str, int]:
    return {p.id: len(paper_chunks(p, 90)) for p in papers}


@pytest.fixture(scope="module")
def papers() -> list[Paper]:
    found = corpus_papers()
    assert len(found) == CORPUS_PAPERS
    return found


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, papers: list[Paper]) -> Path:
    """corpus.jsonl and a config whose corpus is that file (an empty store never pulls in all of data/)."""
    root = tmp_path_factory.mktemp("crash")
    corpus = write_corpus(root / "corpus.jsonl", papers)
    (root / "paperchat.toml").write_text(f"corpus = [{json.dumps(str(corpus))}]\n")
    return root


# ---- subprocesses ---------------------------------------------------------------------------------


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERCHAT_")}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PAPERCHAT_INGEST_BATCH_PAPERS=str(BATCH),
               **extra)
    return env


STARTED: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _no_leftover_processes() -> Iterator[None]:
    """A failed assertion must not leave a stopped (test-hook) ingest holding a data dir's lock."""
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


class Cli:
    """A `paperchat` subprocess whose stderr (progress bar, notices) is collected as it arrives."""

    def __init__(self, workdir: Path, data_dir: Path, *args: str, pause: str | None = None) -> None:
        env = cli_env(**({IngestPipeline.TEST_PAUSE_ENV: pause} if pause else {}))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", *args, "--data-dir", str(data_dir),
             "--config", str(workdir / "paperchat.toml")],
            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        STARTED.append(self.proc)
        self._err: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        while chunk := os.read(self.proc.stderr.fileno(), 4096):
            self._err.append(chunk)

    @property
    def stderr(self) -> str:
        return b"".join(self._err).decode(errors="replace").replace("\r", "\n")

    def progress(self) -> list[tuple[int, int]]:
        return [(int(done), int(total)) for done, total in PROGRESS.findall(self.stderr)]

    def wait_for(self, what: str, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while not condition():
            assert self.proc.poll() is None, f"exited ({self.proc.returncode}) before {what}:\n{self.stderr}"
            assert time.monotonic() < deadline, f"no {what} within {TIMEOUT_S}s:\n{self.stderr}"
            time.sleep(0.02)

    def wait_paused(self, point: str) -> None:
        self.wait_for(f"pause at {point}", lambda: f"test hook: paused at {point}" in self.stderr)
        # The hook stops the process itself; make sure it really is stopped before reading its state.
        stat = Path(f"/proc/{self.proc.pid}/stat")
        self.wait_for("stopped state", lambda: stat.read_text().rsplit(")", 1)[1].split()[0] == "T")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(timeout=30) == -signal.SIGKILL

    def finish(self) -> tuple[int, str]:
        """(exit status, stdout) once it ends."""
        assert self.proc.stdout is not None
        stdout = self.proc.stdout.read()  # not communicate(): it would also read stderr, from our reader thread
        self.proc.wait(timeout=TIMEOUT_S)
        self._reader.join(timeout=10)
        return self.proc.returncode, stdout.decode()


def run(workdir: Path, data_dir: Path, *args: str) -> tuple[int, str, str]:
    cli = Cli(workdir, data_dir, *args)
    code, stdout = cli.finish()
    return code, stdout, cli.stderr


def ingest(workdir: Path, data_dir: Path, corpus: Path | None = None) -> dict[str, Any]:
    """A complete `paperchat ingest --json`; its summary."""
    code, stdout, stderr = run(workdir, data_dir, "ingest", str(corpus or workdir / "corpus.jsonl"), "--json")
    assert code == 0, stderr
    assert "Traceback" not in stderr
    return json.loads(stdout)


def inspect(workdir: Path, data_dir: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", INSPECT, str(data_dir), str(workdir / "paperchat.toml")],
                          cwd=REPO_ROOT, env=cli_env(), capture_output=True, text=True, timeout=TIMEOUT_S,
                          check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def ask(workdir: Path, data_dir: Path, paper: Paper) -> str:
    """`paperchat ask` about one paper: it must answer from that paper. Returns stderr (notices)."""
    code, stdout, stderr = run(workdir, data_dir, "ask", f"What does {paper.title} propose?", "--json")
    assert code == 0, stderr
    assert "Traceback" not in stderr
    answer = json.loads(stdout)
    assert answer["kind"] not in ("error", "refusal"), answer["text"]
    assert answer["sources"][0]["title"] == paper.title, [s["title"] for s in answer["sources"]]
    return stderr


# ---- the store must be exactly the corpus --------------------------------------------------------------


def assert_exact(state: dict[str, Any], papers: list[Paper]) -> None:
    """Exactly these papers and their chunks, and every index agreeing with the catalog."""
    expected = chunk_counts(papers)
    expected_ids = sorted(f"{pid}#{n}" for pid, chunks in expected.items() for n in range(chunks))
    assert state["papers"] == expected  # paper ids and each paper's chunk count
    assert {pid: state["abstracts"][pid] for pid in expected} == {p.id: p.abstract for p in papers}
    assert state["count"] == sum(expected.values()) == len(state["chroma_ids"])
    assert sorted(state["chroma_ids"]) == expected_ids  # no duplicate, orphan or missing chunk id
    assert sorted(state["vector_index_ids"]) == expected_ids  # the vector index itself holds them all
    assert state["chunk_text_differs"] == []  # no chunk holds another version's text
    assert state["pending"] == []
    assert state["keyword_current"], "keyword index is not stamped with the catalog generation"
    assert sorted(state["keyword_ids"]) == expected_ids


def assert_consistent(state: dict[str, Any]) -> None:
    """Whatever papers the catalog holds, Chroma and the keyword index hold exactly their chunks."""
    ids = sorted(f"{pid}#{n}" for pid, chunks in state["papers"].items() for n in range(chunks))
    assert sorted(state["chroma_ids"]) == sorted(state["vector_index_ids"]) == sorted(state["keyword_ids"]) == ids
    assert state["count"] == len(ids)
    assert state["chunk_text_differs"] == [] and state["pending"] == [] and state["keyword_current"]


def complete_after_kill(workdir: Path, data_dir: Path, papers: list[Paper], committed: int) -> None:
    """Rerun ingest after a kill: it embeds only what is missing and leaves the store exact."""
    summary = ingest(workdir, data_dir)
    assert summary["total_papers"] == CORPUS_PAPERS
    assert summary["added"] == CORPUS_PAPERS - committed  # committed papers are not embedded again
    assert summary["unchanged"] == committed and summary["updated"] == 0
    assert summary["chunks_embedded"] == sum(chunk_counts(papers[committed:]).values())
    assert_exact(inspect(workdir, data_dir), papers)
    ask(workdir, data_dir, papers[-1])  # a paper of the last batch, written only by the rerun


# ---- kills at distinct points -------------------------------------------------------------------------


def test_kill_while_the_first_batch_embeds(workdir: Path, papers: list[Paper], tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli = Cli(workdir, data, "ingest", str(workdir / "corpus.jsonl"))
    total = sum(chunk_counts(papers).values())
    cli.wait_for("the first progress report", lambda: (0, total) in cli.progress())
    cli.kill()
    state = inspect(workdir, data)
    assert len(state["papers"]) < BATCH  # killed before the first batch's rows were written
    complete_after_kill(workdir, data, papers, committed=len(state["papers"]))


def test_kill_after_the_first_batch(workdir: Path, papers: list[Paper], tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli = Cli(workdir, data, "ingest", str(workdir / "corpus.jsonl"))
    first_batch = sum(chunk_counts(papers[:BATCH]).values())
    cli.wait_for("the first batch's progress report", lambda: any(done >= first_batch for done, _ in cli.progress()))
    cli.kill()
    state = inspect(workdir, data)
    committed = len(state["papers"])
    assert BATCH <= committed < CORPUS_PAPERS  # mid-way: some batches written, not all
    assert set(state["papers"]) == {p.id for p in papers[:committed]}
    complete_after_kill(workdir, data, papers, committed=committed)


def test_kill_between_chroma_write_and_catalog_rows(workdir: Path, papers: list[Paper], tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli = Cli(workdir, data, "ingest", str(workdir / "corpus.jsonl"), pause="chroma-written:2")
    cli.wait_paused("chroma-written:2")
    state = inspect(workdir, data)
    batch_two = papers[BATCH:2 * BATCH]
    assert len(state["papers"]) == BATCH and sorted(state["pending"]) == sorted(p.id for p in batch_two)
    assert state["count"] == sum(chunk_counts(papers[:2 * BATCH]).values())  # batch 2's chunks: orphans
    cli.kill()

    # The next start (here `ask`) finds the disagreement by counts alone and repairs it, saying so.
    notices = ask(workdir, data, papers[0])
    assert "disagreed with its catalog" in notices and f"{BATCH} paper(s) an interrupted ingest" in notices
    assert "run `paperchat ingest` again" in notices
    assert_exact(inspect(workdir, data), papers[:BATCH])
    complete_after_kill(workdir, data, papers, committed=BATCH)


def test_kill_before_the_keyword_index_is_saved(workdir: Path, papers: list[Paper], tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli = Cli(workdir, data, "ingest", str(workdir / "corpus.jsonl"), pause="keyword-index")
    cli.wait_paused("keyword-index")
    state = inspect(workdir, data)
    assert len(state["papers"]) == CORPUS_PAPERS and not state["keyword_current"]
    cli.kill()
    summary = ingest(workdir, data)
    assert summary["unchanged"] == CORPUS_PAPERS and summary["chunks_embedded"] == 0
    assert_exact(inspect(workdir, data), papers)
    ask(workdir, data, papers[-1])


# ---- stores that start from a complete index -------------------------------------------------------


@pytest.fixture(scope="module")
def complete_store(workdir: Path, papers: list[Paper]) -> Path:
    """One complete ingest of the corpus; tests copy it (no process has it open) and damage the copy."""
    data = workdir / "complete"
    summary = ingest(workdir, data)
    assert summary["added"] == CORPUS_PAPERS
    return data


def copy_store(complete_store: Path, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(complete_store, data)
    return data


def test_kill_while_updating_papers(workdir: Path, papers: list[Paper], complete_store: Path,
                                    tmp_path: Path) -> None:
    """Changed abstracts reuse their chunk ids: a crash must not leave new text under old rows."""
    data = copy_store(complete_store, tmp_path)
    changed = [Paper(title=p.title, abstract=p.abstract + " We also release the code.") if i % 10 == 0 else p
               for i, p in enumerate(papers)]
    shorter = papers[5]
    changed[5] = Paper(title=shorter.title, abstract=shorter.abstract.split(". ")[0] + ".")  # fewer chunks
    edited = {p.id for p, q in zip(papers, changed, strict=True) if p.abstract != q.abstract}
    corpus = write_corpus(tmp_path / "changed.jsonl", changed)
    cli = Cli(workdir, data, "ingest", str(corpus), pause="chroma-written:1")
    cli.wait_paused("chroma-written:1")
    state = inspect(workdir, data)
    assert sorted(state["pending"]) == sorted(edited)
    # The hazard is real: chunks holding the new text under old catalog rows (a paper whose added
    # sentence went into a chunk of its own still matches in its old chunks; ids cannot tell).
    assert state["chunk_text_differs"] and set(state["chunk_text_differs"]) <= edited
    cli.kill()

    notices = ask(workdir, data, papers[-1])
    assert f"re-embedded {len(edited)} paper(s) from the catalog" in notices
    assert_exact(inspect(workdir, data), papers)  # back to the old, consistent version

    summary = ingest(workdir, data, corpus)
    assert summary["updated"] == len(edited) and summary["unchanged"] == CORPUS_PAPERS - len(edited)
    assert_exact(inspect(workdir, data), changed)


def test_startup_repairs_a_damaged_store(workdir: Path, papers: list[Paper], complete_store: Path,
                                         tmp_path: Path) -> None:
    data = copy_store(complete_store, tmp_path)
    lose_vectors, lose_row = papers[3], papers[7]
    assert chunk_counts([lose_vectors])[lose_vectors.id] >= 2
    damage = subprocess.run([sys.executable, "-c", DAMAGE, str(data), str(workdir / "paperchat.toml"),
                             lose_vectors.id, lose_row.id], cwd=REPO_ROOT, env=cli_env(), capture_output=True,
                            text=True, timeout=TIMEOUT_S, check=False)
    assert damage.returncode == 0, damage.stderr

    notices = ask(workdir, data, lose_vectors)
    lines = [line for line in notices.splitlines() if "disagreed with its catalog" in line]
    assert len(lines) == 1, notices  # said once, in one line
    assert "re-embedded 1 paper(s) from the catalog" in lines[0]
    orphans = 2 + chunk_counts([lose_row])[lose_row.id]  # the two strays and the lost row's chunks
    assert f"dropped {orphans} chunk(s) no catalog row has, of 2 paper(s) not in the catalog" in lines[0]
    remaining = [p for p in papers if p is not lose_row]
    assert_exact(inspect(workdir, data), remaining)

    # Nothing more to repair on the next start: no notice at all.
    assert "disagree" not in ask(workdir, data, papers[0])
    # The lost row comes back with its file, and nothing else is embedded again.
    summary = ingest(workdir, data)
    assert summary["added"] == 1 and summary["unchanged"] == CORPUS_PAPERS - 1
    assert_exact(inspect(workdir, data), papers)


# ---- two writers, and a reader, at once -----------------------------------------------------------------


def test_two_ingests_and_a_reader_at_once(workdir: Path, papers: list[Paper], tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = write_corpus(tmp_path / "first.jsonl", papers[:12])  # two batches: 8 + 4
    second = write_corpus(tmp_path / "second.jsonl", papers[8:])  # 4 papers in both
    # The first ingest is held (test hook) in the middle of its second batch, lock held and the
    # store mid-write, however slow the machine: the second must come while it is still writing.
    one = Cli(workdir, data, "ingest", str(first), "--json", pause="chroma-written:2")
    one.wait_paused("chroma-written:2")
    two = Cli(workdir, data, "ingest", str(second), "--json")
    waiting = f"paperchat: waiting for another ingest of {data} to finish"
    two.wait_for("the waiting line", lambda: waiting in two.stderr)
    assert one.proc.poll() is None and two.progress() == []  # it waits; it has not started embedding

    # A reader meanwhile: counts disagree (a batch is half written), yet it must not repair under
    # the writer; it says so in one line and answers from the papers already indexed.
    code, stdout, stderr = run(workdir, data, "ask", f"What does {papers[0].title} propose?", "--json")
    assert code == 0 and "Traceback" not in stderr, stderr
    assert json.loads(stdout)["sources"][0]["title"] == papers[0].title
    assert stderr.count(f"paperchat: an ingest of {data} is in progress") == 1, stderr

    one.proc.send_signal(signal.SIGCONT)
    code_one, out_one = one.finish()
    code_two, out_two = two.finish()
    assert (code_one, code_two) == (0, 0), one.stderr + two.stderr
    assert two.stderr.count(waiting) == 1 and waiting not in one.stderr
    summary_one, summary_two = json.loads(out_one), json.loads(out_two)
    assert summary_one["added"] == 12
    assert (summary_two["added"], summary_two["unchanged"]) == (8, 4)  # it saw all of the first one's papers
    assert summary_two["total_papers"] == CORPUS_PAPERS
    assert_exact(inspect(workdir, data), papers)
    ask(workdir, data, papers[-1])
