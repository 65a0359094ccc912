"""The evidence judge as properties over a small synthetic collection (tests/data/answering_papers.jsonl).

Fourteen abstracts in five separated topics: pruning object detectors (PruneDet, SparseNeck,
DistillPrune), pruning image classifiers (GradPrune, Kestrel, Osprey), object detection without
pruning (CenterPoint Sampling, QueryDETR, NightDrive), speech recognition (EchoASR, StreamCTC,
NoiseGuard) and molecules (MolFlow, BindScore). Each property is checked through `PaperChat.ask`
(and, where the claim is about the judge alone, through `TermDenseJudge.weigh/decide`) on a real
index: embedded Chroma and the packaged MiniLM encoder, built once for this module.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from answering_corpus import TITLES, indexed_service, short

from assistant.answer import Answer
from assistant.answering import condense
from assistant.answering.judge import TermDenseJudge, _measures, _near_figure
from assistant.answering.pipeline import ranked
from assistant.answering.plan import make_plan
from assistant.answering.retrieve import Candidates
from assistant.answering.types import Plan, Resolved
from assistant.chat import Conversation
from assistant.citations import CITATION, verify
from assistant.names import NameIndex
from assistant.service import PaperChat
from assistant.settings import Settings
from assistant.text import content_stems, english_share

PRUNED_DETECTORS = {"PruneDet", "SparseNeck", "DistillPrune"}  # pruning AND object detection
PRUNED_CLASSIFIERS = {"GradPrune", "Kestrel", "Osprey"}  # pruning, no detection
PLAIN_DETECTORS = {"CenterPoint Sampling", "QueryDETR", "NightDrive"}  # detection, no pruning
SPEECH = {"EchoASR", "StreamCTC", "NoiseGuard"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> PaperChat:
    return indexed_service(tmp_path_factory, "judge")



def cited(answer: Answer) -> list[str]:
    return [short(t) for t in answer.cited_titles]


def paper_id(service: PaperChat, name: str) -> str:
    [found] = [p.id for p in service.store.catalog.papers().values() if p.title == TITLES[name]]
    return found


def assert_citations_hold(service: PaperChat, answer: Answer) -> None:
    """Every [n] names a listed source, every source is cited, and each quote is in its own abstract."""
    check = verify(answer.text, answer.sources)
    assert check.ok, check.problems
    listed = [s.number for s in answer.sources]
    assert listed == list(range(1, len(listed) + 1))
    assert {int(n) for n in CITATION.findall(answer.text)} == set(listed)
    papers = service.store.catalog.papers()
    for source in answer.sources:
        assert source.sentences, f"[{source.number}] quotes nothing"
        assert all(sentence in papers[source.paper_id].abstract for sentence in source.sentences)


def plan_and_candidates(service: PaperChat, question: str) -> tuple[Plan, Candidates]:
    pipeline = service.pipeline
    resolved = condense.resolve(question, Conversation(), service.store.catalog.papers())
    candidates = pipeline.stages.retriever.for_turn(resolved)
    return make_plan(resolved, candidates, service.names, service.store.catalog.papers()), candidates


# ---- a paper that mentions X but never Y does not answer "X on Y" ----------------------------------
# (question, the paper it names, what that abstract never reports, another paper's figure for it)
NEVER_REPORTED = [
    ("What ImageNet top-1 accuracy does Kestrel reach?", "Kestrel", "ImageNet", "74.1%"),
    ("What word error rate does EchoASR reach on LibriSpeech?", "EchoASR", "LibriSpeech", "3.1%"),
    ("What AP does QueryDETR reach on Pascal VOC?", "QueryDETR", "VOC", "37.9"),
    ("What validity does MolFlow reach on GEOM-Drugs?", "MolFlow", "GEOM-Drugs", None),
    # A model no paper of the collection mentions at all: the named paper cannot state it either.
    ("What word error rate does EchoASR reach with a Whisper-v9 encoder?", "EchoASR", "Whisper-v9", None),
    # Initials that only happen to line up across words are no acronym written out: "converges in 12
    # epochs and reaches" is no CER, "EchoASR pretrains" no AP.
    ("What CER does QueryDETR reach?", "QueryDETR", "CER", None),
    ("What AP does EchoASR reach on Quechua?", "EchoASR", "AP", None),
]


@pytest.mark.parametrize("question, name, lacking, foreign_figure", NEVER_REPORTED)
def test_benchmark_the_abstract_never_names_gives_a_partial_answer(service: PaperChat, question: str, name: str,
                                                                   lacking: str, foreign_figure: str | None) -> None:
    answer = service.ask(question)
    assert answer.status == "partial", answer.text
    assert answer.abstained
    assert any(lacking in m for m in answer.missing) or f"does not report {lacking}" in answer.text, answer.missing
    assert cited(answer) == [name]  # a partial answer names the paper it is about
    assert answer.focus == [paper_id(service, name)]
    if foreign_figure is not None:
        assert foreign_figure not in answer.text  # and does not borrow another paper's figure
    assert_citations_hold(service, answer)


@pytest.mark.parametrize("question, name, figure", [
    ("What CIFAR-10 accuracy does Kestrel reach?", "Kestrel", "93.8%"),
    ("What word error rate does EchoASR reach on Quechua?", "EchoASR", "18.2%"),
    ("What AP does QueryDETR reach on COCO?", "QueryDETR", "43.5 AP"),
    ("What Pearson correlation does BindScore reach on PDBbind?", "BindScore", "0.83"),
    ("How many times faster than the original is the DistillPrune detector?", "DistillPrune", "2.1 times"),
    pytest.param("How many GPUs does BindScore need to screen a million compounds?", "BindScore", "single GPU"),
    # An acronym the abstract writes out in lowercase words ("signal-to-noise ratio") is stated.
    ("At what SNR does NoiseGuard lower the word error rate by 27%?", "NoiseGuard", "0 dB"),
])
def test_benchmark_the_abstract_names_is_answered_with_its_figure(service: PaperChat, question: str, name: str,
                                                                   figure: str) -> None:
    answer = service.ask(question)
    assert answer.status == "answered", (answer.missing, answer.text)
    assert not answer.abstained and answer.missing == []
    assert cited(answer) == [name]
    assert figure in answer.text
    assert_citations_hold(service, answer)


def test_judge_reports_the_missing_benchmark_per_paper(service: PaperChat) -> None:
    """The judge's own verdict: the named paper is chosen, and partial because its abstract lacks ImageNet."""
    judge = service.pipeline.stages.judge
    plan, candidates = plan_and_candidates(service, "What ImageNet top-1 accuracy does Kestrel reach?")
    evidence = judge.weigh(plan, candidates)
    by_name = {short(e.paper.title): e for e in evidence}
    assert any("ImageNet" in m for m in judge.detail(plan, by_name["Kestrel"]).missing)
    assert judge.detail(plan, by_name["GradPrune"]).missing == []  # GradPrune does report ImageNet top-1
    judgement = judge.decide(plan, evidence)
    assert judgement.status == "partial"
    assert [short(e.paper.title) for e in judgement.chosen] == ["Kestrel"]
    assert any("ImageNet" in m for m in judgement.missing)


