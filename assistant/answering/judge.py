"""Judge: how well each candidate paper, and each of its sentences, answers the plan.

Every answer kind asks the judge: which paper a lookup is about, which papers a list holds, and
whether each part of the question is answered (`answered`, `partial`, `refused`).

Signals (all from what is installed; no reranker or NLI model ships in any installable package):
- dense similarity of the question to the paper's best chunk (meaning; survives paraphrase);
- IDF-weighted coverage of the question's content words, request words left out (the specific
  terms asked for);
- names: a paper the question names is the paper it is about;
- for the parts a question asks for (a benchmark, a metric, a model, a number), literal presence
  in the abstract: a paraphrase can find the paper, but a score on a benchmark the abstract never
  names is not in it.

The relevance that ranks candidates is `best chunk similarity + coverage_weight * coverage` (for a
list, the similarity is to the question's topic, its request wording left out). The weight (0.5)
and the list's relative cut-off (0.75 of the best candidate) were chosen on dev.jsonl and checked on
dev2.jsonl (docs/answering.md has both tables).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from assistant.answering.compose.sentences import RESULT
from assistant.answering.condense import DESCRIPTION_NOUNS
from assistant.answering.plan import REQUEST_WORDS, measured_names
from assistant.answering.retrieve import CandidateRetriever, Candidates
from assistant.answering.types import Evidence, Judgement, Plan, SentenceEvidence
from assistant.keyword import KeywordIndex
from assistant.names import ACRONYM, NameIndex, NameMatch, abbreviated, name_words, phrase_text
from assistant.settings import Settings
from assistant.store import StoredPaper
from assistant.text import (
    FIGURE,
    INSTRUCTION_LIKE,
    content_stems,
    english_share,
    expanded,
    has_figure,
    name_key,
    paper_stems,
    sentence_stems,
)
from ingest.chunking import chunk_sentences

SPEED_WORDS = frozenset({"faster", "fast", "speedup", "speed", "quicker", "acceler", "slower"})
MULTIPLIER = re.compile(r"\d(?:\.\d+)?\s*(?:x\b|×|times\b|-fold)", re.I)
GAIN_WORDS = frozenset({"gain", "improv", "boost", "increas", "better", "advantag"})
# The head nouns of a description ("the pruning paper that ..."): what it is, not what it is about.
DESCRIPTION_WORDS = REQUEST_WORDS | DESCRIPTION_NOUNS
SHARE_WORDS = frozenset({"fraction", "share", "percentag", "percent", "proport", "ratio", "portion"})


Idf = Callable[[str], float]


@dataclass(frozen=True)
class JudgeSettings:
    """The judge's thresholds; every default lives in assistant.settings.Settings (see there for why)."""

    pool: int
    coverage_weight: float
    list_relative: float
    weak_name_relative: float
    list_max_papers: int
    on_topic_similarity: float
    weak_similarity: float
    weak_coverage: float
    member_similarity: float
    member_coverage: float
    min_list_coverage: float
    unseen_topic_share: float
    related_weight: float
    missing_share: float
    named_topic_share: float
    figure_words_share: float
    figure_reach: int
    chunk_max_words: int
    side_fit: float
    english_share: float

    @classmethod
    def from_settings(cls, settings: Settings) -> JudgeSettings:
        s = settings
        return cls(s.judge_pool, s.judge_coverage_weight, s.list_relative, s.weak_name_relative, s.list_max_papers,
                   s.on_topic_similarity, s.weak_similarity, s.weak_coverage, s.member_similarity,
                   s.member_coverage, s.min_list_coverage,
                   s.unseen_topic_share, s.related_weight, s.missing_share, s.named_topic_share,
                   s.figure_words_share, s.figure_reach, s.chunk_max_words, s.side_fit,
                   s.english_share)


class EvidenceJudge(Protocol):
    def weigh(self, plan: Plan, candidates: Candidates) -> list[Evidence]:
        """Evidence for each candidate, most relevant first."""
        ...

    def decide(self, plan: Plan, evidence: list[Evidence]) -> Judgement:
        """The papers the answer is about, and whether the question is answered."""
        ...


