"""The extractive composer's sentence choice, on hand-made abstracts: which sentences a lookup quotes
after its lead, what the parts of a question are, what counts as a figure, and the comparison's
length cap. Unit tests without an index: the judge's sentence scores are given directly."""

from __future__ import annotations

import pytest

from assistant.answering.compose.extractive import ExtractiveComposer, Part, answer_sentences
from assistant.answering.compose.sentences import roles_of
from assistant.answering.plan import parts_of
from assistant.answering.types import Evidence, SentenceEvidence
from assistant.citations import CitationBook, verify
from assistant.retrieval import PaperHit
from assistant.store import StoredPaper
from assistant.text import has_figure


def flat_idf(_: str) -> float:
    return 1.0


def paper(title: str, sentences: list[str]) -> StoredPaper:
    return StoredPaper(title.lower()[:12], title, " ".join(sentences), [], None, None, [], "", 1)


def evidence(of: StoredPaper, scores: list[float]) -> Evidence:
    sentences = [SentenceEvidence(i, text, score, has_figure(text))
                 for i, (text, score) in enumerate(zip(of.sentences, scores, strict=True))]
    return Evidence(PaperHit(of), 1.0, 1.0, sentences, [], detailed=True)


SEGMENTER = paper("TinySeg: Portrait Segmentation on Phones", [
    "Portrait segmentation on phones must run in real time.",  # 0: lead for the speed part
    "Designing a robust portrait segmentation method for phones is an important and long-standing problem.",
    "The model reduces the number of parameters from 2.1M to 86.9K in total.",  # 2: answers the size part
    "It runs at 100 FPS on a phone.",
    "The code is available at https://example.org/tinyseg.",
])


# ---- the parts of a question ---------------------------------------------------------------------

@pytest.mark.parametrize(("question", "parts"), [
    ("How few parameters does it have, and how fast does it run on a phone?",
     ["How few parameters does it have", "how fast does it run on a phone"]),
    ("What's it called, how many models were evaluated, and which one came out on top?",
     ["What's it called", "how many models were evaluated", "which one came out on top"]),
    ("Some context: we serve a diffusion model. Is there a training-free sampler? What FID does it reach?",
     ["Is there a training-free sampler", "What FID does it reach"]),
    # Context clauses before the question word are not asked: "When ..., how ...", "For ..., is there ...".
    ("When a cloud provider replaces the base LLM, how can existing adapters be migrated?",
     ["how can existing adapters be migrated"]),
    ("For adapting a classifier at test time, is there a method that changes only its outputs?",
     ["is there a method that changes only its outputs"]),
    ("What does FuseMax achieve?", ["What does FuseMax achieve"]),
    ("the second one you mentioned, the MLP backbone: which tasks does it cover, and what are its two blocks?",
     ["which tasks does it cover", "what are its two blocks"]),
])
def test_parts_are_the_things_a_question_asks(question: str, parts: list[str]) -> None:
    assert list(parts_of(question)) == parts


# ---- figures -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "figure"), [
    ("We evaluate eighteen popular models.", True),
    ("It is 2.1 times faster and reaches 76.1% top-1.", True),
    ("Forty-two tasks and a dozen languages.", True),
    ("GPT-4V leads in most dimensions.", False),  # a digit inside a name is no figure
    ("ResNet-50 and NAS-Bench-201 are used.", False),
    ("One of the reasons is memory.", False),
])
def test_a_figure_is_a_number_standing_on_its_own_or_spelled_out(text: str, figure: bool) -> None:
    assert has_figure(text) is figure


# ---- which sentences a lookup quotes ---------------------------------------------------------------

def test_each_part_of_a_question_gets_its_own_best_sentence() -> None:
    question = "How fast does the phone portrait model run, and how few parameters does it have?"
    parts = tuple(Part.of(text, flat_idf) for text in parts_of(question))
    assert len(parts) == 2
    # The judge ranks the background sentence second (it shares "portrait", "phone"). The speed part is
    # answered best by the FPS sentence (3), the size part by the parameters sentence (2).
    ranked_by_judge = evidence(SEGMENTER, [0.9, 0.6, 0.3, 0.2, 0.1])
    assert [s.index for s in answer_sentences(ranked_by_judge, 3, 90, parts=parts)] == [0, 3, 2]
    # Without parts, the background sentence takes a place and the speed goes unanswered.
    assert [s.index for s in answer_sentences(ranked_by_judge, 3, 90)] == [0, 2, 1]