# ---- a figure asked for that the abstract never gives ----------------------------------------------
@pytest.mark.parametrize("question, name", [
    ("How many times faster is Kestrel than iterative rewinding?", "Kestrel"),
    ("How much memory does MolFlow use?", "MolFlow"),
    # "BLEU" is too small a share of this question to count as a missing name; its figure is still asked.
    ("How does StreamCTC split the incoming audio into chunks for streaming recognition with chunked "
     "attention, how long does each chunk last, and what BLEU does it score?", "StreamCTC"),
    # Two named papers and "than": one paper's figure, measured against the other's; not a comparison.
    ("How many times faster than Osprey is Kestrel?", "Kestrel"),
    ("How much faster than Osprey is Kestrel?", "Kestrel"),
    ("What speedup over Osprey does Kestrel report?", "Kestrel"),  # the paper it asks about, not the first named
    # A count first ("how many languages"), then the measurement: the measurement is checked.
    ("How many languages does EchoASR cover, and how much faster does it train?", "EchoASR"),
    # What "how many" counts is a word the abstract never uses: nothing there counts it.
    ("How many training tokens was MolFlow trained on?", "MolFlow"),
    ("How many views does QueryDETR output per image?", "QueryDETR"),
])
def test_figure_the_abstract_never_gives_is_partial(service: PaperChat, question: str, name: str) -> None:
    answer = service.ask(question)
    assert answer.status == "partial", (answer.kind, answer.text[:300])
    assert answer.abstained and answer.missing
    assert paper_id(service, name) in answer.focus  # the paper asked about (a comparison may add the other)
    assert name in cited(answer)
    assert_citations_hold(service, answer)


# ---- a list keeps every paper that satisfies every facet, and none that satisfies one --------------
@pytest.mark.parametrize("question, expected", [
    ("Which papers prune object detectors?", PRUNED_DETECTORS),
    ("Any papers on pruning object detectors?", PRUNED_DETECTORS),
    ("Are there papers on pruning object detectors?", PRUNED_DETECTORS),
    pytest.param("Which papers apply pruning to object detection?", PRUNED_DETECTORS,
                 marks=pytest.mark.xfail(strict=True, reason="DistillPrune (prunes a two-stage object detector) "
                                         "is left out: it says 'detector', not 'detection', and falls under the "
                                         "list's relative cut-off")),
    ("List all work that prunes object detectors.", PRUNED_DETECTORS),
    ("Which papers prune image classifiers?", PRUNED_CLASSIFIERS),
    ("Which papers are about speech recognition?", SPEECH),
    pytest.param("Which papers are about object detection?", PRUNED_DETECTORS | PLAIN_DETECTORS,
                 marks=pytest.mark.xfail(strict=True, reason="DistillPrune ('two-stage object detector') is left "
                                         "out: 'detector' does not match the stem of 'detection', and its relevance "
                                         "falls under the list's relative cut-off")),
])
def test_list_keeps_exactly_the_papers_that_satisfy_every_facet(service: PaperChat, question: str,
                                                                expected: set[str]) -> None:
    answer = service.ask(question)
    assert answer.kind == "list" and answer.status == "answered"
    listed = set(cited(answer))
    assert listed >= expected, f"left out: {sorted(expected - listed)}"
    assert listed <= expected, f"one-facet papers listed: {sorted(listed - expected)}"
    assert {paper_id(service, n) for n in expected} == set(answer.focus)
    assert_citations_hold(service, answer)