class TermDenseJudge:
    """The default judge: dense similarity, term coverage and literal presence of what is asked."""

    def __init__(self, retriever: CandidateRetriever, keywords: Callable[[], KeywordIndex],
                 names: Callable[[], NameIndex], settings: JudgeSettings) -> None:
        self.retriever = retriever
        self.keywords = keywords  # the collection's term statistics (idf, which stems any paper uses)
        self.names = names
        self.settings = settings

    # ---- evidence ----------------------------------------------------------------------------
    def weigh(self, plan: Plan, candidates: Candidates) -> list[Evidence]:
        s = self.settings
        idf = self.keywords().idf  # looked up once: the index checks the catalog's generation on each access
        hits = candidates.hits[: s.pool]
        by_id = {h.paper.id: h for h in candidates.hits}
        for pid in [*plan.named, *plan.resolved.referenced, *plan.resolved.earlier[:3]]:
            hit = by_id.get(pid)
            if hit is not None and hit not in hits:
                hits.append(hit)
        # A list is judged by its topic alone: "I'm writing a related-work section on X and only want
        # surveys" is about X and surveys, and its request wording would pull the vector elsewhere.
        listing = plan.intent in ("list", "topic_summary")
        question_vector = self.retriever.embed(plan.topic if listing and plan.topic else plan.question)
        vectors = self.retriever.chunk_vectors(hits)
        wanted = set(content_stems(plan.question, REQUEST_WORDS))
        total = sum(idf(stem) for stem in wanted)
        # "an RL controller" is held by an abstract that writes "reinforcement learning based controller":
        # the words the collection defines the acronym as ("deep reinforcement learning (RL)"), all of them.
        expansions = {stem: [set(content_stems(phrase)) for phrase in self.names().expansions_of(word)]
                      for word in re.findall(rf"\b{ACRONYM.pattern}\b", plan.question)
                      for stem in content_stems(word) if stem in wanted}
        centroids = {pid: _unit(matrix.mean(axis=0)) for pid, matrix in vectors.items()}
        earlier = centroids.get(plan.resolved.earlier[0]) if plan.resolved.earlier else None
        sides = [(self.retriever.embed(side), set(content_stems(side, DESCRIPTION_WORDS)))
                 for side in plan.descriptions]
        evidence = []
        for hit in hits:
            matrix = vectors.get(hit.paper.id)
            chunk_sims = matrix @ question_vector if matrix is not None else np.zeros(1, dtype=np.float32)
            centroid = centroids.get(hit.paper.id)
            related = float(centroid @ earlier) if centroid is not None and earlier is not None else 0.0
            best = float(chunk_sims.max())
            have = paper_stems(hit.paper)
            held = wanted & have | {stem for stem, phrases in expansions.items()
                                    if stem not in have and any(words and words <= have for words in phrases)}
            coverage = sum(idf(stem) for stem in held) / total if total else 0.0
            relevance = best + s.coverage_weight * coverage
            side_fit = tuple(self._fit(matrix, vector, stems, have, idf) for vector, stems in sides)
            evidence.append(Evidence(hit, relevance, coverage, [], [], hit.paper.id in plan.named, related,
                                     tuple(float(x) for x in chunk_sims), side_fit))
        evidence.sort(key=lambda e: -e.relevance)
        return evidence

    def _fit(self, matrix: np.ndarray | None, vector: np.ndarray, stems: set[str], have: frozenset[str],
             idf: Idf) -> float:
        """Relevance to one description (a comparison side): its best chunk's similarity plus the weighted
        share of the description's terms the paper holds, as for the whole question."""
        best = float((matrix @ vector).max()) if matrix is not None else 0.0
        total = sum(idf(stem) for stem in stems)
        coverage = sum(idf(stem) for stem in stems & have) / total if total else 0.0
        return best + self.settings.coverage_weight * coverage

    def detail(self, plan: Plan, evidence: Evidence) -> Evidence:
        """Sentence-level support and what is missing, for a paper an answer may use (the rest skip it)."""
        if not evidence.detailed:
            idf = self.keywords().idf
            evidence.sentences = self._sentences(plan, evidence.paper, evidence.chunk_similarity or (0.0,), idf)
            evidence.missing = self.missing(plan, evidence.paper, idf)
            evidence.detailed = True
        return evidence

    def _sentences(self, plan: Plan, paper: StoredPaper, chunk_sims: tuple[float, ...],
                   idf: Idf) -> list[SentenceEvidence]:
        """Each sentence's support: the question's terms it holds, its chunk's similarity, asked-for numbers.
        What the question takes as known ("besides delaying the EOS token, ...") is not what it asks."""
        rest = plan.question
        for clause in plan.ask.known:
            rest = rest.replace(clause, " ")
        # A word the question also asks with, outside what it takes as known, still counts.
        known = set(content_stems(" ".join(plan.ask.known))) - set(content_stems(rest))
        wanted = set(content_stems(plan.question)) - known
        total = sum(idf(stem) for stem in wanted) or 1.0
        chunk_of = {}
        for number, chunk in enumerate(chunk_sentences(paper.sentences, self.settings.chunk_max_words)):
            for index in range(chunk.first, chunk.last + 1):
                chunk_of[index] = min(number, len(chunk_sims) - 1)
        specific = [phrase_text(term) for term in plan.ask.specific]
        out = []
        for index, text in enumerate(paper.sentences):
            if INSTRUCTION_LIKE.search(text):
                continue  # text addressed to a model, planted in an abstract: data, never quoted as a claim
            stems = sentence_stems(text)
            terms = sum(idf(stem) for stem in wanted & stems) / total
            numbered = has_figure(text)
            folded = f" {phrase_text(text)} "
            named_specifics = sum(f" {term} " in folded for term in specific if term)
            score = terms + 0.5 * float(chunk_sims[chunk_of.get(index, 0)])
            if plan.ask.number and numbered:
                score += 0.25
            score += 0.25 * named_specifics
            out.append(SentenceEvidence(index, text, score, numbered))
        return out

    def missing(self, plan: Plan, paper: StoredPaper, idf: Idf) -> list[str]:
        """What the question asks for that the abstract never states.

        - a benchmark, metric or model it names, when that name carries a real share of the
          question (a name used in passing to describe the paper is not what is asked); a name no
          paper of the collection mentions is one the abstract lacks too;
        - a phrase it quotes (stated literally or by one sentence holding all its words);
        - what a "how many ..." counts, when the abstract never uses that word ("tokens");
        - the measurement it asks for ("what top-1 accuracy ..."): some sentence must hold the
          measurement's words together with a figure. Numbers that are part of names
          ("NAS-Bench-201", "ResNet-50") are not figures.
        """
        own = self._own(paper)
        stated = self._stated(paper, own)
        # A name no paper mentions (`unknown_names`) is stated by none, this one included.
        lacking = list(dict.fromkeys([*(term for term in plan.ask.specific if not stated(term)), *plan.unknown_names]))
        wanted = set(content_stems(plan.question, REQUEST_WORDS)) - own
        total = sum(idf(stem) for stem in wanted) or 1.0
        lacking_stems = set().union(*(set(content_stems(term)) for term in lacking)) if lacking else set()
        if sum(idf(stem) for stem in lacking_stems & wanted) / total < self.settings.missing_share:
            lacking = []
        # "How many training tokens ...?" of an abstract that never speaks of tokens: nothing there counts them.
        have = paper_stems(paper)
        lacking += [f"how many {noun}" for noun in plan.ask.counted
                    if (stems := set(content_stems(expanded(noun))) - own) and not stems & have and not stated(noun)]
        lacking += [f'"{phrase}"' for phrase in plan.ask.quoted
                    if not stated(phrase) and not self._worded(phrase, paper)]
        # Checked only when nothing else is missing; a measurement whose name ("BLEU") was too small a
        # share of the question to count as missing still needs its figure.
        quantity = set(content_stems(expanded(plan.ask.quantity))) - own  # "params": parameters
        if quantity and not lacking and not self._figure_for(quantity, paper, idf, self._anchors(plan, own),
                                                              plan.ask.quantity):
            lacking.append(f"a figure for {plan.ask.quantity}")
        return lacking

    def _own(self, paper: StoredPaper) -> set[str]:
        return self.names().own_names(paper.id) | {name_key(paper.title.split(":", 1)[0])}

    def _stated(self, paper: StoredPaper, own: set[str] | None = None) -> Callable[[str], bool]:
        """Does the paper's title or abstract state a term: one of its own names, the word, its singular
        ("GPUs" is stated by "GPU"), the phrase, with or without its spaces ("Page Rank"), an all-caps
        acronym written out in words ("TTA": "test-time adaptation", `abbreviated`), or a numbered common
        word in another order ("day-10": "the 10th day")."""
        text = f"{paper.title} {paper.abstract}"
        folded = f" {phrase_text(text)} "
        joined = folded.replace(" ", "")
        keys = {name_key(word) for word in re.split(r"[\s/]+", text)}
        own = self._own(paper) if own is None else own

        def stated(term: str) -> bool:
            phrase = phrase_text(term).strip()
            key = name_key(term)
            singular = key[:-1] if key.endswith("s") and len(key) > 3 else key
            return (key in own or key in keys or singular in keys
                    or bool(phrase and (f" {phrase} " in folded or phrase.replace(" ", "") in joined))
                    or abbreviated(term, text)  # "TTA": "test-time adaptation"
                    or _counted_as(term, text))  # "day-10": "on the 10th day"

        return stated

    @staticmethod
    def _worded(phrase: str, paper: StoredPaper) -> bool:
        """Does one sentence of the paper hold every word of a quoted phrase, in any form ("'adaptable'":
        "adaptability"; "'train only the affine parameters'": "training only these affine parameters")?"""
        stems = set(content_stems(phrase))
        # One content word of a longer quote ("'to prune, or not to prune'") is too little to go by.
        if not stems or (len(stems) < 2 and len(phrase.split()) > 1):
            return False
        return any(stems <= sentence_stems(sentence) for sentence in paper.sentences)

    @staticmethod
    def _anchors(plan: Plan, own: set[str]) -> list[str]:
        """What the asked figure must be measured on: the benchmarks and models the part of the
        question that asks for it names ("what mIoU does it get on Cityscapes"), beyond the paper's
        own names and the measurement itself. Names in other parts describe the paper, not the figure."""
        measured = measured_names(plan.ask.quantity)
        return [anchor for term in plan.ask.specific
                if term in plan.ask.measured_in and name_key(term) not in own | measured
                and (anchor := phrase_text(term).strip())]

    def _figure_for(self, quantity: set[str], paper: StoredPaper, idf: Idf, anchors: Sequence[str] = (),
                    phrase: str = "") -> bool:
        """Does some sentence state a figure together with the measurement's words (a third of their
        weight), and, when the question names what it is measured on, within `figure_reach` words of
        one of those names? "79.7% mIOU on PASCAL VOC, and advances the results on ... Cityscapes" gives no
        Cityscapes figure. An acronym of the measurement (`phrase`: "what SNR") is held where the sentence
        writes it out ("0 dB signal-to-noise ratio")."""
        mass = sum(idf(stem) for stem in quantity)
        acronyms = {stem: word for word in re.findall(rf"\b{ACRONYM.pattern}\b", phrase)
                    for stem in content_stems(word) if stem in quantity}
        for sentence in paper.sentences:
            if not _measures(sentence, quantity) or (
                    anchors and not _near_figure(sentence, anchors, self.settings.figure_reach)):
                continue
            # A measure is held however the sentence writes it: a share as a percentage ("what fraction
            # of peak": "73% of the maximum"), a gain as a result ("outperforms CoT by 8%"), a speed-up as
            # a multiplier ("how much faster": "2times speedup").
            stems = sentence_stems(sentence)
            held = quantity & stems | {stem for stem, word in acronyms.items() if abbreviated(word, sentence)}
            if "%" in sentence:
                held |= quantity & SHARE_WORDS
            if RESULT.search(sentence):
                held |= quantity & GAIN_WORDS
            if SPEED_WORDS & stems or MULTIPLIER.search(sentence):
                held |= quantity & SPEED_WORDS
            if sum(idf(stem) for stem in held) >= self.settings.figure_words_share * mass:
                return True
        return False

    # ---- decisions ---------------------------------------------------------------------------
    def similarity(self, evidence: Evidence) -> float:
        """The paper's closeness in meaning alone: its best chunk's similarity to the question."""
        return evidence.relevance - self.settings.coverage_weight * evidence.coverage

    def on_topic(self, evidence: Evidence, foreign: bool = False) -> bool:
        """Is the paper about the question at all, or only the nearest thing in the collection?

        Close in meaning, or weakly close and sharing the question's terms. Sharing terms alone is
        not enough: "the capital of France" shares "capital" with a paper and means nothing like it.
        A question whose words the collection does not use (`foreign`: another language, mostly)
        can only be matched by meaning.
        """
        s = self.settings
        best = self.similarity(evidence)
        return best >= s.on_topic_similarity or (best >= s.weak_similarity and (
            evidence.coverage >= s.weak_coverage or foreign))

    def decide(self, plan: Plan, evidence: list[Evidence]) -> Judgement:
        if plan.unknown_names and not plan.named:
            return Judgement([], "refused", reason=f"it names {', '.join(plan.unknown_names)}, which no paper in "
                             "the collection mentions.", nearest=evidence[:3])
        if not evidence:
            return Judgement([], "refused", reason="no paper in the collection matches what was asked.")
        foreign = self.is_foreign(plan.question)
        if plan.intent in ("list", "topic_summary"):
            judgement = self._decide_list(plan, evidence, foreign)
        elif plan.intent == "compare":
            judgement = self._decide_compare(plan, evidence, foreign)
        else:
            judgement = self._decide_one(plan, evidence, foreign)
        for chosen in judgement.chosen:
            self.detail(plan, chosen)
        if foreign and judgement.status != "refused":
            judgement.notices.append("Most words of this question occur in no paper of the collection (its "
                                     "papers are in English), so the papers were matched by meaning alone.")
        return judgement

    def _decide_list(self, plan: Plan, evidence: list[Evidence], foreign: bool) -> Judgement:
        s = self.settings
        names_topic = self._names_topic(plan)

        def listed(e: Evidence) -> bool:
            return self.on_topic(e, foreign) or (names_topic and all(map(self._stated(e.paper), plan.ask.specific)))

        def member(e: Evidence) -> bool:
            # Beside a best candidate on topic, a paper holding much of the topic's words may be further in
            # meaning: "Which papers benchmark against lottery-ticket pruning?" is one sentence of its abstract.
            return listed(e) or (self.similarity(e) >= s.member_similarity and e.coverage >= s.member_coverage)

        top = max(evidence, key=lambda e: e.coverage)
        # Few of the topic's words held is a reason to refuse only when meaning does not make up for it:
        # a long question explains itself ("because neighbouring layers behave alike") in words the
        # abstracts need not use.
        close = self.similarity(evidence[0]) >= s.on_topic_similarity
        # Whatever its language: a question in English ("papers on watermarking generated text") whose
        # words occur in no paper has no list either.
        unseen = self.unseen_share(plan.question) >= s.unseen_topic_share
        if unseen or (top.coverage < s.min_list_coverage and not close) or not listed(evidence[0]):
            # The topic's own words occur in no paper, no candidate holds even a third of them (and the
            # best is not close in meaning), or the best is not about it.
            return Judgement([], "refused", reason="no paper in the collection matches what was asked.",
                             nearest=evidence[:3])
        top = evidence[0]
        keep = [e for e in evidence if e.relevance >= s.list_relative * top.relevance and member(e)]
        return Judgement(keep[: s.list_max_papers], "answered")

    def _names_topic(self, plan: Plan) -> bool:
        """Do the benchmarks, models or metrics the question names carry `named_topic_share` of its topic's
        term weight? Then a list is about papers that state those names ("results on the Long Range
        Arena benchmark"), however far their wording is from the question's; a name used in passing
        ("LLM" in "make an LLM forget harmful behaviour") carries too little to decide."""
        if not plan.ask.specific:
            return False
        idf = self.keywords().idf
        wanted = set(content_stems(plan.topic or plan.question, REQUEST_WORDS))
        named = wanted & set().union(*(set(content_stems(term)) for term in plan.ask.specific))
        total = sum(idf(stem) for stem in wanted)
        return bool(total) and sum(idf(stem) for stem in named) / total >= self.settings.named_topic_share

    def is_foreign(self, question: str) -> bool:
        """Is the question in another language: mostly words no paper uses, and few English function
        words? An English question whose words no paper uses ("limescale in a kettle") is off topic."""
        s = self.settings
        return self.unseen_share(question) >= s.unseen_topic_share and english_share(question) < s.english_share

    def unseen_share(self, question: str) -> float:
        """Share of the question's term weight carried by words no paper in the collection uses."""
        keywords = self.keywords()
        wanted = set(content_stems(question, REQUEST_WORDS))
        total = sum(keywords.idf(stem) for stem in wanted)
        unseen = sum(keywords.idf(stem) for stem in wanted if stem not in keywords.doc_freq)
        return unseen / total if total else 0.0

    def _decide_compare(self, plan: Plan, evidence: list[Evidence], foreign: bool) -> Judgement:
        by_id = {e.paper.id: e for e in evidence}
        # "How does it compare with ShuffleMixer in PSNR": papers named only by acronyms their abstracts
        # define in passing ("(PSNR)", "(SR)") and far less relevant than the best candidate are terms
        # the question uses, as in a lookup (`_target`). When every named paper is one, or the question
        # only joins them with "and" ("ZeroRF's time and what PSNR does it reach"), it asks about one paper;
        # "compare", "both", "each" keep a comparison ("Consensus Merging and DAREx both ...").
        if not (plan.resolved.is_follow_up or plan.resolved.referenced) and evidence and plan.named:
            weak = [pid for pid in plan.named if pid in by_id and self._weakly_named(plan, by_id[pid], evidence[0])]
            mentions = self.names().mentions(plan.question) if weak else []
            weak = [pid for pid in weak if not _named_by_title(by_id[pid].paper, mentions)]
            if len(weak) == len(plan.named) or (not plan.contrasts and len(plan.named) - len(weak) < 2):
                return self._decide_one(replace(plan, named=[pid for pid in plan.named if pid not in weak]),
                                        evidence, foreign)
        wanted = list(dict.fromkeys([*plan.resolved.referenced, *plan.named]))
        if plan.resolved.compare_with_earlier and len(wanted) < 2:
            wanted = list(dict.fromkeys([*plan.resolved.earlier[:1], *wanted]))
        chosen = [by_id[pid] for pid in wanted if pid in by_id]
        # "ST-3 vs the layer-adaptive pruning paper that ...": each described side is the paper that fits
        # its description best, when one fits it as a paper on topic would fit a question.
        # A side the named paper itself fits best ("how much does QMoE's perplexity go up compared with
        # the uncompressed model") is what that paper measures against, not a second paper.
        named_papers = list(chosen)
        for side in range(len(plan.descriptions)):
            fits = [e for e in evidence if e not in chosen and len(e.side_fit) > side]
            best = max(fits, key=lambda e: e.side_fit[side], default=None)
            own = max((e.side_fit[side] for e in named_papers if len(e.side_fit) > side), default=0.0)
            if best is not None and best.side_fit[side] >= self.settings.side_fit and best.side_fit[side] > own:
                chosen.append(best)
        if plan.descriptions and len(chosen) < 2:  # a side fits no paper: what was found, as a lookup
            return self._decide_one(replace(plan, intent="lookup", descriptions=()), evidence, foreign)
        # "Compare the two papers on X": topped up from the judged ranking with papers nearly as relevant as
        # the best, as a list's members are; a paper far behind is not the other paper asked about ("which
        # two models did they pair up for the comparison" asks about one paper).
        floor = self.settings.list_relative * evidence[0].relevance if evidence else 0.0
        for candidate in evidence:
            if len(chosen) >= plan.count:
                break
            if candidate not in chosen and candidate.paper.id not in plan.resolved.earlier \
                    and candidate.relevance >= floor:
                chosen.append(candidate)
        if len(chosen) < 2:
            judgement = self._decide_one(replace(plan, intent="lookup"), evidence, foreign)
            if judgement.chosen:
                judgement.notices.append("Only one paper in the collection fits this well; the answer is about it "
                                         "alone.")
            return judgement
        return Judgement(chosen[:3], "answered")

    def _decide_one(self, plan: Plan, evidence: list[Evidence], foreign: bool) -> Judgement:
        target = self._target(plan, evidence)
        resolved = plan.resolved
        if target is None or (not (plan.named or resolved.is_follow_up) and not self.on_topic(target, foreign)):
            return Judgement([], "refused", reason="no paper in the collection addresses this question.",
                             nearest=evidence[:3])
        if self.detail(plan, target).missing:
            return Judgement([target], "partial", missing=list(target.missing))
        return Judgement([target], "answered")

    def _weakly_named(self, plan: Plan, named: Evidence, best: Evidence) -> bool:
        """Named by a name its title does not hold, and far less relevant than the best candidate."""
        return named is not best and named.relevance < self.settings.weak_name_relative * best.relevance \
            and not _titled(named.paper, plan.question)

    def _target(self, plan: Plan, evidence: list[Evidence]) -> Evidence | None:
        """The one paper a lookup is about: named, pointed at, described as new, or the one discussed."""
        by_id = {e.paper.id: e for e in evidence}
        resolved = plan.resolved
        earlier = next((by_id[pid] for pid in resolved.earlier if pid in by_id), None)
        if resolved.listed:  # "the one about ..." after a list: the listed paper this turn fits best
            earlier = max((by_id[pid] for pid in resolved.listed if pid in by_id), key=lambda e: e.relevance,
                          default=earlier)
        if resolved.referenced:
            return by_id.get(resolved.referenced[0])
        # "Another paper that builds a reduced version of DeepLab": a name of a paper discussed before
        # says what the new one relates to, not which it is.
        named_ids = [pid for pid in plan.named if not (resolved.wants_other_paper and pid in resolved.earlier)
                     and pid not in plan.context_named]
        if named_ids:
            # Of several named papers, the one the rest of the question fits: "Unlike EchoASR, how much
            # does NoiseGuard ...", and a metric one abstract defines ("(PSNR)") names no paper.
            named = max((by_id[pid] for pid in named_ids if pid in by_id), key=lambda e: e.relevance, default=None)
            # "What did it do to the sparse MobileNet-v2?": a name the paper discussed itself uses is a
            # detail of that paper, not a new paper.
            if resolved.is_follow_up and earlier is not None and not resolved.wants_other_paper and named is not None \
                    and self.names().covers_key(named.paper.id, earlier.paper.abstract, plan.question):
                return earlier
            # A name the paper's title does not hold names it weakly: "... built from W's own SVD", where one
            # abstract defines "Singular Value Decomposition (SVD)" in passing. Far less relevant than the
            # best candidate too, it is a term the question uses, not the paper it asks about.
            if named is not None and not resolved.is_follow_up and self._weakly_named(plan, named, evidence[0]):
                return evidence[0]
            return named
        fresh = [e for e in evidence if e.paper.id not in resolved.earlier]
        if resolved.is_follow_up and resolved.wants_other_paper:
            # Another paper that does what this turn says and relates to the one discussed.
            return max(fresh, key=lambda e: e.relevance + self.settings.related_weight * e.related, default=None)
        # "How does <a paper described here> differ from it?", and "the one where a cloud model helps ..."
        # when a paper the earlier answer missed fits better than any discussed: the described paper.
        if resolved.is_follow_up and (resolved.compare_with_earlier or resolved.described) and fresh \
                and earlier is not None and fresh[0].relevance > earlier.relevance:
            return fresh[0]
        if resolved.is_follow_up:
            return earlier
        # "X is slow. Is there a paper that ...?": a paper other than the X the context names.
        return next((e for e in evidence if e.paper.id not in plan.context_named), None)