def test_a_part_no_sentence_answers_takes_no_place_in_the_budget() -> None:
    # "Is there ..." is answered by naming the paper: the background sentence shares one of its eight
    # terms ("robust"), under a quarter, so the place goes to the sentence that answers the size part.
    question = "Is there a compact efficient tiny network for selfie cutouts built in a robust way, " \
               "and how few parameters does it have?"
    parts = tuple(Part.of(text, flat_idf) for text in parts_of(question))
    assert len(parts) == 2
    ranked_by_judge = evidence(SEGMENTER, [0.9, 0.6, 0.3, 0.2, 0.1])
    assert 0 < max(parts[0].support(s) for s in ranked_by_judge.sentences) < 0.25
    assert [s.index for s in answer_sentences(ranked_by_judge, 2, 90, parts=parts)] == [0, 2]


def test_the_rest_of_the_budget_goes_to_what_the_method_does_or_achieves_not_to_background() -> None:
    study = paper("Kestrel: Learned Layer-Wise Pruning Thresholds", [
        "Kestrel learns a pruning threshold for every layer.",  # lead
        "Deep networks are expensive to deploy and remain a critical challenge for edge devices today.",
        "Experiments show that Kestrel outperforms uniform pruning at equal sparsity on every benchmark.",
        "The code is available at https://example.org/kestrel.",
    ])
    # The background sentence scores higher with the judge than the result sentence does (which has no
    # figure, so the figure rule does not pick it: only the bonus for what the method achieves can).
    chosen = answer_sentences(evidence(study, [0.9, 0.5, 0.4, 0.45]), limit=3, budget=90)
    assert [s.index for s in chosen][:2] == [0, 2]
    assert all("available at" not in s.text for s in chosen)  # boilerplate never fills a budget


def test_a_question_of_four_parts_gets_room_for_each_but_not_for_background() -> None:
    detector = paper("LiteDet: A Small Detector for Drones", [
        "LiteDet is a single-stage detector for drone footage that runs a shared lightweight head over three "
        "feature levels of a compact backbone, trained with a loss that weighs small objects more.",
        "It reaches 31.2 AP on the VisDrone benchmark, which is 4.1 AP more than the strongest previous "
        "lightweight detector of the same size evaluated with the same input resolution and schedule.",
        "On an embedded Jetson Orin board the detector runs at 96 frames per second at batch size one with "
        "half precision, well above the real-time rate that drone operators ask for in practice.",
        "The whole model has 1.9 million parameters and needs 3.4 GFLOPs per image, a fifth of the compute of "
        "the baseline detector it was derived from.",
        "Detecting small objects from the air has long been a hard problem for detectors built for street scenes.",
    ])
    question = "How does LiteDet work, what AP does it reach on VisDrone, how fast does it run on a Jetson, " \
               "and how many parameters does it have?"
    parts = tuple(Part.of(text, flat_idf) for text in parts_of(question))
    assert len(parts) == 4
    ranked_by_judge = evidence(detector, [0.9, 0.5, 0.4, 0.3, 0.6])
    # Within the plain 90 words only three of these 30-word sentences fit: a part goes unanswered.
    plain = answer_sentences(ranked_by_judge, 4, 90, parts=parts)
    assert {0, 1} <= {s.index for s in plain} and not {2, 3} <= {s.index for s in plain}
    # Two parts past the second widen the budget by 2 x 30 words, for the sentences that answer them.
    chosen = answer_sentences(ranked_by_judge, 4, 90, parts=parts, part_words=30)
    assert {s.index for s in chosen} == {0, 1, 2, 3}
    # The background sentence (4) gets none of that room, though the judge ranks it second.
    assert 4 not in {s.index for s in chosen}


def test_a_lookup_stays_in_its_word_budget() -> None:
    chosen = answer_sentences(evidence(SEGMENTER, [0.9, 0.8, 0.7, 0.6, 0.5]), limit=4, budget=20)
    assert sum(len(s.text.split()) for s in chosen) <= 20 or len(chosen) == 1


# ---- a comparison is never longer than what it compares --------------------------------------------

