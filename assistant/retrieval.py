"""Hybrid retrieval: dense (Chroma) and BM25 chunk hits, fused by reciprocal rank, collapsed to papers."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from assistant.store import PaperStore, StoredPaper

Mode = Literal["hybrid", "dense", "keyword"]
QUERY_CACHE = 256  # query vectors kept: one turn embeds its query, facets and follow-up forms once each


@dataclass
class PaperHit:
    """One paper with the evidence that found it: its best chunks and per-retriever scores."""

    paper: StoredPaper
    score: float = 0.0
    dense: float = 0.0  # best chunk cosine similarity
    keyword: float = 0.0  # best chunk BM25 score
    chunks: list[int] = field(default_factory=list)  # matched chunk numbers, best first
    named: bool = False  # the question names this paper


class HybridRetriever:
    def __init__(self, store: PaperStore, embed_model: object, dense_top_k: int, keyword_top_k: int,
                 fusion_k: int) -> None:
        self.store = store
        self.embed_model = embed_model
        self.dense_top_k = dense_top_k
        self.keyword_top_k = keyword_top_k
        self.fusion_k = fusion_k
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    def query_vector(self, query: str) -> np.ndarray:
        """The unit vector of `query`, cached: the judge compares candidates with the vector retrieval used."""
        vector = self._vectors.get(query)
        if vector is None:
            vector = np.asarray(self.embed_model.get_query_embedding(query), dtype=np.float32)  # type: ignore[attr-defined]
            vector /= float(np.linalg.norm(vector)) or 1.0
            self._vectors[query] = vector
            while len(self._vectors) > QUERY_CACHE:
                self._vectors.popitem(last=False)
        else:
            self._vectors.move_to_end(query)
        return vector

    def dense(self, query: str) -> list[tuple[str, str, float]]:
        """(chunk id, paper id, cosine) best first; the raw Chroma client skips per-hit node decoding."""

        embedding = self.query_vector(query).tolist()
        count = self.store.collection.count()
        if count == 0:
            return []
        # Distances only: the paper id is in the chunk id, and decoding metadata took 3 of Chroma's 4 ms.
        result = self.store.collection.query(
            query_embeddings=[embedding], n_results=min(self.dense_top_k, count), include=["distances"]
        )
        return [(cid, cid.rsplit("#", 1)[0], 1.0 - dist) for cid, dist in
                zip(result["ids"][0], result["distances"][0], strict=True)]

    def keyword(self, query: str) -> list[tuple[str, str, float]]:
        return self.store.keyword_index().search(query, self.keyword_top_k)

    def retrieve(self, query: str, top_k: int, mode: Mode = "hybrid") -> list[PaperHit]:
        """Papers best first, by reciprocal-rank fusion of their best chunk in each retriever."""
        papers = self.store.catalog.papers()
        hits: dict[str, PaperHit] = {}

        def collect(results: list[tuple[str, str, float]], attr: str) -> None:
            rank = 0
            for cid, pid, score in results:
                paper = papers.get(pid)
                if paper is None:
                    continue  # a vector whose paper the catalog no longer has
                hit = hits.get(pid)
                if hit is None:
                    hit = hits[pid] = PaperHit(paper)
                number = int(cid.rsplit("#", 1)[1])
                if getattr(hit, attr) == 0.0:
                    rank += 1
                    setattr(hit, attr, score)
                    hit.score += 1.0 / (self.fusion_k + rank)
                if number not in hit.chunks:
                    hit.chunks.append(number)

        if mode in ("hybrid", "dense"):
            collect(self.dense(query), "dense")
        if mode in ("hybrid", "keyword"):
            collect(self.keyword(query), "keyword")
        ranked = sorted(hits.values(), key=lambda h: h.score, reverse=True)
        return ranked[:top_k]

    def promote(self, hits: list[PaperHit], paper_ids: list[str]) -> list[PaperHit]:
        """Papers the question names first, in the order named (fetched if retrieval missed them)."""
        by_id = {h.paper.id: h for h in hits}
        papers = self.store.catalog.papers()
        front = []
        for pid in paper_ids:
            hit = by_id.get(pid) or (PaperHit(papers[pid]) if pid in papers else None)
            if hit is not None:
                hit.named = True
                front.append(hit)
        return front + [h for h in hits if h.paper.id not in set(paper_ids)]