def test_list_decision_of_the_judge_itself(service: PaperChat) -> None:
    """weigh() + decide() alone: the both-facet papers are chosen and each holds both facets' terms."""
    judge = service.pipeline.stages.judge
    plan, candidates = plan_and_candidates(service, "Which papers prune object detectors?")
    assert plan.intent == "list"
    judgement = judge.decide(plan, judge.weigh(plan, candidates))
    assert judgement.status == "answered"
    assert {short(e.paper.title) for e in judgement.chosen} == PRUNED_DETECTORS


def test_an_answer_reports_the_chosen_papers_first_and_top_k_retrieved_in_all(service: PaperChat) -> None:
    # The judge weighs the whole candidate pool (all 14 papers here), but an Answer, which every channel
    # sends on, reports papers_top_k of them: the chosen first, then the retrieval ranking.
    top_k = service.settings.papers_top_k
    assert top_k < len(TITLES) <= service.settings.candidate_pool
    answer = service.ask("Which papers prune object detectors?")
    ids = [r.paper_id for r in answer.retrieved]
    assert len(ids) == top_k == len(set(ids))
    assert set(ids[: len(answer.focus)]) == set(answer.focus) == {paper_id(service, n) for n in PRUNED_DETECTORS}
    candidates = plan_and_candidates(service, "Which papers prune object detectors?")[1]
    rest = [h.paper.id for h in candidates.hits if h.paper.id not in answer.focus]
    assert ids[len(answer.focus):] == rest[: top_k - len(answer.focus)]
    # A list longer than top_k still reports every paper it chose.
    chosen = service.pipeline.stages.judge.weigh(*plan_and_candidates(service, "pruning"))[:5]
    assert [r.paper_id for r in ranked(candidates.hits, chosen, 2)] == [e.paper.id for e in chosen]


# ---- a lookup chooses the paper that answers, not the first retrieved ------------------------------
PARAPHRASES = [
    ("Which method learns a different pruning threshold for every layer of the network?", "Kestrel"),
    ("What method makes a thinned two-stage detector mimic the intermediate representations of the full model?",
     "DistillPrune"),
    ("Is there a method that creates three-dimensional molecules by transporting noise to atom positions?",
     "MolFlow"),
    ("Is there a method that transcribes speech while the person is still talking?", "StreamCTC"),
    ("Which work rewinds the surviving weights to an early epoch after each pruning round?", "Osprey"),
    ("What approach removes weights before any training by looking at how gradients flow?", "GradPrune"),
    ("Which paper compresses the feature pyramid and the box prediction layers rather than the backbone?",
     "SparseNeck"),
    ("Which work teaches a recognizer to cope with street and cafe noise?", "NoiseGuard"),
    ("Which model learns from thousands of hours of unlabeled audio before seeing one hour of transcripts?",
     "EchoASR"),
    ("What ranks drug candidates by how strongly they attach to a protein?", "BindScore"),
    pytest.param("Which approach decides per layer how small a weight must be before it is dropped?", "Kestrel",
                 marks=pytest.mark.xfail(strict=True, reason="refused as off-topic: Kestrel's best chunk similarity "
                                         "is 0.26 (< weak_similarity 0.3) and its term coverage 0.20")),
]


# A lookup that names two papers is about the one the rest of the question fits, whichever comes first:
# "Unlike EchoASR, ..." names a paper only to set it aside.
@pytest.mark.parametrize(("question", "name"), [
    ("Unlike EchoASR, how much does NoiseGuard lower the word error rate at 0 dB signal-to-noise ratio?",
     "NoiseGuard"),
    ("Besides NoiseGuard, how many hours of untranscribed speech does EchoASR pretrain on?", "EchoASR"),
])
def test_a_lookup_naming_two_papers_answers_about_the_one_it_asks_about(service: PaperChat, question: str,
                                                                         name: str) -> None:
    plan, _ = plan_and_candidates(service, question)
    assert plan.intent == "lookup" and len(plan.named) == 2
    answer = service.ask(question)
    assert answer.status == "answered" and cited(answer) == [name]
    assert_citations_hold(service, answer)


@pytest.mark.parametrize("question, name", PARAPHRASES)
def test_lookup_by_paraphrase_picks_the_described_paper(service: PaperChat, question: str, name: str) -> None:
    answer = service.ask(question)
    assert answer.kind == "lookup" and answer.status == "answered", answer.text[:300]
    assert cited(answer) == [name]
    assert_citations_hold(service, answer)