# A whole number followed by what it counts ("13 diverse datasets", "twelve language pairs"): it counts
# those things, and measures nothing else. A count per something is a rate ("41 frames per second").
COUNTED_NOUN = re.compile(r"(?<![\w.,-])(?:\d{1,3}(?:,\d{3})+|\d+|two|three|four|five|six|seven|eight|nine|ten|eleven|"
                   r"twelve)\s+(?:[a-z-]+\s+){0,2}?([a-z]+s)\b(?!\s+(?:per|a|an|each)\b)", re.I)


# "day-10", "epoch-3": a common word numbered, which abstracts write "the 10th day", "day 10", "3 epochs".
NUMBERED_WORD = re.compile(r"^([a-z]{3,})-(\d+)$")


def _counted_as(term: str, text: str) -> bool:
    """Is a numbered common word ("day-10") stated in another order or form ("on the 10th day", "day 10")?
    Names with numbers ("ResNet-50", "GPT-4") are capitalized and left to the literal checks."""
    match = NUMBERED_WORD.match(term)
    if not match:
        return False
    word, number = map(re.escape, match.groups())
    return bool(re.search(rf"\b{number}(?:st|nd|rd|th)?[\s-]+{word}s?\b|\b{word}s?[\s-]+{number}\b", text, re.I))


