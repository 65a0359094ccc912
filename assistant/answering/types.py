"""The data the answering stages hand each other: a Plan of the question, Evidence per paper.

condense -> retrieve -> plan -> judge -> compose -> verify; each stage reads the one before's
output and nothing else, so each can be tested (and replaced) on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from assistant.answer import Status
from assistant.retrieval import PaperHit
from assistant.store import StoredPaper

Intent = Literal["lookup", "compare", "list", "summary", "topic_summary"]


@dataclass(frozen=True)
class Ask:
    """What the question wants back, beyond the paper it is about."""

    number: bool = False  # a score, a size, a speed-up: the answer must hold a number
    specific: tuple[str, ...] = ()  # benchmarks, metrics, models it names ("ImageNet", "mIoU"): must be literal
    quantity: str = ""  # the measurement asked for ("top-1 accuracy", "word error rate", "times faster")
    quoted: tuple[str, ...] = ()  # phrases the question puts in quotes: asked about literally
    # The question's parts, one per thing it asks ("how few params ...", "how fast does it run ..."):
    # an answer gives each part its own best sentence rather than one sentence for the whole.
    parts: tuple[str, ...] = ()
    measured_in: str = ""  # the part asking for the measurement: what it names is what it is measured on
    counted: tuple[str, ...] = ()  # what "how many ..." counts ("tokens", "views"): the abstract must name it
    # What the user says they know already ("Besides delaying the end-of-sequence token, what other losses
    # ...?"): the sentences that state it are not the answer.
    known: tuple[str, ...] = ()


@dataclass
class Resolved:
    """The question after condensing: how it relates to the conversation, and the query to search."""

    question: str
    query: str  # stand-alone retrieval query (follow-ups carry the earlier papers' titles)
    is_follow_up: bool = False
    wants_other_paper: bool = False  # "is there another paper that ...": a new paper, related to the earlier
    earlier: list[str] = field(default_factory=list)  # paper ids discussed before, most recent first
    referenced: list[str] = field(default_factory=list)  # earlier papers this turn points at ("the second one")
    compare_with_earlier: bool = False  # "how does that compare with X", "how do those two compare"
    # The papers of the last answer when it listed several and this turn points back at one without a
    # position ("the one about the data-augmentation trick"): the judge picks among them.
    listed: list[str] = field(default_factory=list)
    # The turn points back by description ("the one where a cloud model helps", "the object-detection
    # one"), not by position or pronoun alone: the paper that fits the description is meant.
    described: bool = False


@dataclass
class Plan:
    """What kind of answer the question wants, which papers it names, what it is about and asks for."""

    resolved: Resolved
    intent: Intent
    named: list[str]  # paper ids the question names, in the order named
    ask: Ask
    unknown_names: list[str] = field(default_factory=list)  # specific names no paper mentions
    count: int = 2  # papers a comparison wants
    topic: str = ""  # the question without its request wording ("I'm writing a related-work section on ...")
    # Named papers that set the scene for a question asking whether some other paper exists ("VAR's
    # tokenizer is a pain. Is there a generator that ...?"): what the asked-for paper relates to, not it.
    context_named: list[str] = field(default_factory=list)
    # It says it compares ("compare", "vs", "different", "both", "each"), not only "X and Y" or "beats".
    contrasts: bool = False
    # Sides of a comparison given by description, not by name ("ST-3 vs the layer-adaptive pruning
    # paper that solves the allocation with dynamic programming"): the judge finds the paper for each.
    descriptions: tuple[str, ...] = ()

    @property
    def question(self) -> str:
        return self.resolved.question


@dataclass
class SentenceEvidence:
    index: int
    text: str
    score: float  # how well it answers the question (terms, meaning of its chunk, asked-for numbers)
    has_figure: bool  # states a figure (text.FIGURE), not just a digit inside a name


@dataclass
class Evidence:
    """How well one candidate paper answers the plan, and which of its sentences do."""

    hit: PaperHit
    relevance: float  # overall, comparable across the candidates of one question
    coverage: float  # IDF-weighted share of the question's terms the paper holds
    sentences: list[SentenceEvidence]  # filled by the judge for the papers an answer uses
    missing: list[str]  # asked-for specifics the abstract never states (likewise)
    named: bool = False
    related: float = 0.0  # whole-abstract similarity to the paper discussed before (follow-ups)
    chunk_similarity: tuple[float, ...] = field(default=(), repr=False)  # per chunk, to the question
    side_fit: tuple[float, ...] = ()  # how well it fits each of the plan's descriptions (same scale as relevance)
    detailed: bool = False  # sentences and missing are filled in

    @property
    def paper(self) -> StoredPaper:
        return self.hit.paper

    @classmethod
    def unjudged(cls, paper: StoredPaper) -> Evidence:
        """A paper with every sentence equally supported (abstract order): composing without a judge."""
        from assistant.text import has_figure

        sentences = [SentenceEvidence(i, text, 0.0, has_figure(text))
                     for i, text in enumerate(paper.sentences)]
        return cls(PaperHit(paper), 0.0, 0.0, sentences, [], detailed=True)


@dataclass
class Judgement:
    """The judge's decision: the papers the answer is about, and whether the question is answered."""

    chosen: list[Evidence]
    status: Status
    missing: list[str] = field(default_factory=list)  # parts of the question the collection lacks
    reason: str = ""  # for a refusal: why
    nearest: list[Evidence] = field(default_factory=list)  # near misses a refusal names
    notices: list[str] = field(default_factory=list)  # for the reader: how the judge reached its decision