PRUNER = paper("GradRule: Gradient Pruning for Detectors", [
    "Object detectors are too slow for embedded cameras, and pruning them by weight magnitude loses accuracy.",
    "We propose GradRule, a pruning rule that ranks the channels of a detector by their gradient on the loss.",
    "GradRule removes 40% of the FLOPs of a RetinaNet detector on COCO.",
    "Experiments show that it outperforms magnitude pruning by 1.5 AP at the same sparsity on two benchmarks.",
    "The pruned detectors also transfer to Pascal VOC without any retraining of the backbone network.",
    "Unlike earlier rules, the ranking is computed once, from a single pass over a small calibration set.",
    "On a Jetson board the pruned RetinaNet runs at 31 frames per second, against 19 before pruning.",
    "We release the pruned checkpoints together with the calibration images used to rank the channels.",
])
DISTILLER = paper("ImiDistil: Feature Imitation for Small Detectors", [
    "Small detectors trained alone fall well short of the accuracy of their large teachers.",
    "We introduce ImiDistil, a feature imitation loss that aligns the neck features of student and teacher.",
    "The student detector is 2 times faster than the teacher on a mobile phone.",
    "Results show that it matches the teacher within 1 AP on COCO while using a quarter of the parameters.",
    "The loss adds no cost at inference time and needs no change to the student's architecture.",
    "Imitation is restricted to regions near objects, so the background does not dominate the loss.",
    "Across four student backbones the gain over training alone ranges from 2.4 to 3.9 AP on COCO.",
    "The method also works when teacher and student have different numbers of feature pyramid levels.",
])


def answer_words(text: str) -> int:
    return len(text.replace("[1]", " ").replace("[2]", " ").split())


@pytest.mark.parametrize("share", [1.0, 0.75])
def test_a_comparison_is_never_longer_than_what_it_compares(share: float) -> None:
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
    items = [evidence(PRUNER, scores), evidence(DISTILLER, scores)]
    abstracts = sum(len(p.abstract.split()) for p in (PRUNER, DISTILLER))
    book = CitationBook()
    text = ExtractiveComposer(4, 90, 3, 2, flat_idf, compare_share=share).compare(items, book)
    assert verify(text, book.sources).ok
    assert answer_words(text) <= share * abstracts
    assert "### GradRule [1]" in text and "### ImiDistil [2]" in text and "**Side by side**" in text
    quoted = {s for source in book.sources for s in source.sentences}
    assert all(sentence in text for sentence in quoted if len(sentence.split()) <= 22)  # only what it quotes
    # Trimmed only when the untrimmed comparison (3 sentences a paper) would be longer than the cap.
    roomy = ExtractiveComposer(4, 90, 3, 2, flat_idf, compare_share=100.0).compare(items, CitationBook())
    assert roomy.count("\n- ") == 6
    assert (text.count("\n- ") < 6) == (answer_words(roomy) > share * abstracts)


def test_a_section_heading_gives_a_title_without_a_short_name_once() -> None:
    """"### Title [1]" then "*Title*" says the title twice; a short name's heading is followed by the title."""
    untitled = paper("Feature Imitation for Small Detectors", DISTILLER.sentences)
    book = CitationBook()
    text = ExtractiveComposer(4, 90, 3, 2, flat_idf, compare_share=100.0).compare(
        [evidence(PRUNER, [0.9] * 8), evidence(untitled, [0.9] * 8)], book)
    assert "### Feature Imitation for Small Detectors [2]\n\n- " in text
    assert text.count("*Feature Imitation for Small Detectors*") == 1  # in "Comparing ... and ...:" only
    assert f"### GradRule [1]\n*{PRUNER.title}*" in text


def test_abstracts_too_short_for_a_table_are_compared_without_one() -> None:
    tiny = [paper("TinyA: A", ["TinyA prunes detectors.", "It removes 40% of FLOPs."]),
            paper("TinyB: B", ["TinyB distils detectors.", "It is 2 times faster."])]
    book = CitationBook()
    text = ExtractiveComposer(4, 90, 3, 2, flat_idf).compare([evidence(p, [0.9, 0.8]) for p in tiny], book)
    assert "Side by side" not in text and verify(text, book.sources).ok
    assert {s for source in book.sources for s in source.sentences} <= {s for p in tiny for s in p.sentences
                                                                         if f"- {s}" in text}  # only what it shows
    assert text.count("\n- ") == 2  # the headings alone outgrow 16 words: one sentence each, as short as it gets