def _measures(sentence: str, quantity: set[str]) -> bool:
    """Does the sentence state a figure that can be the asked measurement? Not when its only figures
    count other things: "across 13 diverse datasets" gives no accuracy, but it answers "how many datasets"."""
    counts = [m for m in COUNTED_NOUN.finditer(sentence) if not set(content_stems(m.group(1))) & quantity]
    spans = [(m.start(), m.end()) for m in counts]
    return any(not any(a <= f.start() < b for a, b in spans) for f in FIGURE.finditer(sentence))


def _named_by_title(paper: StoredPaper, mentions: Sequence[NameMatch]) -> bool:
    """Does the question (its name `mentions`) name the paper by its title's words ("Paramanu", "Zero
    Bubble Pipeline Parallelism"), rather than by a name only its abstract gives ("(PSNR)")?"""
    words = [name_key(w) for w in re.split(r"[\s:]+", paper.title) if w]
    runs = {"".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, min(i + 6, len(words) + 1))}
    return any(m.key in runs for m in mentions if paper.id in m.paper_ids)


def _titled(paper: StoredPaper, question: str) -> bool:
    """Does the question use a name-like word of the paper's title ("ZeRO++", "GaLore")?"""
    title = {name_key(word) for word in name_words(paper.title)}
    return any(name_key(word) in title for word in name_words(question))


def _near_figure(sentence: str, anchors: Sequence[str], reach: int) -> bool:
    """Is one of `anchors` (phrase_text form) within `reach` words of a number in the sentence? A
    number is a FIGURE written in digits: the digits of names ("CIFAR-100", "ResNet-50") are not.
    ("RetinaNet+PVT achieves 40.4 AP": "+" separates words here.)"""
    tokens: list[tuple[int, str]] = []  # (word number, folded token)
    figures: set[int] = set()
    for number, word in enumerate(sentence.split()):
        tokens += [(number, token) for token in re.findall(r"[0-9a-z]+", phrase_text(word))]
        if any(match.group(0)[:1].isdigit() for match in FIGURE.finditer(word)):
            figures.add(number)
    if not figures:
        return False
    folded = [token for _, token in tokens]
    for anchor in anchors:
        parts = re.findall(r"[0-9a-z]+", anchor)
        for i in range(len(folded) - len(parts) + 1):
            if parts and folded[i:i + len(parts)] == parts and any(abs(tokens[i][0] - f) <= reach for f in figures):
                return True
    return False


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / (float(np.linalg.norm(vector)) or 1.0)
