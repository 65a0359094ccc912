"""The LLM writing stage: an OpenAI-compatible model rewrites the planned answer from the same sources.

Every sentence it writes is verified against the abstract it cites (citations.check_generated);
too few verified sentences and the extractive answer stands. A model that says the sources do not
answer the question is not overruled: that is an answer (partial, naming the paper it looked at).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from pathlib import Path

from assistant.answer import Answer
from assistant.answering.compose.llm import ChatGenerator, Endpoint, GeneratorError, cloud_api_key
from assistant.answering.compose.prompts import messages, sanitize
from assistant.citations import check_generated
from assistant.local_llm import LocalLlamaServer, assemble_bundled_model
from assistant.settings import Settings
from assistant.store import StoredPaper

CHARS_PER_TOKEN = 3  # conservative for English prose with numbers, so estimates err on the short side
PROMPT_CHARS = 1500  # rules, fences and the question around the sources


class LLMWriter:
    """One client per generator per process; the local llama.cpp server starts on first use."""

    def __init__(self, settings: Settings, papers: Callable[[], dict[str, StoredPaper]]) -> None:
        self.settings = settings
        self.papers = papers
        self._generators: dict[str, ChatGenerator] = {}
        self.local_server: LocalLlamaServer | None = None

    def reset(self) -> None:
        """Forget the clients, so the next answer builds them from the (changed) settings."""
        self._generators.clear()

    def chat_generator(self, name: str) -> ChatGenerator:
        if name in self._generators:
            return self._generators[name]
        s = self.settings
        if name == "local":
            if self.local_server is None:
                model = Path(s.local_model_path) if s.local_model_path else assemble_bundled_model(
                    s.data_dir / "models")
                log = s.data_dir / "logs" / "llama-server.log"
                self.local_server = LocalLlamaServer(model, s.local_threads, s.local_context,
                                                      s.local_startup_timeout_s, log)
            base_url, model_name, key = self.local_server.start(), "local", "not-needed"
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

    def sources(self, base: Answer) -> list[StoredPaper]:
        """The papers the model sees: those the plan chose, topped up for one-paper answers."""
        papers = self.papers()
        ids = list(base.focus)
        if base.kind in ("lookup", "summary"):
            ids += [r.paper_id for r in base.retrieved if r.paper_id not in ids]
            ids = ids[: self.settings.llm_sources]
        return [papers[pid] for pid in ids if pid in papers]

    def write(self, question: str, base: Answer, name: str,
              history: list[tuple[str, str]]) -> Generator[str, None, Answer]:
        """Stream an LLM answer, verify every citation, fall back to `base` when it cannot be trusted."""
        sources = self.sources(base)
        if name == "local":
            # Keep prompt + answer inside the llama.cpp context: drop the lowest-ranked sources.
            budget = (self.settings.local_context - self.settings.llm_max_tokens) * CHARS_PER_TOKEN
            while len(sources) > 1 and sum(len(p.abstract) + len(p.title) for p in sources) + PROMPT_CHARS > budget:
                sources.pop()
        started = time.perf_counter()
        pieces: list[str] = []
        try:
            generator = self.chat_generator(name)
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
        if checked.says_no_answer and not checked.verified:
            return self._no_answer(question, base, name, sources, timings)
        share = checked.verified / checked.sentences if checked.sentences else 0.0
        if share < self.settings.verify_min_kept:
            reason = f"only {checked.verified} of {checked.sentences} sentences were supported by the sources they cite"
            base.notices.append(f"The {name} answer was not used: {reason}; this is the extractive answer.")
            base.timings.update(timings)
            return base
        notices = [f"Written by the {name} generator; {checked.verified} of {checked.sentences} sentences "
                   f"verified against their sources ({checked.reattached} re-attached, {checked.removed} removed)."]
        return Answer(question, checked.text, base.kind, checked.sources, base.retrieved, base.abstained, base.query,
                      [s.paper_id for s in checked.sources] or base.focus, base.notices + notices + checked.notes,
                      timings,
                      generator=name, status=base.status, missing=base.missing)

    @staticmethod
    def _no_answer(question: str, base: Answer, name: str, sources: list[StoredPaper],
                   timings: dict[str, float]) -> Answer:
        """The model read the sources and found no answer. That stands: the answer is partial, says so
        first, and then shows the paper retrieval chose with what its abstract does say (the verified
        extractive quotes), the partial answer of a near miss. A small model also misses answers that
        are there, and a reader can then see the sentences for themselves."""
        notice = f"The {name} generator found no answer in these sources; it was not overruled."
        if not base.sources:
            titles = "; ".join(f"*{p.title}*" for p in sources)
            text = (f"The papers closest to this question do not report what was asked: {titles}. Their abstracts "
                    "do not contain the information to answer it.")
            return Answer(question, text, base.kind, [], base.retrieved, True, base.query, base.focus,
                          [*base.notices, notice], timings, generator=name,
                          status="partial" if sources else "refused", missing=["what was asked"])
        text = (f"Only in part: the {name} model found no answer to this in the abstracts it read. What the "
                f"closest of them say, quoted:\n\n{base.text}")
        return Answer(question, text, base.kind, base.sources, base.retrieved, True, base.query, base.focus,
                      [*base.notices, notice], timings, generator=name, status="partial",
                      missing=[f"what was asked (by the {name} model's reading)"])
