"""CitationBook numbering and verify(): every `[n]` must name a source and quote its abstract."""

from __future__ import annotations

import pytest
from conftest import CORPUS_DIR, paper_titled

from assistant.answering.compose.extractive import ExtractiveComposer
from assistant.answering.types import Evidence
from assistant.citations import ELLIPSIS, CitationBook, claims, shorten, verify
from assistant.store import StoredPaper
from ingest.pipeline import read_inputs
from ingest.records import Paper


def stored(paper: Paper) -> StoredPaper:
    return StoredPaper(paper.id, paper.title, paper.abstract, paper.authors, paper.year, paper.url,
                       list(paper.sources), paper.content_hash, 1)


def stored_titled(prefix: str) -> StoredPaper:
    record = paper_titled(prefix)
    return stored(Paper(title=record["title"], abstract=record["abstract"], sources=[f"small.jsonl:{prefix}"]))


@pytest.fixture(scope="module")
def fusemax() -> StoredPaper:
    return stored_titled("FuseMax")


@pytest.fixture(scope="module")
def zero() -> StoredPaper:
    return stored_titled("ZeRO: Memory")


@pytest.fixture(scope="module")
def zeropp() -> StoredPaper:
    return stored_titled("ZeRO++")


@pytest.fixture(scope="module")
def corpus() -> list[StoredPaper]:
    papers, _, _ = read_inputs([CORPUS_DIR], 50_000_000, 20_000)
    return [stored(p) for p in papers]


def sentence_with(paper: StoredPaper, fragment: str) -> str:
    (sentence,) = [s for s in paper.sentences if fragment in s]
    return sentence


# ---- numbering ---------------------------------------------------------------------------------


def test_numbers_in_order_of_first_use(fusemax: StoredPaper, zero: StoredPaper, zeropp: StoredPaper) -> None:
    book = CitationBook()
    assert book.number(zeropp) == 1
    assert book.number(fusemax) == 2
    assert book.number(zeropp) == 1
    first = zero.sentences[0]
    assert book.cite(zero, first) == f"{first} [3]"
    assert book.cite(zero, first) == f"{first} [3]"
    assert book.cite(fusemax, fusemax.sentences[1]) == f"{fusemax.sentences[1]} [2]"
    sources = book.sources
    assert [(s.number, s.paper_id) for s in sources] == [(1, zeropp.id), (2, fusemax.id), (3, zero.id)]
    assert [s.title for s in sources] == [zeropp.title, fusemax.title, zero.title]
    assert sources[0].sentences == [] and sources[2].sentences == [first]  # recorded once
    assert sources[1].files == fusemax.sources and sources[1].abstract == fusemax.abstract
    sources.clear()
    assert len(book.sources) == 3  # callers get a copy


def test_shorten_cuts_at_words_with_an_ellipsis() -> None:
    assert shorten("One two three.", 5) == "One two three."
    assert shorten("One two, three four five.", 2) == "One two" + ELLIPSIS
    book = CitationBook()
    paper = stored_titled("FuseMax")
    text = book.cite(paper, paper.sentences[0], max_words=6)
    assert text == " ".join(paper.sentences[0].split()[:6]) + ELLIPSIS + " [1]"
    assert book.sources[0].sentences == [paper.sentences[0]]  # the full sentence is remembered


# ---- verify accepts what the composer writes --------------------------------------------------


def test_verbatim_quotes_are_supported(fusemax: StoredPaper, zero: StoredPaper) -> None:
    book = CitationBook()
    text = " ".join([book.cite(fusemax, fusemax.sentences[0]), book.cite(zero, zero.sentences[1]),
                     book.cite(fusemax, fusemax.sentences[-1])])
    check = verify(text, book.sources)
    assert check.ok, check.problems
    assert (check.claims, check.supported) == (3, 3)


def test_shortened_quotes_and_partial_quotes_are_supported(fusemax: StoredPaper) -> None:
    book = CitationBook()
    book.number(fusemax)
    sentence = sentence_with(fusemax, "iso-area comparison")
    words = sentence.split()
    text = "\n".join([
        " ".join(words[:8]) + ELLIPSIS + " [1]",  # head of a sentence
        " ".join(words[:4]) + f" {ELLIPSIS} " + " ".join(words[-5:]) + " [1]",  # head … tail
        "FuseMax achieves an average 6.7times speedup over the prior state-of-the-art FLAT [1]",  # a clause
    ])
    check = verify(text, book.sources)
    assert check.ok, check.problems
    assert check.supported == 3


def test_title_headings_and_labels_are_supported(fusemax: StoredPaper, zeropp: StoredPaper) -> None:
    book = CitationBook()
    book.number(fusemax)
    book.number(zeropp)
    text = "\n".join([
        f"**{fusemax.title}** [1]",
        "### ZeRO++ [2]",
        f"*{zeropp.title}* [2]",
        f"- **Method:** {zeropp.sentences[1]} [2]",
        f"1. **{fusemax.title}** — {fusemax.sentences[0]} [1]",
    ])
    check = verify(text, book.sources)
    assert check.ok, check.problems
    assert (check.claims, check.supported) == (5, 5)


def test_table_cells_are_separate_claims(fusemax: StoredPaper, zeropp: StoredPaper) -> None:
    book = CitationBook()
    cell_a = book.cite(fusemax, sentence_with(fusemax, "iso-area comparison"), 12)
    cell_b = book.cite(zeropp, zeropp.sentences[-1], 12)
    text = "\n".join(["| | FuseMax [1] | ZeRO++ [2] |", "|---|---|---|", f"| **Results** | {cell_a} | {cell_b} |",
                      "| **Problem** | not stated in the abstract | not stated in the abstract |"])
    assert [number for _, number in claims(text)] == [1, 2, 1, 2]
    check = verify(text, book.sources)
    assert check.ok, check.problems