@pytest.mark.parametrize("question, name", [p for p in PARAPHRASES if not hasattr(p, "marks")])
def test_judge_choice_does_not_depend_on_retrieval_order(service: PaperChat, question: str, name: str) -> None:
    """The described paper is put last among the candidates; the judge must still choose it."""
    judge = service.pipeline.stages.judge
    plan, candidates = plan_and_candidates(service, question)
    target = paper_id(service, name)
    hits = candidates.hits[: judge.settings.pool]
    assert target in [h.paper.id for h in hits], "the paper must at least be among the candidates"
    reordered = [h for h in reversed(hits) if h.paper.id != target] + [h for h in hits if h.paper.id == target]
    assert reordered[0].paper.id != target
    shuffled = Candidates(candidates.query, reordered, candidates.named)
    judgement = judge.decide(plan, judge.weigh(plan, shuffled))
    assert judgement.status == "answered"
    assert [e.paper.id for e in judgement.chosen] == [target]


# ---- off-topic questions are refused ----------------------------------------------------------------
@pytest.mark.parametrize("question", [
    "What is the capital of France?",
    "What is the best pasta recipe?",
    "Who won the 2018 World Cup?",
    "How do I bake sourdough bread?",
    "What is the GDP of Germany?",
])
def test_off_topic_question_is_refused(service: PaperChat, question: str) -> None:
    answer = service.ask(question)
    assert answer.status == "refused" and answer.kind == "refusal"
    assert answer.abstained
    assert answer.sources == [] and answer.focus == []
    assert not CITATION.findall(answer.text)
    plan, candidates = plan_and_candidates(service, question)
    judge = service.pipeline.stages.judge
    judgement = judge.decide(plan, judge.weigh(plan, candidates))
    assert judgement.status == "refused" and judgement.chosen == []


def test_on_topic_control_is_not_refused(service: PaperChat) -> None:
    """The refusal above is not a judge that refuses everything."""
    answer = service.ask("What does MolFlow generate?")
    assert answer.status == "answered" and cited(answer) == ["MolFlow"]


# ---- every answer's citations verify -----------------------------------------------------------------
@pytest.mark.parametrize("question", [
    "Compare PruneDet and SparseNeck",
    "Summarize QueryDETR",
    "How many papers are about speech recognition?",
    "What does the collection say about pruning?",
    "What does NightDrive measure?",
    "What Pearson correlation does BindScore reach on CASF-2016?",
])
def test_every_answer_kind_cites_verbatim(service: PaperChat, question: str) -> None:
    answer = service.ask(question)
    assert answer.status != "refused" and answer.sources
    assert_citations_hold(service, answer)


# ---- an asked figure is measured on what the question names ----------------------------------------
DEEPLAB = ("Our system reaches 79.7% mIOU in the test set of PASCAL VOC-2012, and advances the results on three "
           "other datasets: PASCAL-Context, PASCAL-Person-Part, and Cityscapes.")


@pytest.mark.parametrize(("sentence", "anchor", "near"), [
    (DEEPLAB, "cityscapes", False),  # a count ("three") is no figure for it, and 79.7 is 17 words away
    (DEEPLAB, "pascal voc 2012", True),
    ("Results on CIFAR-100 improve over the baseline.", "cifar 100", False),  # a name's digits are no figure
    ("RetinaNet+PVT achieves 40.4 AP on the COCO dataset.", "retinanet", True),  # "+" separates words
    ("On Cityscapes, the lightweight model with only 1.2M parameters reaches 70.4% mIoU.", "cityscapes", True),
])
def test_a_figure_counts_for_a_benchmark_only_near_it(sentence: str, anchor: str, near: bool) -> None:
    assert _near_figure(sentence, [anchor], 12) == near


def test_the_figure_is_tied_to_the_names_of_the_part_that_asks_for_it() -> None:
    question = ("How did the follow-up to the IO-aware attention kernel split the work, and what fraction of A100 "
                "peak throughput does it reach on Cityscapes?")
    plan = make_plan(Resolved(question, question), Candidates(question, []), NameIndex([]), {})
    assert plan.ask.quantity == "fraction of A100 peak throughput"
    # "IO-aware" describes the paper in another part; the fraction is measured "of A100" and "on Cityscapes".
    assert TermDenseJudge._anchors(plan, set()) == ["a100", "cityscapes"]


COCO = {"PruneDet", "SparseNeck", "DistillPrune", "CenterPoint Sampling", "QueryDETR"}  # every abstract naming COCO


@pytest.mark.parametrize("question", ["Which papers use COCO?", "Papers on COCO?"])
def test_a_list_of_papers_on_a_named_benchmark_keeps_every_paper_stating_it(service: PaperChat, question: str) -> None:
    """The name carries the topic: every paper stating it belongs, however far its wording is from the
    question's (by meaning alone, only QueryDETR and CenterPoint Sampling pass), and a paper on the same
    task that never names it (NightDrive) does not. (The relative cut-off still applies.)"""
    answer = service.ask(question)
    assert answer.kind == "list" and answer.status == "answered", answer.text[:200]
    assert set(cited(answer)) == COCO
    assert_citations_hold(service, answer)


