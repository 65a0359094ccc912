"""The façade every interface calls: ingest(), ask(), stats(). Heavy parts load once, lazily."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from assistant.answer import Answer, RetrievedPaper
from assistant.chat import CONTRAST, Conversation, FollowUp, classify
from assistant.citations import CitationBook, check_generated, verify
from assistant.compose.extractive import ExtractiveComposer, approach_label
from assistant.compose.llm import ChatGenerator, Endpoint, GeneratorError, cloud_api_key
from assistant.local_llm import LocalLlamaServer, assemble_bundled_model
from assistant.names import NameIndex
from assistant.planner import compare_count, intent_of
from assistant.retrieval import HybridRetriever, Mode, PaperHit
from assistant.runtime import configure_environment, configure_llama_index
from assistant.settings import Settings, load_settings
from assistant.store import PaperStore, StoredPaper, StoreError, chroma_failure
from assistant.text import QUESTION_BOILERPLATE, content_stems, fold
from ingest.pipeline import IngestPipeline, IngestSummary, ProgressFn
from ingest.vectorfile import VectorFile, VectorFileError, text_key

# Whole ANSI escape sequences (a question pasted from a colored terminal), other control characters,
# and lone surrogates (undecodable bytes in argv, a \ud800 escape in JSON), on which the tokenizer raises.
CONTROL_CHARS = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
GENERATORS = ("extractive", "openai", "local")
CHARS_PER_TOKEN = 3  # conservative for English prose with numbers, so estimates err on the short side
PROMPT_CHARS = 1500  # rules, fences and the question around the sources
CANDIDATES = 40  # papers considered before an answer picks its own
LIST_POOL = 25  # candidates a "which papers" answer examines
MIN_LIST_COVERAGE = 0.3  # below this no candidate is about the asked topic: say so
UNSEEN_TOPIC_SHARE = 0.5  # a list question whose words are mostly unknown to the collection is refused
LIST_RELEVANCE = 1.4  # of 2.0 (a candidate as close in meaning and in terms as the best one)


class PaperChat:
    """One per process: owns the store, the embedding model and the composer."""

    def __init__(self, settings: Settings | None = None) -> None:
        configure_environment()
        self.settings = settings or load_settings()
        self._generators: dict[str, ChatGenerator] = {}
        self._local_server: LocalLlamaServer | None = None
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

    @cached_property
    def composer(self) -> ExtractiveComposer:
        return ExtractiveComposer(self.idf, self.settings.lookup_sentences, self.settings.compare_sentences,
                                  lambda paper_id: self.names.own_names(paper_id))

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
        hits = self.retriever.retrieve(query, max(top_k or self.settings.papers_top_k, CANDIDATES), mode)
        if mode == "hybrid":
            hits = self.retriever.promote(hits, self._named_ids(query, hits))
        return hits[: top_k or self.settings.papers_top_k]

    def papers(self, title_filter: str = "") -> list[StoredPaper]:
        """Papers in the collection by title; `title_filter` keeps those whose title contains it."""
        needle = fold(title_filter).strip()
        rows = sorted(self.store.catalog.papers().values(), key=lambda p: fold(p.title))
        return [p for p in rows if needle in fold(p.title)] if needle else rows

    # ---- answering -----------------------------------------------------------------------------
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
        question = CONTROL_CHARS.sub(" ", question or "").strip()
        try:
            problem = self._question_problem(question)
        except StoreError as exc:  # the store could not even be opened (e.g. Chroma server down)
            problem = Answer(question, str(exc), "error")
        if problem is not None:
            yield problem.text  # streamed like any answer, so a streaming caller prints it once
            yield problem
            return
        conversation = conversation or Conversation(max_turns=self.settings.history_turns)
        follow = classify(question, conversation)
        try:
            answer = self._answer(question, follow, mode)
        except Exception as exc:
            # A Chroma server that went away: an error answer that says what to do, not a traceback.
            # The client reconnects on its own, so the next question works once the server is back.
            failure = chroma_failure(self.settings, exc)
            if failure is None:
                raise
            yield str(failure)
            yield Answer(question, str(failure), "error")
            return
        chosen = generator or self.settings.generator
        if chosen not in GENERATORS:
            answer.notices.append(f"unknown generator {chosen!r}; used the extractive composer")
            chosen = "extractive"
        if chosen != "extractive" and answer.kind not in ("refusal", "error"):
            history = [(t.question, t.answer.text) for t in conversation.turns]
            answer = yield from self._write(question, answer, chosen, history)
        else:
            yield from answer.text.splitlines(keepends=True)
        answer.timings["total_ms"] = round((time.perf_counter() - started) * 1000, 2)
        conversation.add(question, answer)
        yield answer

    def _question_problem(self, question: str) -> Answer | None:
        if not question:
            return Answer(question, "Please type a question about the papers in the collection.", "error")
        if len(question) > self.settings.max_question_chars:
            return Answer(question[:200], f"The question is {len(question):,} characters long; the limit is "
                          f"{self.settings.max_question_chars:,}. Please shorten it.", "error")
        if len(self.store.catalog) == 0:
            return Answer(question, "The collection is empty: run `paperchat ingest` first.", "error")
        return None

    # ---- LLM-written answers ------------------------------------------------------------------
    def _chat_generator(self, name: str) -> ChatGenerator:
        """One client per generator per process; the local server starts on first use."""
        if name in self._generators:
            return self._generators[name]
        s = self.settings
        if name == "local":
            if self._local_server is None:
                model = Path(s.local_model_path) if s.local_model_path else assemble_bundled_model(
                    s.data_dir / "models")
                log = s.data_dir / "logs" / "llama-server.log"
                self._local_server = LocalLlamaServer(model, s.local_threads, s.local_context,
                                                      s.local_startup_timeout_s, log)
            base_url, model_name, key = self._local_server.start(), "local", "not-needed"
        else:
            key = cloud_api_key()
            if not s.openai_base_url and not key:
                raise GeneratorError("no OpenAI-compatible endpoint is configured (set openai_base_url, or "
                                     "OPENAI_API_KEY for the OpenAI API)")
            base_url, model_name, key = s.openai_base_url, s.openai_model, key or "not-needed"
        endpoint = Endpoint(base_url, model_name, key, s.llm_timeout_s, s.llm_max_retries, s.llm_max_tokens,
                            s.llm_temperature, s.llm_total_timeout_s)
        self._generators[name] = ChatGenerator(endpoint)
        return self._generators[name]

    def _llm_sources(self, base: Answer) -> list[StoredPaper]:
        """The papers the model sees: those the extractive plan chose, topped up for one-paper answers."""
        papers = self.store.catalog.papers()
        ids = list(base.focus)
        if base.kind in ("lookup", "summary"):
            ids += [r.paper_id for r in base.retrieved if r.paper_id not in ids]
            ids = ids[: self.settings.llm_sources]
        return [papers[pid] for pid in ids if pid in papers]

    def _write(self, question: str, base: Answer, name: str,
               history: list[tuple[str, str]]) -> Generator[str, None, Answer]:
        """Stream an LLM answer, verify every citation, fall back to `base` when it cannot be trusted."""
        from assistant.compose.prompts import messages, sanitize

        sources = self._llm_sources(base)
        if name == "local":
            # Keep prompt + answer inside the llama.cpp context: drop the lowest-ranked sources.
            budget = (self.settings.local_context - self.settings.llm_max_tokens) * CHARS_PER_TOKEN
            while len(sources) > 1 and sum(len(p.abstract) + len(p.title) for p in sources) + PROMPT_CHARS > budget:
                sources.pop()
        started = time.perf_counter()
        pieces: list[str] = []
        try:
            generator = self._chat_generator(name)
            first_token = None
            for piece in generator.stream(messages(question, sources, history)):
                if first_token is None:
                    first_token = time.perf_counter()
                pieces.append(piece)
                yield piece
        except GeneratorError as exc:
            base.notices.append(f"The {name} generator failed ({exc}); this is the extractive answer.")
            return base
        timings = dict(base.timings)
        timings["generate_ms"] = round((time.perf_counter() - started) * 1000, 2)
        if first_token is not None:
            timings["first_token_ms"] = round((first_token - started) * 1000, 2)
        checked = check_generated("".join(pieces), sources, self.settings.verify_min_support, sanitize)
        share = checked.verified / checked.sentences if checked.sentences else 0.0
        if share < self.settings.verify_min_kept:
            reason = ("it said the sources do not answer the question" if checked.says_no_answer and
                      not checked.verified else f"only {checked.verified} of {checked.sentences} sentences "
                      "were supported by the sources they cite")
            base.notices.append(f"The {name} answer was not used: {reason}; this is the extractive answer.")
            base.timings.update(timings)
            return base
        notices = [f"Written by the {name} generator; {checked.verified} of {checked.sentences} sentences "
                   f"verified against their sources ({checked.reattached} re-attached, {checked.removed} removed)."]
        return Answer(question, checked.text, base.kind, checked.sources, base.retrieved, False, base.query,
                      [s.paper_id for s in checked.sources], notices + checked.notes, timings, generator=name)

    def _named_ids(self, question: str, hits: list[PaperHit]) -> list[str]:
        """Papers the question names; an ambiguous name goes to the best-retrieved of its owners."""
        rank = {h.paper.id: i for i, h in enumerate(hits)}
        chosen: list[str] = []
        for match in self.names.mentions(question):
            owners = sorted(match.paper_ids, key=lambda pid: rank.get(pid, len(rank)))
            if owners[0] not in chosen:
                chosen.append(owners[0])
        return chosen

    def _answer(self, question: str, follow: FollowUp, mode: Mode) -> Answer:
        query = question
        if follow.is_follow_up:
            # The earlier papers' full titles carry their topic words, so retrieval also finds papers about them.
            query = f"{question} {self._earlier_titles(follow)}"
        started = time.perf_counter()
        hits = self.retriever.retrieve(query, CANDIDATES, mode)
        named = self._named_ids(question, hits) if mode == "hybrid" else []
        hits = self.retriever.promote(hits, named)
        timings = {"retrieve_ms": round((time.perf_counter() - started) * 1000, 2)}

        unknown = self.names.unknown_names(question)
        if unknown and not named:
            return self._refuse(question, query, hits, f"it names {', '.join(unknown)}, which no paper in the "
                                f"collection mentions.", timings)
        intent = intent_of(question, len(named))
        if intent == "compare" and follow.is_follow_up and len(named) < 2:
            intent = "lookup"  # "how do the two compare": the new paper, set against the one discussed
        book = CitationBook()
        if intent in ("list", "topic_summary"):
            focus = self._matching(question, hits)
            if not focus:
                return self._refuse(question, query, hits, "no paper in the collection matches what was asked.",
                                    timings)
            text = self._compose_many(question, intent, focus, book)
        elif intent == "compare":
            focus = self._compared(question, hits, named, follow)
            text = self.composer.compare(question, [h.paper for h in focus], book)
        else:
            target = self._target(question, follow, hits, named, mode)
            if target is None or (not named and not follow.is_follow_up and not self._supports(question, target)):
                return self._refuse(question, query, hits, "no paper in the collection addresses this question.",
                                    timings)
            focus = [target]
            text = self._compose_one(question, intent, target, follow, book)
        check = verify(text, book.sources)
        if not check.ok:  # cannot happen with verbatim quotes; guard the invariant all the same
            raise AssertionError("extractive answer failed citation verification: " + "; ".join(check.problems))
        focus_ids = [h.paper.id for h in focus]
        return Answer(question, text, intent, book.sources, self._ranked(hits, focus_ids), False, query,
                      focus_ids, [], timings)

    def _compose_many(self, question: str, intent: str, focus: list[PaperHit], book: CitationBook) -> str:
        if intent == "list":
            return self.composer.listing(question, focus, book, f"{len(focus)} paper(s) in the collection match:")
        label = approach_label([h.paper for h in focus], set(content_stems(question)))
        groups: dict[str, list[PaperHit]] = {}
        for hit in focus:
            groups.setdefault(label(hit.paper), []).append(hit)
        ordered = sorted(groups.items(), key=lambda g: (g[0] == "Other approaches", -len(g[1])))
        intro = f"What the collection says, from {len(focus)} matching paper(s), grouped by approach:"
        return self.composer.topic_summary(question, ordered, book, intro)

    def _compared(self, question: str, hits: list[PaperHit], named: list[str], follow: FollowUp) -> list[PaperHit]:
        """The named papers, topped up from retrieval to the number asked for ("the two ..."), at most 3."""
        count = compare_count(question, len(named))
        chosen = [h for h in hits if h.paper.id in named]
        for hit in hits:
            if len(chosen) >= count:
                break
            if hit not in chosen and hit.paper.id not in follow.earlier:
                chosen.append(hit)
        return chosen[:3]

    def _compose_one(self, question: str, intent: str, target: PaperHit, follow: FollowUp,
                     book: CitationBook) -> str:
        if intent == "summary":
            text = self.composer.summary(question, target.paper, book)
        else:
            text = self.composer.lookup(question, target.paper, book)
        papers = self.store.catalog.papers()
        earlier = [pid for pid in follow.earlier if pid != target.paper.id and pid in papers]
        if follow.is_follow_up and earlier and CONTRAST.search(question):
            titles = "; ".join(f"*{papers[pid].title}*" for pid in earlier)
            text += f"\n\nFor the paper it is compared with, see the previous answer: {titles}."
        return text

    def _target(self, question: str, follow: FollowUp, hits: list[PaperHit], named: list[str],
                mode: Mode) -> PaperHit | None:
        by_id = {h.paper.id: h for h in hits}
        if named:
            return by_id.get(named[0])
        if follow.is_follow_up:
            if follow.wants_other_paper:
                return self._other_paper(question, follow, hits, mode)
            if CONTRAST.search(question):
                # "How does <described paper> differ from it?": the described paper, if it is another one.
                own = self.retriever.retrieve(question, 1, mode)
                if own and own[0].paper.id not in follow.earlier:
                    return by_id.get(own[0].paper.id, own[0])
            for pid in follow.earlier:
                if pid in by_id:
                    return by_id[pid]
            earlier = self.store.catalog.papers().get(follow.earlier[0])
            return PaperHit(earlier) if earlier else None
        return hits[0] if hits else None

    def _earlier_titles(self, follow: FollowUp) -> str:
        papers = self.store.catalog.papers()
        return " ".join(papers[pid].title for pid in follow.earlier if pid in papers)

    def _other_paper(self, question: str, follow: FollowUp, hits: list[PaperHit], mode: Mode) -> PaperHit | None:
        """'Is there a follow-up that ...?': a paper that does what this turn asks and relates to the earlier one.

        Reciprocal-rank fusion of three rankings: this turn's own words, the earlier papers' titles
        alone, and both together (`hits`). Without the second, a paper that matches the question's
        words closely but has nothing to do with the earlier paper won on the first alone.
        """
        earlier_titles = self._earlier_titles(follow)
        rankings = [self.retriever.retrieve(question, CANDIDATES, mode), hits]
        if earlier_titles:
            rankings.append(self.retriever.retrieve(earlier_titles, CANDIDATES, mode))
        ranks = [{h.paper.id: rank for rank, h in enumerate(ranking)} for ranking in rankings]

        def fused(hit: PaperHit) -> float:
            return sum(1 / (self.settings.fusion_k + rank.get(hit.paper.id, CANDIDATES)) for rank in ranks)

        return max((h for h in hits if h.paper.id not in follow.earlier), key=fused, default=None)

    def _coverage(self, question: str, paper_text: str) -> float:
        wanted = set(content_stems(question, QUESTION_BOILERPLATE))
        if not wanted:
            return 0.0
        have = set(content_stems(paper_text))
        total = sum(self.idf(s) for s in wanted)
        return sum(self.idf(s) for s in wanted & have) / total if total else 0.0

    def _unseen_share(self, question: str) -> float:
        """Share of the question's term weight carried by words no paper in the collection uses."""
        wanted = set(content_stems(question, QUESTION_BOILERPLATE))
        doc_freq = self.store.keyword_index().doc_freq
        total = sum(self.idf(s) for s in wanted)
        return sum(self.idf(s) for s in wanted if s not in doc_freq) / total if total else 0.0

    def _supports(self, question: str, hit: PaperHit) -> bool:
        """Is the best paper really about the question, or only the nearest thing in the collection?"""
        text = f"{hit.paper.title} {hit.paper.abstract}"
        if self.names.covers(question, text) < 0.5:
            return False  # the question is about something this paper never mentions
        coverage = self._coverage(question, text)
        return hit.dense >= 0.45 or coverage >= 0.35 or (hit.dense >= 0.3 and coverage >= 0.2)

    def _matching(self, question: str, hits: list[PaperHit]) -> list[PaperHit]:
        """Every candidate that really does what a 'which papers' question asks, not just the top few.

        Relevance adds two views, each relative to the best candidate: dense similarity (meaning)
        and IDF-weighted coverage of the question's content words (the specific terms asked for).
        """
        if self._unseen_share(question) >= UNSEEN_TOPIC_SHARE:
            return []  # the topic's own words occur in no paper at all: nothing can match
        pool = hits[:LIST_POOL]
        coverage = {h.paper.id: self._coverage(question, f"{h.paper.title} {h.paper.abstract}") for h in pool}
        top_cov = max(coverage.values(), default=0.0)
        top_dense = max((h.dense for h in pool), default=0.0)
        if top_cov < MIN_LIST_COVERAGE or top_dense <= 0:
            return []
        relevance = {h.paper.id: h.dense / top_dense + coverage[h.paper.id] / top_cov for h in pool}
        keep = [h for h in pool if relevance[h.paper.id] >= LIST_RELEVANCE]
        keep.sort(key=lambda h: -relevance[h.paper.id])
        return keep[: self.settings.list_max_papers]

    def _ranked(self, hits: list[PaperHit], focus: list[str]) -> list[RetrievedPaper]:
        first = [h for pid in focus for h in hits if h.paper.id == pid]
        if len(first) < len(focus):
            papers = self.store.catalog.papers()
            first += [PaperHit(papers[pid]) for pid in focus if pid in papers and pid not in
                      {h.paper.id for h in first}]
        rest = [h for h in hits if h.paper.id not in focus]
        ordered = first + rest
        return [RetrievedPaper(h.paper.id, h.paper.title, round(h.score, 5)) for h in ordered]

    def _refuse(self, question: str, query: str, hits: list[PaperHit], reason: str,
                timings: dict[str, float]) -> Answer:
        nearest = [h.paper for h in hits[:3]]
        text = self.composer.refusal(reason, nearest)
        return Answer(question, text, "refusal", [], self._ranked(hits, []), True, query, [],
                      [], timings)


def _load_vectors(paths: Sequence[Path], model: str) -> dict[bytes, np.ndarray]:
    """Text key -> vector from vector files, which must come from the collection's model."""
    if not paths:
        return {}
    vectors = VectorFile.concat(VectorFile.load(Path(p)) for p in paths)
    if vectors.model != model:
        raise VectorFileError(f"vector files were made with model {vectors.model!r}, the collection uses "
                              f"{model!r}; make them with the same model (`paperchat embed`)")
    return vectors.lookup()
