"""Retrieve: the candidate papers for a question, with the vectors the judge compares them by.

Hybrid retrieval (dense + BM25, rank-fused) finds the candidates; the papers the question names
are put first. The judge then needs more than ranks: each candidate's chunk vectors (to measure
per-chunk similarity, and whole-abstract similarity between papers) and the question's own
vector, both computed once here. The names the question uses are found once here too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from assistant.answering.types import Resolved
from assistant.names import NameIndex, NameMatch
from assistant.retrieval import HybridRetriever, Mode, PaperHit
from assistant.store import PaperStore, chunk_id


@dataclass
class Candidates:
    query: str
    hits: list[PaperHit]  # best first; named papers at the front
    named: list[str] = field(default_factory=list)  # ids the question names, in order
    mentions: list[NameMatch] = field(default_factory=list)  # the names it uses, found once for every stage

    @property
    def name_keys(self) -> list[str]:
        return [m.key for m in self.mentions]


class CandidateRetriever:
    def __init__(self, retriever: HybridRetriever, store: PaperStore, names: Callable[[], NameIndex],
                 pool: int) -> None:
        self.retriever = retriever
        self.store = store
        self.names = names
        self.pool = pool

    def retrieve(self, query: str, question: str, mode: Mode = "hybrid", top_k: int | None = None) -> Candidates:
        hits = self.retriever.retrieve(query, top_k or self.pool, mode)
        mentions = self.names().mentions(question)
        named = self.named_ids(mentions, hits) if mode == "hybrid" else []
        return Candidates(query, self.retriever.promote(hits, named), named, mentions)

    def for_turn(self, resolved: Resolved, mode: Mode = "hybrid") -> Candidates:
        """The candidates for one turn: by its stand-alone query; for "another paper that ...", also by
        the turn's own words, since the new paper need not share the earlier papers' titles' words."""
        candidates = self.retrieve(resolved.query, resolved.question, mode)
        if resolved.wants_other_paper:
            # Interleaved, not appended: the judge weighs only the head of the list (judge_pool), and the
            # stand-alone query's hits, pulled toward the earlier paper's neighbours, would fill it.
            own = self.retriever.retrieve(resolved.question, self.pool, mode)
            named_ids = set(candidates.named)
            named = [h for h in candidates.hits if h.paper.id in named_ids]  # promoted to the front; they stay there
            rest = [h for h in candidates.hits if h.paper.id not in named_ids]
            interleaved = [h for pair in zip(own, rest, strict=False) for h in pair]
            merged: dict[str, PaperHit] = {}
            for hit in [*named, *interleaved, *own, *rest]:
                merged.setdefault(hit.paper.id, hit)
            candidates.hits = list(merged.values())
        return candidates

    @staticmethod
    def named_ids(mentions: list[NameMatch], hits: list[PaperHit]) -> list[str]:
        """Papers the question names; an ambiguous name goes to the best-retrieved of its owners."""
        rank = {h.paper.id: i for i, h in enumerate(hits)}
        chosen: list[str] = []
        for match in mentions:
            owners = sorted(match.paper_ids, key=lambda pid: rank.get(pid, len(rank)))
            if owners[0] not in chosen:
                chosen.append(owners[0])
        return chosen

    def embed(self, text: str) -> np.ndarray:
        return self.retriever.query_vector(text)

    def chunk_vectors(self, hits: list[PaperHit]) -> dict[str, np.ndarray]:
        """paper id -> its chunks' unit vectors (rows in chunk order), fetched from Chroma in one call."""
        ids = [chunk_id(h.paper.id, n) for h in hits for n in range(h.paper.chunks)]
        if not ids:
            return {}
        result = self.store.collection.get(ids=ids, include=["embeddings"])
        rows: dict[str, list[tuple[int, np.ndarray]]] = {}
        for cid, vector in zip(result["ids"], result["embeddings"], strict=True):
            pid, number = cid.rsplit("#", 1)
            rows.setdefault(pid, []).append((int(number), np.asarray(vector, dtype=np.float32)))
        out = {}
        for pid, numbered in rows.items():
            matrix = np.stack([v for _, v in sorted(numbered, key=lambda r: r[0])])
            out[pid] = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)
        return out