def test_a_name_used_in_passing_does_not_decide_a_list(service: PaperChat) -> None:
    """"AP" carries little of "pruning detectors without losing AP": the list is still the pruned detectors."""
    judge = service.pipeline.stages.judge
    plan, _ = plan_and_candidates(service, "Which papers prune object detectors without losing AP?")
    assert plan.ask.specific and not judge._names_topic(plan)


@pytest.mark.parametrize("sentence, measurement, measures", [
    ("We evaluate zero-shot generalization across 13 diverse datasets.", "zero-shot accuracy", False),
    ("NightDrive is a benchmark of 18,000 images recorded after sunset.", "mAP", False),
    ("We evaluate on twelve language pairs.", "BLEU", False),
    ("We evaluate zero-shot generalization across 13 diverse datasets.", "datasets", True),  # what it counts
    ("It reaches 93.8% accuracy on 5 datasets.", "accuracy", True),
    ("On a Jetson board the pruned detector runs at 41 frames per second.", "speed", True),  # a rate
    ("Detectors trained on daytime data lose up to 41% of their AP.", "AP", True),
])
def test_a_number_that_counts_other_things_is_no_figure_for_the_measurement(sentence: str, measurement: str,
                                                                            measures: bool) -> None:
    assert _measures(sentence, set(content_stems(measurement))) is measures


@pytest.mark.parametrize("similarity, status", [(None, "answered"), (0.40, "refused")])
def test_a_list_close_in_meaning_is_not_refused_for_holding_few_of_the_questions_words(
        service: PaperChat, similarity: float | None, status: str) -> None:
    # A long question explains itself in words the abstracts need not use, so no candidate holds
    # min_list_coverage of them; its best candidate, close in meaning, still makes it answerable.
    # Without that closeness (0.40 < on_topic_similarity) the low coverage refuses it.
    judge = service.pipeline.stages.judge
    plan, candidates = plan_and_candidates(service, "Which papers prune object detectors?")
    evidence = judge.weigh(plan, candidates)
    settings = judge.settings
    assert judge.similarity(evidence[0]) >= settings.on_topic_similarity
    for item in evidence:
        meaning = judge.similarity(item) if similarity is None else similarity
        item.coverage = min(item.coverage, (settings.weak_coverage + settings.min_list_coverage) / 2)
        item.relevance = meaning + settings.coverage_weight * item.coverage
    judgement = judge.decide(plan, evidence)
    assert judgement.status == status
    if status == "answered":
        assert {short(e.paper.title) for e in judgement.chosen} >= {short(evidence[0].paper.title)}


@pytest.mark.parametrize("similarity, kept", [(0.25, True), (0.15, False)])
def test_a_list_member_far_in_meaning_is_kept_when_it_holds_the_topics_words(
        service: PaperChat, similarity: float, kept: bool) -> None:
    # A paper that says "we benchmark against lottery-ticket pruning" in one sentence is far in meaning
    # from the question as a whole, but holds most of its words: beside a best candidate on topic, it
    # belongs in the list. Too far (below member_similarity), it does not, whatever its words.
    judge = service.pipeline.stages.judge
    plan, candidates = plan_and_candidates(service, "Which papers prune object detectors?")
    evidence = judge.weigh(plan, candidates)
    w = judge.settings.coverage_weight
    by_name = {short(e.paper.title): e for e in evidence}

    def set_scores(name: str, meaning: float, coverage: float) -> None:
        by_name[name].coverage = coverage
        by_name[name].relevance = meaning + w * coverage

    for name in by_name:  # the rest far below the list's cut-off
        set_scores(name, 0.2, 0.0)
    set_scores("PruneDet", 0.46, 0.6)  # the best candidate, on topic: relevance 0.76, cut-off 0.57
    set_scores("DistillPrune", similarity, 0.9)  # relevance 0.70 or 0.60: above the cut-off either way
    member = by_name["DistillPrune"]
    assert not judge.on_topic(member) and member.relevance >= judge.settings.list_relative * 0.76
    judgement = judge.decide(plan, sorted(evidence, key=lambda e: -e.relevance))
    assert short(judgement.chosen[0].paper.title) == "PruneDet"
    assert (member in judgement.chosen) == kept


def service_over(tmp_path: Path, papers: list[dict[str, str]]) -> PaperChat:
    """A service with just these papers (title, abstract) ingested."""
    from conftest import make_settings

    corpus = tmp_path / "papers.jsonl"
    corpus.write_text("\n".join(json.dumps(p) for p in papers) + "\n", encoding="utf-8")
    service = PaperChat(make_settings(tmp_path / "data", [corpus]))
    service.ingest()
    return service