def test_without_room_for_the_table_the_sections_keep_their_sentences() -> None:
    # Five-sentence abstracts: the sections fit within the abstracts' length, sections and table do not.
    shorter = [paper(p.title, p.sentences[:5]) for p in (PRUNER, DISTILLER)]
    items = [evidence(p, [0.9, 0.8, 0.7, 0.6, 0.5]) for p in shorter]
    book = CitationBook()
    text = ExtractiveComposer(4, 90, 3, 2, flat_idf).compare(items, book)
    assert "Side by side" not in text and text.count("\n- ") == 6
    assert answer_words(text) <= sum(len(p.abstract.split()) for p in shorter)
    assert {s for source in book.sources for s in source.sentences} <= {s for p in shorter for s in p.sentences
                                                                         if f"- {s}" in text}


def test_the_side_by_side_table_says_what_the_sections_do_not() -> None:
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
    items = [evidence(PRUNER, scores), evidence(DISTILLER, scores)]
    book = CitationBook()
    text = ExtractiveComposer(4, 90, 3, 2, flat_idf, compare_share=100.0).compare(items, book)
    sections, table = text.split("**Side by side**")
    rows = {row.split("|")[1].strip(" *"): row.split("|")[2:4] for row in table.splitlines() if row.startswith("| **")}
    for column, item in enumerate(items):
        in_section = [s for s in item.paper.sentences if f"- {s}" in sections]
        assert len(in_section) == 3
        for role, label in (("problem", "Problem"), ("method", "Method"), ("result", "Results")):
            cell = rows[label][column]
            with_role = [s for i, s in enumerate(item.paper.sentences) if role in roles_of(i, s)]
            repeats = any(s[:50] in cell for s in in_section)
            # A cell repeats a sentence quoted above only when no other sentence of the paper has its role.
            assert not repeats or set(with_role) <= set(in_section), (label, cell)
    assert "outperforms magnitude pruning" in rows["Results"][0]  # the result the section left out


def test_no_sentence_fills_two_cells_of_one_papers_column() -> None:
    # Sentence 1 is both a problem ("observe the ... problem") and a result ("state-of-the-art"): it
    # may stand for one row only, and the row with nothing else to show says so.
    analyser = paper("CollapseFix: Nonlinearity for Language Models", [
        "Large language models grow in size and data.",
        "We first analyze state-of-the-art architectures and observe the feature collapse problem.",
        "We propose CollapseFix, which adds nonlinearity.",
        "A series activation function is then introduced, and an augmented shortcut is used as well.",
    ])
    other = paper("OtherNet: Another Model", [
        "Training large models is costly.", "We propose OtherNet, a cheaper design.",
        "OtherNet reaches 71% accuracy and outperforms earlier work.", "It needs 2 GPUs.",
    ])
    items = [evidence(analyser, [0.9, 0.8, 0.7, 0.6]), evidence(other, [0.9, 0.8, 0.7, 0.6])]
    book = CitationBook()
    text = ExtractiveComposer(4, 90, 1, 2, flat_idf, compare_share=100.0).compare(items, book)
    table = text.split("**Side by side**")[1]
    column = [row.split("|")[2].strip() for row in table.splitlines() if row.startswith("| **")]
    assert len(column) == 3 and len(set(column)) == 3, column
    assert verify(text, book.sources).ok


@pytest.mark.parametrize(("text", "method"), [
    ("A series activation function is then introduced, and an augmented shortcut is used.", True),
    ("The standard attention is used in most vision models today.", False),  # a use, not this paper's method
    ("PEPSI consists of a single shared encoding network and two parallel decoding paths.", True),
    ("We propose a new sampler.", True),
    ("Large language models grow in size and data.", False),
    ("The results show a 10% speed-up.", False),
])
def test_a_method_is_recognised_when_described_in_the_passive_or_by_its_parts(text: str, method: bool) -> None:
    assert ("method" in roles_of(3, text)) == method


