"""End to end: the `paperchat` CLI in subprocesses, each test with its own data dir and a small corpus.

Every CLI run loads the embedding model (several seconds on two cores), so the tests share one
indexed data dir where they only read, and keep the corpus to seven abstracts.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import E2E_PAPERS as PAPERS
from conftest import E2E_TITLES as TITLES
from conftest import run_cli

ZERO = "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models"



def write_corpus(directory: Path, name: str = "papers.jsonl") -> Path:
    path = directory / name
    path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in PAPERS), encoding="utf-8")
    return path


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout, result.stdout


def summary_counts(output: str) -> dict[str, int]:
    """Numbers from the ingest summary line: added, updated, unchanged, skipped, chunks, papers."""
    line = next(line for line in output.splitlines() if " record(s): " in line)
    counts = {name: int(n) for n, name in re.findall(r"(\d+) (added|updated|unchanged|skipped)", line)}
    counts["chunks"] = int(re.search(r"(\d+) chunks embedded", line).group(1))
    counts["papers"] = int(re.search(r"(\d+) papers indexed", line).group(1))
    return counts


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """One data dir with the small corpus ingested once; tests only read from it."""
    work = tmp_path_factory.mktemp("cli")
    corpus = write_corpus(work)
    data_dir = work / "index"
    result = run_cli("ingest", "--data-dir", data_dir, corpus, cwd=work)
    return {"work": work, "corpus": corpus, "data_dir": data_dir, "result": result}


def test_ingest_prints_summary(indexed: dict[str, object]) -> None:
    result = indexed["result"]
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    counts = summary_counts(result.stdout)
    assert counts["added"] == len(PAPERS)
    assert counts["updated"] == counts["unchanged"] == counts["skipped"] == 0
    assert counts["chunks"] >= len(PAPERS)
    assert counts["papers"] == len(PAPERS)
    data_dir = indexed["data_dir"]
    assert (data_dir / "catalog.sqlite").is_file()
    assert (data_dir / "chroma").is_dir()
    assert (data_dir / "keyword").is_dir()


def test_second_ingest_embeds_nothing(indexed: dict[str, object]) -> None:
    result = run_cli("ingest", "--data-dir", indexed["data_dir"], indexed["corpus"], cwd=indexed["work"])
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    assert "0 chunks embedded" in result.stdout
    counts = summary_counts(result.stdout)
    assert counts["added"] == 0
    assert counts["updated"] == 0
    assert counts["unchanged"] == len(PAPERS)
    assert counts["papers"] == len(PAPERS)


def test_ask_json_cites_listed_sources(indexed: dict[str, object]) -> None:
    question = "How can data-parallel training avoid replicating optimizer state and gradients on every GPU?"
    result = run_cli("ask", question, "--json", "--data-dir", indexed["data_dir"], cwd=indexed["work"])
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    answer = json.loads(result.stdout)  # stdout must be exactly the JSON document
    assert answer["question"] == question
    assert answer["text"].strip()
    assert not answer["abstained"] and answer["status"] == "answered" and answer["missing"] == []
    numbers = {source["number"] for source in answer["sources"]}
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", answer["text"])}
    assert cited, "the answer cites nothing"
    assert cited <= numbers, f"cited {sorted(cited)} but sources are {sorted(numbers)}"
    assert numbers <= cited, f"sources {sorted(numbers - cited)} are listed but never cited"
    for source in answer["sources"]:
        assert source["title"] in TITLES
        assert source["files"] and all(f.startswith("papers.jsonl:") for f in source["files"])
        assert source["sentences"]
    assert ZERO in {source["title"] for source in answer["sources"]}
    retrieved = [paper["title"] for paper in answer["retrieved"]]
    assert retrieved[0] == ZERO
    assert set(retrieved) <= TITLES
    assert len(retrieved) == len(set(retrieved)), "retrieved papers are not deduplicated"


def test_stats_json(indexed: dict[str, object]) -> None:
    result = run_cli("stats", "--json", "--data-dir", indexed["data_dir"], cwd=indexed["work"])
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    stats = json.loads(result.stdout)
    assert stats["papers"] == len(PAPERS)
    assert stats["chunks"] == summary_counts(indexed["result"].stdout)["chunks"]
    assert stats["source_files"] == ["papers.jsonl"]
    assert stats["chroma"].startswith("embedded")


def test_eval_writes_answers_format(indexed: dict[str, object]) -> None:
    work = indexed["work"]
    questions = work / "questions.jsonl"
    items = [
        {"id": "e2e-lookup-01", "type": "lookup",
         "question": "Which open bilingual English and Chinese language model has 130 billion parameters?"},
        {"id": "e2e-multi_turn-01", "type": "multi_turn",
         "turns": ["Which paper fine-tunes language models using only forward passes, without backpropagation?",
                   "How much memory does that method save compared with fine-tuning by backpropagation?"]},
    ]
    questions.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    out = work / "answers.jsonl"
    result = run_cli("eval", questions, "--out", out, "--data-dir", indexed["data_dir"], cwd=work)
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    assert f"wrote 2 answers to {out}" in result.stdout
    answers = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert [a["id"] for a in answers] == ["e2e-lookup-01", "e2e-multi_turn-01"]
    assert [len(a["turns"]) for a in answers] == [1, 2]
    asked = [items[0]["question"], *items[1]["turns"]]
    turns = [turn for a in answers for turn in a["turns"]]
    assert [turn["question"] for turn in turns] == asked
    for turn in turns:
        assert set(turn) == {"question", "answer", "retrieved", "cited", "abstained", "latency_ms"}
        assert isinstance(turn["answer"], str) and turn["answer"].strip()
        assert isinstance(turn["retrieved"], list) and set(turn["retrieved"]) <= TITLES
        assert isinstance(turn["cited"], list) and set(turn["cited"]) <= TITLES
        assert isinstance(turn["abstained"], bool)
        assert isinstance(turn["latency_ms"], int | float) and turn["latency_ms"] > 0
    assert "GLM-130B: An Open Bilingual Pre-trained Model" in turns[0]["cited"]
    assert "Fine-Tuning Language Models with Just Forward Passes" in turns[1]["cited"]


def test_ingest_missing_path_fails_cleanly(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-papers.jsonl"
    result = run_cli("ingest", "--data-dir", tmp_path / "index", missing, cwd=tmp_path)
    assert result.returncode != 0
    assert_no_traceback(result)
    lines = [line for line in (result.stdout + result.stderr).splitlines() if str(missing) in line]
    assert len(lines) == 1, result.stdout + result.stderr
    assert "no such file or directory" in lines[0]


def test_ingest_malformed_jsonl_line_keeps_good_lines(tmp_path: Path) -> None:
    mixed = tmp_path / "mixed.jsonl"
    good = [json.dumps(PAPERS[0]), json.dumps(PAPERS[1])]
    mixed.write_text(f'{good[0]}\n{{"title": "Broken record", "abstract": "cut off\n{good[1]}\n', encoding="utf-8")
    result = run_cli("ingest", "--data-dir", tmp_path / "index", mixed, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    counts = summary_counts(result.stdout)
    assert counts["added"] == 2
    assert counts["skipped"] == 1
    assert counts["papers"] == 2
    problem = [line for line in result.stdout.splitlines() if f"{mixed}:2" in line]
    assert len(problem) == 1, result.stdout
    assert "malformed JSON" in problem[0]


def test_missing_config_file_is_one_line_error(tmp_path: Path) -> None:
    result = run_cli("stats", "--config", tmp_path / "absent.toml", "--data-dir", tmp_path / "index", cwd=tmp_path)
    assert result.returncode != 0
    assert_no_traceback(result)
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert errors == [f"paperchat: error: config file {tmp_path / 'absent.toml'} does not exist"]