def test_an_acronym_one_abstract_defines_in_passing_does_not_pick_the_paper(tmp_path: Path) -> None:
    # "Singular Value Decomposition (SVD)" makes SVD a name of QGal's abstract; a question using SVD as
    # a term ("built from the matrix's own SVD") is about the paper that does what it describes.
    service = service_over(tmp_path, [
        {"title": "QGal: Quantized Gradient Projection for Memory-Efficient Training",
         "abstract": "Gradient projection methods rely on Singular Value Decomposition (SVD) to find a subspace. "
                     "QGal quantizes the projection and updates the subspace less often, saving memory."},
        {"title": "SVFT: Fine-Tuning with Singular Vectors",
         "abstract": "SVFT updates a weight matrix as a sparse combination of outer products of its own singular "
                     "vectors, and trains only the combination coefficients. It recovers 96% of full fine-tuning "
                     "performance while training 0.006% of the parameters."},
        {"title": "BindScore: Predicting Binding Affinity",
         "abstract": "BindScore predicts protein-ligand binding, with a lower Root Mean Square Error (RMSE) than "
                     "docking scores."},
    ])
    question = ("Has anyone made the fine-tuning weight update a sparse mix of rank-one terms built from the matrix's "
                "own SVD, training only the mixing coefficients?")
    assert [m.key for m in service.names.mentions(question)] == ["svd"]  # the index does take it for a name
    answer = service.ask(question)
    assert cited(answer) == ["SVFT"]
    assert cited(service.ask("How does QGal use the SVD?")) == ["QGal"]  # named by its title: still QGal
    # Two such acronyms are no two sides of a comparison: the question is about the paper it describes.
    question = ("Which fine-tuning method trains only coefficients over the weight's own singular vectors, and how "
                "does it compare with a plain SVD in RMSE?")
    assert len(plan_and_candidates(service, question)[0].named) == 2  # both acronyms name a paper
    answer = service.ask(question)
    assert answer.kind == "lookup" and cited(answer) == ["SVFT"], answer.text
    # One paper named by its title and one by such an acronym, joined only by "and": a question about the first.
    question = "How many parameters does SVFT train, and what RMSE does it reach?"
    assert len(plan_and_candidates(service, question)[0].named) == 2
    answer = service.ask(question)
    assert cited(answer) == ["SVFT"], answer.text


@pytest.mark.parametrize("question, refused", [
    # The user's setting, before a question asking whether some paper exists: not what is asked.
    ("Some background: our robots run FooBarNet-7 on tiny chips. Is there work that prunes image classifiers "
     "before any training?", False),
    ("What accuracy does FooBarNet-7 reach on CIFAR-10?", True),  # asked about: refused
])
def test_an_unknown_name_in_the_context_of_is_there_work_does_not_refuse(service: PaperChat, question: str,
                                                                         refused: bool) -> None:
    assert service.names.unknown_names(question) == ["FooBarNet-7"]
    answer = service.ask(question)
    assert (answer.status == "refused") is refused, answer.text
    if not refused:
        assert cited(answer) == ["GradPrune"], answer.text


@pytest.mark.parametrize("question, name", [
    # The context names Kestrel; the question asks whether another paper exists.
    ("We tried Kestrel, but it needs a trained dense network first, which is too costly for us. Is there a method "
     "that prunes image classifiers before any training?", "GradPrune"),
    # Controls: a name in the asking sentence, or a pronoun there, keeps the named paper the subject.
    ("Is there a Kestrel result on CIFAR-10?", "Kestrel"),
    ("I read the Kestrel paper. Is there an accuracy figure for it on CIFAR-10?", "Kestrel"),
])
def test_a_paper_named_only_in_the_context_of_is_there_a_question_is_not_the_answer(
        service: PaperChat, question: str, name: str) -> None:
    answer = service.ask(question)
    assert [short(t) for t in answer.cited_titles] == [name], answer.text


# ---- a comparison side given by description, not by name ------------------------------------------
@pytest.mark.parametrize(("question", "papers"), [
    ("Kestrel vs the pruning paper that rewinds the remaining weights to their early values: how does each "
     "decide which weights to remove?", {"Kestrel", "Osprey"}),
    ("Which of EchoASR and the paper that mixes recorded background noise into the training audio needs less "
     "transcribed speech?", {"EchoASR", "NoiseGuard"}),
    ("Two speech papers: the one on streaming recognition with chunked attention, and the one that pretrains "
     "on untranscribed speech. What does each report?", {"StreamCTC", "EchoASR"}),
])
def test_a_comparison_side_given_by_description_is_the_paper_that_fits_it(
        service: PaperChat, question: str, papers: set[str]) -> None:
    answer = service.ask(question)
    assert answer.kind == "compare" and set(cited(answer)) == papers
    assert_citations_hold(service, answer)


def test_a_description_the_named_paper_fits_best_is_its_own_baseline(service: PaperChat) -> None:
    """"The speech recognition model trained on clean speech" fits StreamCTC and EchoASR too, but NoiseGuard,
    whose abstract measures against it, best: it is what NoiseGuard's figure is compared with."""
    answer = service.ask("How much does NoiseGuard's word error rate drop compared with the speech recognition "
                         "model trained on clean speech?")
    assert answer.kind == "lookup" and cited(answer) == ["NoiseGuard"], answer.text
    assert "27%" in answer.text