def test_a_list_item_quotes_the_sentence_that_gives_the_papers_name() -> None:
    smoothing = paper("Adaptive Confidence Smoothing for Generalized Zero-Shot Learning", [
        "Generalized zero-shot learning (GZSL) classifies samples of classes seen and unseen in training.",
        "Training one model for both regimes at once is hard, and GZSL models are often biased.",
        "We propose to break the model into three modular components and to combine them consistently.",
        "On four standard benchmarks, adaptive confidence smoothing (COSMO) outperforms earlier work.",
        "COSMO is also the first model that closes the gap to generative models.",
        "COSMO offers a new view for developing zero-shot models.",
    ])
    names = {smoothing.id: {"gzsl", "cosmo"}}  # what the name index finds: a field's acronym and the method's
    composer = ExtractiveComposer(4, 90, 3, 2, flat_idf, lambda paper_id: names.get(paper_id, set()))
    assert composer.main_name(smoothing) == {"cosmo"}  # in three sentences; "GZSL" in two
    book = CitationBook()
    # The judge ranks the lead first, then the COSMO sentence, then the "we propose" sentence.
    text = composer.listing([evidence(smoothing, [0.9, 0.3, 0.5, 0.6, 0.1, 0.1])], book, "1 paper(s) match:")
    assert "(COSMO)" in text and "We propose" not in text and verify(text, book.sources).ok


def test_in_a_comparison_a_sentence_opening_with_the_papers_name_says_what_the_method_does() -> None:
    adapter = paper("Compactor: Low-Rank Hypercomplex Adapters", [
        "In this work, we propose Compactor, an adapter for fine-tuning large language models.",  # lead
        "Fine-tuning all weights of large models is costly and unstable in low-resource settings.",
        "Compactor inserts weight matrices computed as sums of Kronecker products of rank-one matrices.",
        "The code is available at https://example.org/compactor.",
    ])
    # The judge ranks the background above the mechanism, which has no "we propose" to give it a role.
    judged = evidence(adapter, [0.9, 0.5, 0.4, 0.3])
    own = frozenset({"compactor"})
    assert [s.index for s in answer_sentences(judged, 2, 90, own_names=own, name_as_subject=True)] == [0, 2]
    assert [s.index for s in answer_sentences(judged, 2, 90, own_names=own)] == [0, 1]  # a lookup's fill is unchanged


def test_a_comparison_section_has_its_own_word_budget() -> None:
    # Three 35-word sentences: a lookup's 90 words hold two, a comparison section's 120 all three.
    long = [f"Method{k} " + " ".join(f"word{k}x{i}" for i in range(34)) + "." for k in range(3)]
    pair = [paper("LongA: A", long), paper("LongB: B", [s.replace("Method", "Other") for s in long])]
    items = [evidence(p, [0.9, 0.8, 0.7]) for p in pair]
    for words, sentences in ((90, 2), (120, 3)):
        composer = ExtractiveComposer(4, 90, 3, 2, flat_idf, compare_share=100.0, compare_words=words)
        text = composer.compare(items, CitationBook())
        assert text.split("**Side by side**")[0].count("\n- ") == 2 * sentences


def test_a_part_naming_an_acronym_is_answered_by_the_sentence_that_spells_it_out() -> None:
    part = Part.of("what MRR change does it report", flat_idf)
    spelled = SentenceEvidence(0, "It improves from 34.4 to 35.1 Mean Reciprocal Rank.", 0.0, True)
    lowercase = SentenceEvidence(1, "It makes more robust retrieval possible in 2 settings.", 0.0, True)
    assert part.support(spelled) > part.support(lowercase) == 0.0


@pytest.mark.parametrize(("part", "answer", "other"), [
    ("how big is the plate", "Its sapphire disc is 505 mm across.", "Its sapphire disc is 3% thinner."),
    ("how cold is it kept", "It sits at 50 K inside the receiver.", "It sits at 3% of the receiver's volume."),
    ("how fast does it spin", "It turns at a constant 2 Hz.", "It turns with 3% less friction."),
    ("how long does training take", "It needs 30 hours on one GPU.", "It needs 3% of the GPU memory."),
])
def test_a_figure_in_the_units_of_how_big_cold_fast_or_long_answers_that_part(part: str, answer: str,
                                                                              other: str) -> None:
    """"How cold is it kept" is answered by "sits at 50 K": a figure in a unit of the asked dimension holds
    the dimension word, however the sentence words the rest; a figure in another unit does not."""
    asked = Part.of(part, flat_idf)
    assert asked.support(SentenceEvidence(0, answer, 0.0, True)) >= 0.25  # PART_SUPPORT: it answers the part
    assert asked.support(SentenceEvidence(1, other, 0.0, True)) == 0.0
