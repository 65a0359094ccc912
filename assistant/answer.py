"""The one Answer type that flows out of the service; CLI, UI, export and eval all render it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

AnswerKind = Literal["lookup", "compare", "list", "summary", "topic_summary", "refusal", "error"]
# answered: the sources hold the answer; partial: the paper is there but not all that was asked
# (`missing` says what is not); refused: the collection does not hold it.
Status = Literal["answered", "partial", "refused"]


@dataclass
class Source:
    """Citation `[number]`: a paper and the sentences of its abstract the answer quotes."""

    number: int
    paper_id: str
    title: str
    files: list[str]
    sentences: list[str] = field(default_factory=list)
    abstract: str = ""


@dataclass
class RetrievedPaper:
    paper_id: str
    title: str
    score: float


@dataclass
class Answer:
    question: str
    text: str
    kind: AnswerKind
    sources: list[Source] = field(default_factory=list)
    retrieved: list[RetrievedPaper] = field(default_factory=list)
    abstained: bool = False
    query: str = ""  # the stand-alone query retrieval used (follow-ups are rewritten)
    focus: list[str] = field(default_factory=list)  # paper ids the answer is about, for follow-ups
    notices: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    generator: str = "extractive"  # which generator wrote the text
    status: Status = "answered"
    missing: list[str] = field(default_factory=list)  # what a partial answer's sources do not report

    @property
    def cited_titles(self) -> list[str]:
        return [s.title for s in self.sources]

    def to_dict(self, with_abstracts: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_abstracts:
            for source in data["sources"]:
                source.pop("abstract", None)
        return data

    def sources_markdown(self) -> str:
        lines = []
        for source in self.sources:
            files = ", ".join(source.files)
            lines.append(f"[{source.number}] {source.title} ({files})")
        return "\n".join(lines)