def test_the_paper_chosen_for_one_described_side_does_not_block_the_other(service: PaperChat) -> None:
    """Only a paper the question names can be a side's own baseline: StreamCTC, chosen for the first
    description, fits the second one a little better than EchoASR does, and EchoASR is still that side."""
    judge = service.pipeline.stages.judge
    plan, candidates = plan_and_candidates(
        service, "Two speech papers: the one on streaming recognition with chunked attention, and the one that "
                 "pretrains on untranscribed speech. What does each report?")
    assert len(plan.descriptions) == 2 and not plan.named
    evidence = judge.weigh(plan, candidates)
    for item in evidence:
        item.side_fit = {"StreamCTC": (1.0, 0.95), "EchoASR": (0.5, 0.9)}.get(short(item.paper.title), (0.2, 0.2))
    judgement = judge.decide(plan, evidence)
    assert [short(e.paper.title) for e in judgement.chosen] == ["StreamCTC", "EchoASR"]


def test_a_comparison_is_topped_up_only_with_a_paper_nearly_as_relevant_as_the_best(service: PaperChat) -> None:
    """"Compare the two ..." names no paper: the second is the next candidate, when it is about as relevant as
    the best (as a list's members are); one far behind is no second paper, and the question is a lookup."""
    judge = service.pipeline.stages.judge
    plan, candidates = plan_and_candidates(service, "Compare the two speech recognition papers: what does each "
                                                    "report?")
    assert plan.intent == "compare" and not plan.named and plan.count == 2
    for second, kind in ((0.9, 2), (0.5, 1)):
        evidence = judge.weigh(plan, candidates)
        for rank, item in enumerate(evidence):
            item.relevance = 1.0 if rank == 0 else second if rank == 1 else 0.1
        judgement = judge.decide(plan, evidence)
        assert len(judgement.chosen) == kind, (second, [e.paper.title for e in judgement.chosen])
        assert bool(judgement.notices) == (kind == 1)  # the reader is told only one paper fits


@pytest.mark.parametrize(("question", "contrasts"), [
    ("How does EchoASR differ from NoiseGuard?", True),
    ("Compare EchoASR and NoiseGuard.", True),
    ("What does each of EchoASR and NoiseGuard report?", True),
    # a paper that says it beats a baseline sets nothing against another paper
    ("EchoASR says it beats a model trained from scratch; what word error rate does it reach?", False),
    ("Is EchoASR better than a recognizer trained from scratch?", False),
])
def test_only_contrast_words_say_a_question_compares(service: PaperChat, question: str, contrasts: bool) -> None:
    """A paper named only in passing (`_weakly_named`) stays in a comparison when the question says it compares;
    "beats" and "better than" may measure one paper against a baseline its abstract names."""
    plan, _ = plan_and_candidates(service, question)
    assert plan.contrasts is contrasts


def test_a_description_no_paper_fits_is_no_side_of_a_comparison(service: PaperChat) -> None:
    """Nothing in the collection is about robot locomotion: the question is answered about Kestrel."""
    answer = service.ask("Kestrel vs the reinforcement learning paper for legged robot locomotion: how does "
                         "each one train?")
    assert answer.kind == "lookup" and cited(answer) == ["Kestrel"]


# ---- a question in English about what no paper mentions is off topic, not in another language -------
@pytest.mark.parametrize(("question", "english"), [
    ("What's the best way to get rid of limescale in a kettle without buying a commercial descaler?", True),
    ("how long should I steep green tea so it doesn't get bitter?", True),
    ("What inference speedup does ExFlow get on Mixtral 8x7B?", True),
    ("Welche Methoden zur Quantisierung großer Sprachmodelle gibt es in der Sammlung?", False),
    ("Quelles méthodes de quantification des grands modèles de langage existe-t-il ?", False),
    ("¿Qué optimiza ZeRO++ en la comunicación?", False),
    ("ZeRO 是什么？", False),
])
def test_a_question_in_english_is_told_from_one_in_another_language(question: str, english: bool) -> None:
    assert (english_share(question) >= Settings().english_share) == english


def test_an_english_question_about_what_no_paper_mentions_is_refused(service: PaperChat) -> None:
    """Its words occur in no paper, as a German question's would, but it is English: matched by meaning
    alone it would take the nearest abstract for an answer."""
    question = "What's the best way to get rid of limescale in a kettle without buying a commercial descaler?"
    assert not service.pipeline.stages.judge.is_foreign(question)
    answer = service.ask(question)
    assert answer.status == "refused" and answer.sources == []