def test_quoted_reference_markers_in_an_abstract_are_not_citations(corpus: list[StoredPaper]) -> None:
    """Abstracts carry their own '[23]' and '[2021]'; quoting them must not read as citing source 23."""
    paper = next(p for p in corpus if p.title.startswith("Sensitivity-Aware Visual Parameter-Efficient"))
    sentence = sentence_with(paper, "LoRA [23] or Adapter [22]")
    book = CitationBook()
    text = book.cite(paper, sentence)
    assert text.endswith(" [1]") and "[23]" not in text.replace("\\[23\\]", "")
    check = verify(text, book.sources)
    assert check.ok, check.problems
    assert check.claims == 1
    assert claims(text) == [(sentence, 1)]
    # An unescaped stray marker still counts as a citation, and is caught.
    assert not verify(sentence + " [1]", book.sources).ok


def test_pipes_inside_a_quoted_sentence(corpus: list[StoredPaper]) -> None:
    paper = next(p for p in corpus if p.title.startswith("Scaling Laws for Autoregressive Generative Modeling"))
    other = next(p for p in corpus if p.title.startswith("FuseMax"))
    sentence = sentence_with(paper, "D_{KL}(True||Model)")
    composer = ExtractiveComposer(7, 400, 7, 3, lambda _stem: 1.0)
    book = CitationBook()
    answer = composer.compare([Evidence.unjudged(paper), Evidence.unjudged(other)], book)
    check = verify(answer, book.sources)
    assert check.ok, check.problems
    assert (sentence, 1) in claims(book.cite(paper, sentence).replace("|", "\\|"))


def test_every_composed_answer_over_the_corpus_verifies(corpus: list[StoredPaper]) -> None:
    """The composer's own output, for every paper and every answer shape, passes verification."""
    # 50 sentences, and no length cap on comparisons: every sentence of every abstract
    composer = ExtractiveComposer(50, 5000, 50, 50, lambda _stem: 1.0, compare_share=100.0)
    failures = []
    for index in range(0, len(corpus), 2):
        pair = [Evidence.unjudged(p) for p in corpus[index:index + 2]]
        for kind, paper in [("compare", None)] + [("lookup", p) for p in pair] + [("summary", pair[0])]:
            book = CitationBook()
            text = composer.compare(pair, book) if paper is None else getattr(composer, kind)(paper, book)
            check = verify(text, book.sources)
            if not check.ok:
                failures.append((kind, [p.paper.title for p in pair], check.problems))
    book = CitationBook()
    text = composer.listing([Evidence.unjudged(p) for p in corpus], book, "All of them:")
    check = verify(text, book.sources)
    assert check.ok, check.problems[:5]
    assert len(book.sources) == len(corpus)
    assert failures == []


# ---- verify rejects what is not in the abstract -----------------------------------------------


def test_invented_citation_number_is_rejected(fusemax: StoredPaper) -> None:
    book = CitationBook()
    text = book.cite(fusemax, fusemax.sentences[0]) + " FuseMax is also great [9]"
    check = verify(text, book.sources)
    assert not check.ok
    assert check.problems == ["[9] is not in the source list"]
    assert (check.claims, check.supported) == (2, 1)


def test_sentence_from_another_papers_abstract_is_rejected(fusemax: StoredPaper, zero: StoredPaper) -> None:
    book = CitationBook()
    book.number(fusemax)
    book.number(zero)
    check = verify(f"{zero.sentences[0]} [1]", book.sources)
    assert not check.ok
    assert check.problems[0].startswith("[1] claim not found in 'FuseMax")
    assert verify(f"{zero.sentences[0]} [2]", book.sources).ok


@pytest.mark.parametrize(
    "claim",
    [
        "FuseMax achieves an average 7.6times speedup over the prior state-of-the-art FLAT while using 79% of the "
        "energy.",
        "FuseMax achieves an average 6.7times speedup over the prior state-of-the-art FLAT while using 70% of the "
        "energy.",
        "enabling attention with nearly 10",  # "nearly 100%" cut inside the number
        "achieves an average 6.7times speedup over FLAT",  # words dropped without an ellipsis
        "FuseMax achieves an average 6.7times speedup … using 7",  # ellipsis, then a cut number
        "FuseMax achieves an average 6.7times speedup over the prior state-of-the-art FLAT while using 179% of "
        "the energy.",
    ],
)
def test_modified_or_cut_numbers_are_rejected(fusemax: StoredPaper, claim: str) -> None:
    book = CitationBook()
    book.number(fusemax)
    assert not verify(f"{claim} [1]", book.sources).ok


@pytest.mark.parametrize("text", ["**FuseMax is 100x faster than everything** [1]", f"{ELLIPSIS} [1]",
                                  "### Some Other Paper [1]", "**Method:** [1]"])
def test_headings_that_do_not_name_the_paper_are_rejected(fusemax: StoredPaper, text: str) -> None:
    book = CitationBook()
    book.number(fusemax)
    assert not verify(text, book.sources).ok


def test_no_citations_means_nothing_to_check() -> None:
    check = verify("The collection does not contain the information to answer this.", [])
    assert check.ok and check.claims == 0
