"""The façade every interface calls: ingest(), ask(), stats(). Heavy parts load once, lazily."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from assistant.answer import Answer
from assistant.answering import condense
from assistant.answering.compose.extractive import ExtractiveComposer
from assistant.answering.generate import LLMWriter
from assistant.answering.judge import JudgeSettings, TermDenseJudge
from assistant.answering.llm_judge import LLMJudge, LLMJudgeSettings
from assistant.answering.pipeline import AnsweringPipeline, Stages
from assistant.answering.retrieve import CandidateRetriever
from assistant.chat import Conversation
from assistant.names import NameIndex
from assistant.retrieval import HybridRetriever, Mode, PaperHit
from assistant.runtime import configure_environment, configure_llama_index
from assistant.settings import Settings, load_settings
from assistant.store import PaperStore, StoredPaper, StoreError, chroma_failure
from assistant.text import fold
from ingest.pipeline import IngestPipeline, IngestSummary, ProgressFn
from ingest.vectorfile import VectorFile, VectorFileError, text_key

GENERATORS = ("extractive", "openai", "local")


class PaperChat:
    """One per process: owns the store, the embedding model and the answering pipeline."""

    def __init__(self, settings: Settings | None = None) -> None:
        configure_environment()
        self.settings = settings or load_settings()
        self._store_checked = False
        self._check_lock = threading.Lock()
        self.store_notice: str | None = None  # what the start-up store check repaired, if anything

    # ---- parts, built on first use -----------------------------------------------------------
    @cached_property
    def store(self) -> PaperStore:
        configure_llama_index()
        return PaperStore(self.settings)

    @cached_property
    def embed_model(self) -> Any:
        from assistant.embeddings import load_embedding

        return load_embedding(self.settings)

    @cached_property
    def retriever(self) -> HybridRetriever:
        s = self.settings
        return HybridRetriever(self.store, self.embed_model, s.dense_top_k, s.keyword_top_k, s.fusion_k)

    def idf(self, stem: str) -> float:
        return self.store.keyword_index().idf(stem)

    @property
    def names(self) -> NameIndex:
        return self.store.name_index()

    # ---- ingest --------------------------------------------------------------------------------
    def ingest(self, paths: Sequence[Path] | None = None, progress: ProgressFn | None = None,
               vectors: Sequence[Path] = ()) -> IngestSummary:
        """Ingest files; `vectors` are vector files (`paperchat embed`, `python -m ingest.embed_batch`)
        whose embeddings are used instead of computing them here, chunk by chunk where texts match."""
        from assistant.embeddings import resolve_model_path

        model_path = resolve_model_path(self.settings)
        precomputed = _load_vectors(vectors, Path(model_path).name)
        loaded = 0

        def embed(texts: list[str]) -> list[list[float]]:
            nonlocal loaded
            keys = [text_key(t) for t in texts]
            missing = [t for t, k in zip(texts, keys, strict=True) if k not in precomputed]
            # The model loads on first use, so a run fully covered by vector files never loads it.
            computed = iter(self.embed_model.get_text_embedding_batch(missing) if missing else [])
            loaded += len(texts) - len(missing)
            return [precomputed[k].tolist() if k in precomputed else next(computed) for k in keys]

        pipeline = IngestPipeline(self.store, embed, model_path, self.settings.ingest_batch_papers)
        summary = pipeline.run(list(paths) if paths else list(self.settings.corpus), progress)
        summary.chunks_loaded = loaded
        return summary

    def embed_to_file(self, paths: Sequence[Path] | None, out: Path, dtype: str = "float16") -> tuple[int, int]:
        """Embed papers into a vector file without touching the store: (papers, chunks)."""
        from assistant.embeddings import resolve_model_path
        from ingest.embed_batch import chunk_texts, embed_texts, read_papers

        papers = read_papers(list(paths) if paths else list(self.settings.corpus), self.settings.max_file_bytes)
        texts = chunk_texts(papers, self.settings.chunk_max_words)

        def encode(batch: list[str]) -> np.ndarray:
            return np.asarray(self.embed_model.get_text_embedding_batch(batch), dtype=np.float32)

        vector_file = embed_texts(texts, encode, Path(resolve_model_path(self.settings)).name)
        vector_file.save(out, dtype)
        return len(papers), len(texts)

    def ensure_index(self, progress: ProgressFn | None = None) -> IngestSummary | None:
        """Ingest the configured corpus when the store is empty; otherwise do nothing.

        Before that, once per process, check that catalog and Chroma agree (an ingest killed
        mid-way) and repair the store if not; store.notify shows the one line saying so.
        """
        with self._check_lock:  # two UI requests arriving together check (and repair) once
            if not self._store_checked:
                from assistant.embeddings import resolve_model_path

                pipeline = IngestPipeline(self.store, lambda texts: self.embed_model.get_text_embedding_batch(texts),
                                          resolve_model_path(self.settings), self.settings.ingest_batch_papers)
                self.store_notice = pipeline.check_store(progress)
                self._store_checked = True  # only once it ran: a check cut short (Chroma down) runs again
        if len(self.store.catalog) == 0:
            return self.ingest(None, progress)
        return None

    def stats(self) -> dict[str, Any]:
        papers = self.store.catalog.papers()
        files = sorted({s.rsplit(":", 1)[0] for p in papers.values() for s in p.sources})
        return {
            "papers": len(papers),
            "chunks": self._chunk_count(),
            "source_files": files,
            "data_dir": str(self.settings.data_dir),
            "chroma": (f"server {self.settings.chroma_host}:{self.settings.chroma_port}" if self.settings.chroma_host
                       else f"embedded {self.settings.chroma_dir}"),
        }

    def _chunk_count(self) -> int:
        try:
            return int(self.store.collection.count())
        except Exception as exc:
            failure = chroma_failure(self.settings, exc)
            if failure is None:
                raise
            raise failure from exc

    def search(self, query: str, top_k: int | None = None, mode: Mode = "hybrid") -> list[PaperHit]:
        wanted = top_k or self.settings.papers_top_k
        pool = max(wanted, self.settings.candidate_pool)
        candidates = self.pipeline.stages.retriever.retrieve(query, query, mode, pool)
        return candidates.hits[:wanted]

    def papers(self, title_filter: str = "") -> list[StoredPaper]:
        """Papers in the collection by title; `title_filter` keeps those whose title contains it."""
        needle = fold(title_filter).strip()
        rows = sorted(self.store.catalog.papers().values(), key=lambda p: fold(p.title))
        return [p for p in rows if needle in fold(p.title)] if needle else rows

    # ---- answering -----------------------------------------------------------------------------
    @cached_property
    def pipeline(self) -> AnsweringPipeline:
        s = self.settings
        retriever = CandidateRetriever(self.retriever, self.store, lambda: self.names, s.candidate_pool)
        judge = TermDenseJudge(retriever, self.store.keyword_index, lambda: self.names,
                               JudgeSettings.from_settings(s))
        composer = ExtractiveComposer(s.lookup_sentences, s.lookup_words, s.compare_sentences, s.list_sentences,
                                      self.idf, lambda paper_id: self.names.own_names(paper_id), s.compare_share,
                                      s.compare_words, s.part_words)
        writer = LLMWriter(s, self.store.catalog.papers)

        def llm_judge(generator: str) -> LLMJudge | None:
            return LLMJudge(judge, lambda: writer.chat_generator(generator), LLMJudgeSettings.from_settings(s)) \
                if s.llm_judge else None

        return AnsweringPipeline(Stages(retriever, judge, llm_judge, composer, writer, lambda: self.names,
                                        self.store.catalog.papers, s.papers_top_k))

    def generators(self) -> list[str]:
        """The generator names a caller may pick (settings.generator is the default)."""
        return list(GENERATORS)

    def ask(self, question: str, conversation: Conversation | None = None, mode: Mode = "hybrid",
            generator: str | None = None) -> Answer:
        """One answer; `generator` overrides settings.generator for this call."""
        final = None
        for piece in self.stream(question, conversation, mode, generator):
            if isinstance(piece, Answer):
                final = piece
        assert final is not None
        return final

    def stream(self, question: str, conversation: Conversation | None = None, mode: Mode = "hybrid",
               generator: str | None = None) -> Iterator[str | Answer]:
        """Yield the answer text in pieces as it becomes available, then the final Answer.

        The extractive composer has the whole answer at once, so it comes line by line; an LLM
        yields its tokens as they arrive. The final Answer holds the verified text, which can
        differ from what streamed (unsupported sentences removed, or the extractive fallback).
        """
        started = time.perf_counter()
        question = condense.clean(question)
        try:
            problem = condense.problem(question, self.settings.max_question_chars, len(self.store.catalog))
        except StoreError as exc:  # the store could not even be opened (e.g. Chroma server down)
            problem = str(exc)
        if problem is not None:
            yield problem  # streamed like any answer, so a streaming caller prints it once
            yield Answer(question[:200], problem, "error")
            return
        conversation = conversation or Conversation(max_turns=self.settings.history_turns)
        notices = []
        chosen = generator or self.settings.generator
        if chosen not in GENERATORS:
            notices.append(f"unknown generator {chosen!r}; used the extractive composer")
            chosen = "extractive"
        answer = None
        try:
            for piece in self.pipeline.stream(question, conversation, mode, chosen):
                if isinstance(piece, Answer):
                    answer = piece
                else:
                    yield piece
        except Exception as exc:
            # A Chroma server that went away: an error answer that says what to do, not a traceback.
            # The client reconnects on its own, so the next question works once the server is back.
            failure = chroma_failure(self.settings, exc)
            if failure is None:
                raise
            yield str(failure)
            yield Answer(question, str(failure), "error")
            return
        assert answer is not None
        answer.notices[:0] = notices
        answer.timings["total_ms"] = round((time.perf_counter() - started) * 1000, 2)
        conversation.add(question, answer)
        yield answer


def _load_vectors(paths: Sequence[Path], model: str) -> dict[bytes, np.ndarray]:
    """Text key -> vector from vector files, which must come from the collection's model."""
    if not paths:
        return {}
    vectors = VectorFile.concat(VectorFile.load(Path(p)) for p in paths)
    if vectors.model != model:
        raise VectorFileError(f"vector files were made with model {vectors.model!r}, the collection uses "
                              f"{model!r}; make them with the same model (`paperchat embed`)")
    return vectors.lookup()