def test_how_that_compares_with_a_name_another_abstract_uses_adds_no_paper(service: PaperChat) -> None:
    """"how does that compare with the cost of Faster R-CNN": DistillPrune mentions Faster R-CNN, but is not
    the other side of the question; "that" is QueryDETR's figure."""
    answer = service.ask("How many epochs does QueryDETR take to converge, and how does that compare with the "
                         "cost of Faster R-CNN?")
    assert answer.kind == "lookup" and cited(answer) == ["QueryDETR"], answer.text


@pytest.mark.parametrize("question, status", [
    # A quoted phrase is stated by a sentence that holds its words in any form ("learns ... threshold").
    ("What does Kestrel's 'learned threshold' do?", "answered"),
    # One content word of a longer quote is too little to go by: not every sentence with "threshold" states it.
    ("What does Kestrel say about 'the thresholds'?", "partial"),
])
def test_a_quoted_phrase_is_stated_by_a_sentence_holding_its_words(service: PaperChat, question: str,
                                                                    status: str) -> None:
    answer = service.ask(question)
    assert answer.status == status and cited(answer) == ["Kestrel"], (answer.missing, answer.text)


@pytest.mark.parametrize("question", ["Besides the median emission latency, what else does StreamCTC report?",
                                      "Apart from its emission latency, what does StreamCTC report?"])
def test_what_the_question_takes_as_known_does_not_lead_the_answer(service: PaperChat, question: str) -> None:
    """"Besides X, what else ...": the sentence that states X is not the answer's lead."""
    answer = service.ask(question)
    assert cited(answer) == ["StreamCTC"]
    lead = answer.text.split("\n\n", 1)[1]
    assert not lead.startswith("StreamCTC keeps the median emission latency"), lead


def test_how_many_params_is_answered_by_an_abstract_that_writes_parameters(service: PaperChat) -> None:
    """A clipped word ("params") counts as the abstract's full one ("parameters"): not a partial answer."""
    answer = service.ask("How many params of the RetinaNet detector does SparseNeck prune?")
    assert answer.status == "answered" and cited(answer) == ["SparseNeck"], (answer.status, answer.missing)
    assert "45%" in answer.text


@pytest.mark.parametrize(("term", "abstract", "stated"), [
    ("day-10", "Specifically, on the 10th day, the error drops.", True),
    ("day-10", "At day 10 the error drops.", True),
    ("epoch-3", "It converges after 3 epochs.", True),
    ("day-10", "Over ten days the error drops.", False),
    ("day-10", "On day 1, 10 runs fail.", False),
])
def test_a_numbered_word_is_stated_in_another_order(service: PaperChat, term: str, abstract: str,
                                                    stated: bool) -> None:
    """"day-10" of a question is "the 10th day" of an abstract: not a missing specific."""
    from assistant.store import StoredPaper

    paper = StoredPaper("numbered", "A Forecasting Model", abstract, [], None, None, [], "numbered", 1)
    assert service.pipeline.stages.judge._stated(paper)(term) is stated


def test_a_question_acronym_is_held_by_an_abstract_that_writes_it_out(tmp_path: Path) -> None:
    # "an RL controller" asks for the paper whose abstract says "reinforcement learning based controller":
    # the words the collection defines RL as ("deep reinforcement learning (RL)") count as the acronym
    # toward that paper's term coverage. Words whose initials merely spell it ("rapid learning") do not.
    search = ("finds graph network architectures with {} based controller and keeps shared weights stable across "
              "candidate architectures.")
    service = service_over(tmp_path, [
        {"title": "GraphSearch: Architecture Search for Graph Networks",
         "abstract": "GraphSearch " + search.format("a reinforcement learning")},
        {"title": "ShortSearch: Architecture Search for Graph Networks",
         "abstract": "ShortSearch " + search.format("an RL")},
        {"title": "QuickSearch: Architecture Search for Graph Networks",
         "abstract": "QuickSearch " + search.format("a rapid learning")},
        {"title": "PolicyNotes: Policy Gradients for Agents",
         "abstract": "Deep reinforcement learning (RL) trains agents from rewards; PolicyNotes reviews policy "
                     "gradients."},
    ])
    assert service.names.expansions_of("RL") == {"reinforcement learning"}
    judge = service.pipeline.stages.judge
    plan, candidates = plan_and_candidates(service, "Which search uses an RL controller for graph networks?")
    coverage = {e.paper.title.split(":")[0]: e.coverage for e in judge.weigh(plan, candidates)}
    assert coverage["GraphSearch"] == pytest.approx(coverage["ShortSearch"])
    assert coverage["QuickSearch"] < coverage["GraphSearch"]


@pytest.mark.parametrize("acronym, before, phrase", [
    ("RL", "Value functions are a central component of deep reinforcement learning", "reinforcement learning"),
    ("TTA", "We study test-time adaptation", "test-time adaptation"),
    ("LLMs", "The rise of Large Language Models", "large language models"),
    ("SR", "We report results on the benchmark", ""),  # nothing before it spells SR
])
def test_the_words_an_abstract_defines_an_acronym_as(acronym: str, before: str, phrase: str) -> None:
    from assistant.names import definition

    assert definition(acronym, before) == phrase
