"""Intent: each answer kind in several phrasings, by `plan.intent_of` alone and through `PaperChat.ask`.

`intent_of` is checked on the question's form with a given count of named papers (so a failure
there is the form's reading, not name detection); `ask` runs the whole pipeline on the synthetic
collection of tests/data/answering_papers.jsonl (see tests/test_judge.py for its topics), where the
papers must also be named, found and listed correctly.
"""

from __future__ import annotations

import re

import pytest
from answering_corpus import indexed_service

from assistant.answer import Answer
from assistant.answering.plan import (
    asked_for,
    asking_part,
    compare_count,
    described_other_side,
    described_sides,
    intent_of,
    make_plan,
    measured_names,
    measurement,
    topic_of,
)
from assistant.answering.retrieve import CandidateRetriever, Candidates
from assistant.answering.types import Resolved
from assistant.citations import verify
from assistant.names import NameIndex, NameMatch, bare_name
from assistant.retrieval import PaperHit
from assistant.service import PaperChat
from assistant.store import StoredPaper

SPEECH = {"EchoASR", "StreamCTC", "NoiseGuard"}
PRUNED_DETECTORS = {"PruneDet", "SparseNeck", "DistillPrune"}

LONG_CONTEXT = (
    "I have been reading a lot about speech recognition lately, and I could not find anything useful about "
    "noisy environments such as cafes and streets in the papers I know. My own recognizer works well in a quiet "
    "office but falls apart outdoors. Is there a method that makes a recognizer robust to background noise?"
)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> PaperChat:
    return indexed_service(tmp_path_factory, "intent")


def cited(answer: Answer) -> list[str]:
    return [t.split(":", 1)[0] for t in answer.cited_titles]


def form(question: str, named: int = 0) -> str:
    return intent_of(question, named, Resolved(question, question))[0]


# ---- the form alone -----------------------------------------------------------------------------------
LIST_FORMS = [
    "Which papers use self-supervised pretraining for speech recognition?",
    "List all work that prunes object detectors.",
    "Any papers on speech recognition?",
    "Give me everything on molecule generation.",
    "Is there anything here on speech recognition? I want all of it.",
    "Anything where a detector is pruned channel by channel and only the kept channels get fine-tuned?",
    "anything with pruned detectors?",
    "How many papers are about object detection?",
    "I'm writing a related-work section on network pruning. Which ones are there?",
    "papers on pruning object detectors",
    "which papers do speech recognition",
    "list all work on speech recognition",
    "everything about speech recognition please",
    "Are there papers on pruning object detectors?",
    pytest.param("any work on speech recognition?"),
    pytest.param("speech recognition papers?"),
    "Which LoRA-style fine-tuning methods adapt the rank of each weight matrix?",  # methods as the subject
    "What pruning approaches keep detection accuracy?",
    "Which detection papers report on COCO?",  # a plural object after a word or two
    "Are there any detectors in here whose backbone is pruned?",  # "are there": several, whatever the noun
    "Were there speech recognizers trained without labels?",
    "What does the collection have on speech recognition: robustness, streaming or labels?",
    "what do you have on pruning object detectors",
    "how many pre-trained models for speech recognition are in the collection? name them",  # a count of its holdings
    "How many pruning methods for detectors are here?",
    "LoRA variants that learn how much rank each weight matrix gets during training — give me all",
    "Can you list all papers on speech recognition?",
    "list the work that analyses or redesigns pruning for object detectors",  # "work": a body of work
    "Please list research on speech recognition.",
]


@pytest.mark.parametrize("question", LIST_FORMS)
def test_list_forms(question: str) -> None:
    assert intent_of(question, 0, Resolved(question, question)) == ("list", True)


@pytest.mark.parametrize(("question", "kind"), [
    ("Compare the two papers on streaming speech recognition", "compare"),
    ("Contrast the two object-detector pruning studies", "compare"),
    ("Can you compare both speech recognition papers?", "compare"),
    ("Which papers compare two pruning methods?", "list"),  # papers that compare
    ("Which papers compare both Kestrel and Osprey?", "list"),
])
def test_a_request_to_compare_a_number_of_papers_is_a_comparison(question: str, kind: str) -> None:
    assert form(question) == kind


@pytest.mark.parametrize("question", [
    "Does Kestrel do anything with the thresholds of the first layer?",  # a paper's own doing
    "Did EchoASR try anything using the labeled hour?",
    "Which paper uses two experts, one for vision, the other for language?",  # one model's parts
])
def test_anything_and_one_or_the_other_inside_a_question_about_one_paper(question: str) -> None:
    sides = described_sides(question, [], NameIndex([]))
    assert sides == () and intent_of(question, 0, Resolved(question, question), len(sides))[0] == "lookup"


@pytest.mark.parametrize("question", [
    "Compare Foo and Bar",
    "Foo vs Bar: which prunes more weights?",
    "Foo or Bar: which one keeps more accuracy?",
    "Does Foo beat Bar?",
    "does Foo or 'prune everything everywhere' keep more accuracy?",  # a quoted title's words are not the form
    "How is Foo different from Bar?",
    "Foo versus Bar",
    "compare foo and bar",
])
def test_comparison_forms_with_two_named_papers(question: str) -> None:
    assert form(question, named=2) == "compare"


@pytest.mark.parametrize("question", [
    "Is there a method that makes speech recognition robust to background noise?",
    "Is there a paper about pruning object detectors?",
    "Which paper learns per-layer pruning thresholds?",
    "What accuracy does Foo reach on CIFAR-10?",
    "What methods does Foo combine?",  # the methods inside one paper
    "What models are evaluated in the Foo paper?",
    "Is there any detector that prunes its own backbone?",  # "is there any": one is asked for
    "What does Foo have in its decoder?",  # a paper's parts, not the collection's
    "What did they compare it against, and did they try anything to improve it?",  # "anything" as an object
    # "works" and "show" as verbs, not a request for works
    "What optimizer does it introduce, and on which architectures did they show it works?",
    "Did anyone turn value regression into classification? Where did it help, and why do they think it works?",
    "How many layers are in the Foo model?",  # a count inside one paper
    # What one paper covers, asked with "which <plural>": "it" is the paper.
    "Is there a review of Foo? Which algorithm-level techniques and which hardware-level topics does it go through?",
    LONG_CONTEXT,
])
def test_singular_forms_are_lookups(question: str) -> None:
    assert intent_of(question, 0, Resolved(question, question)) == ("lookup", False)


def test_context_before_the_question_is_not_the_request() -> None:
    """The 'anything' of the context paragraph is not asked; only the final question is."""
    assert asking_part(LONG_CONTEXT) == "Is there a method that makes a recognizer robust to background noise?"
    assert form("I could not find anything useful about noise. Which papers make recognizers robust?") == "list"


@pytest.mark.parametrize("question", [
    "How much faster than Bar is Foo?", "How much lower is the error rate of Foo than Bar?",
    "How many more parameters does Foo need than Bar, and why?",
])
def test_a_figure_measured_against_another_named_paper_is_a_lookup(question: str) -> None:
    """Two names and "than" in a question asking how much: one paper's figure, not a comparison."""
    assert form(question, named=2) == "lookup"


@pytest.mark.parametrize("question", ["Summarize Foo", "summarize foo", "Give me a summary of Foo."])
def test_summary_forms(question: str) -> None:
    assert form(question, named=1) == "summary"


# ---- through the whole pipeline -----------------------------------------------------------------------
@pytest.mark.parametrize("question", [
    "Which papers are about speech recognition?",
    "List all work that studies speech recognition.",
    "Any papers on speech recognition?",
    "Give me everything on speech recognition.",
    "Is there anything here on speech recognition? I want all of it.",
    "How many papers are about speech recognition?",
    "I'm writing a related-work section on speech recognition. Which ones are there?",
    "papers on speech recognition",
    "any papers on speech recognition?",
    "which papers do speech recognition",
    "list all work on speech recognition",
    "list speech recognition papers",
    "Are there any speech recognition models in here?",
    "What does the collection have on speech recognition?",
    pytest.param("any work on speech recognition?"),
    pytest.param("speech recognition papers?"),
])
def test_list_phrasings_list_every_speech_paper(service: PaperChat, question: str) -> None:
    answer = service.ask(question)
    assert answer.kind == "list" and answer.status == "answered", (answer.kind, answer.text[:200])
    assert set(cited(answer)) == SPEECH
    assert verify(answer.text, answer.sources).ok


def test_count_question_says_how_many(service: PaperChat) -> None:
    answer = service.ask("How many papers are about speech recognition?")
    assert answer.kind == "list"
    assert answer.text.startswith("3 paper(s) in the collection are about this")


@pytest.mark.parametrize("question", [
    "Any papers on pruning object detectors?",
    "Are there papers on pruning object detectors?",
    "papers on pruning object detectors",
])
def test_list_phrasings_on_a_two_facet_topic(service: PaperChat, question: str) -> None:
    answer = service.ask(question)
    assert answer.kind == "list"
    assert set(cited(answer)) == PRUNED_DETECTORS


@pytest.mark.parametrize("question, pair", [
    ("Compare Kestrel and Osprey", {"Kestrel", "Osprey"}),
    ("Compare EchoASR and StreamCTC.", {"EchoASR", "StreamCTC"}),
    ("EchoASR vs StreamCTC: which has lower latency?", {"EchoASR", "StreamCTC"}),
    ("EchoASR or StreamCTC: which one reaches a lower word error rate?", {"EchoASR", "StreamCTC"}),
    ("Does Kestrel beat Osprey?", {"Kestrel", "Osprey"}),
    ("Does QueryDETR beat CenterPoint Sampling?", {"QueryDETR", "CenterPoint Sampling"}),
    ("How is Kestrel different from Osprey?", {"Kestrel", "Osprey"}),
    ("How is MolFlow different from BindScore?", {"MolFlow", "BindScore"}),
    ("MolFlow versus BindScore", {"MolFlow", "BindScore"}),
    pytest.param("Kestrel vs Osprey: which prunes more weights?", {"Kestrel", "Osprey"}),
    pytest.param("Kestrel or Osprey: which one keeps more accuracy?", {"Kestrel", "Osprey"}),
    ("compare echoasr and streamctc", {"EchoASR", "StreamCTC"}),  # names no other abstract uses, in lowercase
])
def test_comparison_phrasings_compare_the_two_named_papers(service: PaperChat, question: str,
                                                           pair: set[str]) -> None:
    answer = service.ask(question)
    assert answer.kind == "compare", (answer.kind, cited(answer))
    assert set(cited(answer)) == pair and len(answer.focus) == 2
    assert all(f"### {name} [" in answer.text for name in pair)  # a section per paper
    # These abstracts are four sentences long: no room for a side-by-side table within their length.
    abstracts = sum(len(service.store.catalog.papers()[paper_id].abstract.split()) for paper_id in answer.focus)
    assert len(re.sub(r"\[\d+\]", " ", answer.text).split()) <= abstracts
    assert verify(answer.text, answer.sources).ok


@pytest.mark.parametrize("question, name", [
    ("Is there a method that makes speech recognition robust to background noise?", "NoiseGuard"),
    ("Is there a method that prunes the neck and heads of a detector?", "SparseNeck"),
    ("Is there a paper about pruning object detectors?", "PruneDet"),
    (LONG_CONTEXT, "NoiseGuard"),
])
def test_singular_questions_are_one_paper_lookups(service: PaperChat, question: str, name: str) -> None:
    answer = service.ask(question)
    assert answer.kind == "lookup", answer.kind
    assert len(answer.sources) == 1 and len(answer.focus) == 1
    if name != "PruneDet":  # any of the three detector-pruning papers answers "is there a paper about ...?"
        assert cited(answer) == [name]
    else:
        assert cited(answer)[0] in PRUNED_DETECTORS


@pytest.mark.parametrize("question, name", [
    ("Summarize Kestrel", "Kestrel"),
    ("summarize MolFlow", "MolFlow"),
    ("Give me a summary of QueryDETR.", "QueryDETR"),
    ("Summarize the NightDrive paper.", "NightDrive"),
])
def test_summary_of_a_named_paper(service: PaperChat, question: str, name: str) -> None:
    answer = service.ask(question)
    assert answer.kind == "summary"
    assert cited(answer) == [name]
    assert "**Method:**" in answer.text or "**Problem:**" in answer.text
    assert verify(answer.text, answer.sources).ok


# ---- the measurement asked for names no paper --------------------------------------------------

class _Paper:
    def __init__(self, pid: str, title: str, abstract: str) -> None:
        self.id, self.title, self.abstract = pid, title, abstract


NAMED_BY_METRIC = [
    _Paper("zerorf", "ZeroRF: Fast Sparse View Reconstruction", "We present ZeroRF, a per-scene optimization method. "
           "ZeroRF needs no pretraining."),
    # Spells the metric out once, in parentheses: to a name index that is a coined name like "(COSMO)".
    _Paper("pepsi", "PEPSI++: Fast Image Inpainting", "Both variants improve the peak signal-to-noise ratio (PSNR) "
           "while using fewer parameters."),
]


@pytest.mark.parametrize(("question", "named", "intent"), [
    ("What PSNR and SSIM does ZeroRF report?", ["zerorf"], "lookup"),  # not ZeroRF "and" PEPSI++ compared
    ("What PSNR does PEPSI++ reach?", ["pepsi"], "lookup"),  # its own name still names it
    ("How does PEPSI++ compare with ZeroRF?", ["pepsi", "zerorf"], "compare"),
])
def test_the_measurement_a_question_asks_for_names_no_paper(question: str, named: list[str], intent: str) -> None:
    names = NameIndex(NAMED_BY_METRIC)
    mentions = names.mentions(question)
    assert any(m.key == "psnr" for m in names.mentions("What PSNR?"))  # the index does take it for a name
    candidates = Candidates(question, [], CandidateRetriever.named_ids(mentions, []), mentions)
    plan = make_plan(Resolved(question, question), candidates, names, {})
    assert plan.named == named and plan.intent == intent


def test_a_name_of_several_words_is_asked_for_as_one() -> None:
    ask = asked_for("What box AP does Sparse R-CNN reach on COCO with a ResNet-50 backbone?", set())
    assert "Sparse R-CNN" in ask.specific and "Sparse" not in ask.specific
    assert {"COCO", "ResNet-50"} <= set(ask.specific) and ask.quantity == "box AP"


@pytest.mark.parametrize(("word", "bare"), [("PageRank-style", "PageRank"), ("LoRA-like", "LoRA"),
                                            ("ViT-based", "ViT"), ("GPT-4", "GPT-4"), ("two-stage", "two-stage")])
def test_a_descriptive_compound_asks_for_the_name_it_is_built_on(word: str, bare: str) -> None:
    assert bare_name(word) == bare


@pytest.mark.parametrize("abstract, name", [
    ("In this study, we incorporate A-YOLOM, an adaptive multi-task detector.", "A-YOLOM"),
    ("We show that our score - VSDR - improves model selection.", "VSDR"),
    ("Our final model DiagNet is a simple diagonal version of S4.", "DiagNet"),
    # A short acronym named outright ("termed as", "dubbed") is a name, not a metric used in passing.
    ("We propose a new fine-tuning method termed as SSF, which scales and shifts features.", "SSF"),
    ("Our approach (dubbed KAN) replaces weights with splines.", "KAN"),
])
def test_a_name_an_abstract_gives_its_own_method_names_the_paper(abstract: str, name: str) -> None:
    names = NameIndex([_Paper("p1", "A Study Without a Short Name in Its Title", abstract)])
    assert [m.paper_ids for m in names.mentions(f"How does {name} work?")] == [["p1"]]


@pytest.mark.parametrize("abstract", [
    "Our best model outperforms GraphCast at day 10.",  # a baseline later in the sentence
    "We design experiments with GraphCast as the teacher.",  # what the experiments use
])
def test_a_name_the_abstract_only_uses_is_not_its_own(abstract: str) -> None:
    names = NameIndex([_Paper("p1", "Medium-Range Forecasting", abstract)])
    assert names.mentions("How good is GraphCast?") == []


def test_a_title_name_typed_in_lowercase_names_its_paper_only_when_no_word_is_shaped_like_it() -> None:
    names = NameIndex([_Paper("ea", "EchoASR: Pretraining for Speech", "EchoASR pretrains an encoder."),
                       _Paper("mx", "MAXIM: Multi-Axis MLP", "MAXIM mixes features along two axes."),
                       _Paper("yo", "YOLOv10: Real-Time Detection", "YOLOv10 removes NMS."),
                       _Paper("fm", "FlexVAR: Flexible VAR", "FlexVAR drops residual prediction from VAR."),
                       _Paper("vr", "VAR: Visual Autoregressive Modeling", "VAR predicts the next scale.")])
    found = {m.key for m in names.mentions("compare echoasr and yolov10 on speed, and what maxim do they follow?")}
    assert found == {"echoasr", "yolov10"}  # "maxim" is an English word as well as MAXIM's name


def test_a_lowercase_word_names_no_paper_when_shaped_like_a_word_or_used_by_another_abstract() -> None:
    names = NameIndex([_Paper("ra", "ReAct: Reasoning and Acting", "ReAct interleaves reasoning and actions."),
                       _Paper("rs", "ReST: Reinforced Self-Training", "ReST grows a dataset and trains on it."),
                       _Paper("sc", "StreamCTC: Streaming Speech Recognition", "StreamCTC emits words early."),
                       _Paper("nb", "A Study of Streaming Models", "We compare against StreamCTC on LibriSpeech.")])
    assert names.mentions("how does the model react to noise, and does it need rest between rounds?") == []
    # StreamCTC is name-shaped, but another abstract uses it too: in lowercase it is not taken for a name.
    assert names.mentions("how fast is streamctc?") == []
    assert [m.key for m in names.mentions("how fast is StreamCTC?")] == ["streamctc"]


def test_a_name_written_in_two_words_elsewhere_is_known() -> None:
    # Zero-TPrune's abstract writes "Weighted Page Rank"; a question says "a PageRank-style algorithm".
    names = NameIndex([_Paper("ztp", "Zero-TPrune: Token Pruning", "We use a Weighted Page Rank (WPR) algorithm.")])
    assert names.unknown_names("Which method scores tokens with a PageRank-style algorithm?") == []
    assert names.unknown_names("Which method scores tokens with a WalkRank-style algorithm?") == ["WalkRank"]
    ask = asked_for("Which LoRA-style methods adapt the rank?", set())
    assert "LoRA" in ask.specific and "LoRA-style" not in ask.specific


@pytest.mark.parametrize(("question", "measured"), [
    ("How many GPU hours did it take to pretrain the model?", "hours"),  # what is counted: the noun before the verb
    ("How many extra parameters does that add?", "parameters"),
    ("What Elo rating does the value function reach when playing chess?", "Elo rating"),  # a value reached
    ("What top-1 accuracy does Foo get on ImageNet?", "top-1 accuracy"),
    ("How many times faster than Osprey is Kestrel?", "times faster"),
    ("How much lower is the character error rate of Foo than Bar on child speech?", "character error rate"),
    ("How much lower than Bar is Foo's zero-shot accuracy on the medical datasets?", "Foo's zero-shot accuracy"),
    ("How many GPU hours (and on what cluster) did it take to train?", "hours"),  # past the aside
    ("How much end-to-end speedup does Foo give on Bar?", "speedup"),  # the measure is its noun
    ("Which dataset was it pretrained on, and for how many hours of audio?", "hours"),  # no verb after it
    ("What functional form did they fit?", ""),  # asks what, not how much
    ("What training-time fix do they prove does work?", ""),  # "time" of a compound is no measure
    ("What architecture does Foo use?", ""),
    ("What's it called, how many models were evaluated, and which one came out on top?", ""),
    ("What architecture does Foo use to achieve 80% accuracy?", ""),  # the clause's verb is "use"
    ("What does EchoASR do to get its word error rate down?", ""),  # "does EchoASR" is no measurement
    ("What absolute pass@1 does Foo reach on HumanEval?", "absolute pass@1"),  # a metric at k
    ("How much did the recall@10 improve over BM25?", "recall@10"),
    # The measure that changes: "how much does its perplexity go up", past a possessive.
    ("How much does its perplexity (say on C4) go up compared with the uncompressed model?", "perplexity"),
    ("How much does Foo's word error rate drop on noisy speech?", "word error rate"),
    ("How much does it improve the results?", ""),  # "it" changes nothing measured
    ("How much does MAXIM improve PSNR?", ""),  # what changes is a paper, not a measure
    # The first asked quantity that is a measurement: what is counted first ("tokens") is none.
    ("How many Portuguese tokens was it trained on, and by what percentage does its tokenizer cut the count?",
     "percentage"),
])
def test_the_measurement_a_question_asks_for(question: str, measured: str) -> None:
    assert measurement(question) == measured


# ---- a contrast whose other side is described, not named ----------------------------------------------
def test_a_contrast_with_a_described_paper_compares_the_two(service: PaperChat) -> None:
    # The other side names nothing a title says; "Quechua" is in EchoASR's abstract only.
    answer = service.ask("How is NoiseGuard different from the Quechua speech recognizer?")
    assert answer.kind == "compare" and sorted(cited(answer)) == ["EchoASR", "NoiseGuard"]
    assert verify(answer.text, answer.sources).ok


@pytest.mark.parametrize("question", [
    "How is NoiseGuard different from prior recognizers?",  # nothing specific on the other side
    "How is NoiseGuard different from the Klingon speech recognizer?",  # a name no paper holds
    # An indefinite other side is a kind of model, a baseline: "versus a standard multi-head ViT".
    "How is NoiseGuard different from a Quechua speech recognizer?",
])
def test_a_contrast_with_nothing_specific_on_the_other_side_stays_a_lookup(service: PaperChat, question: str) -> None:
    answer = service.ask(question)
    assert answer.kind == "lookup" and cited(answer) == ["NoiseGuard"]


def test_a_quoted_part_of_a_title_names_its_paper(service: PaperChat) -> None:
    answer = service.ask("Which of EchoASR and the 'speech recognition under background noise' paper uses "
                         "untranscribed audio, and how does each one cope with its problem?")
    assert answer.kind == "compare" and sorted(cited(answer)) == ["EchoASR", "NoiseGuard"]
    assert answer.status == "answered"  # the quoted title is not a phrase the abstracts must contain
    assert verify(answer.text, answer.sources).ok


def test_a_choice_between_two_named_models_is_a_comparison_not_a_list() -> None:
    assert form("Which of the two models performs better, Foo or Bar?", named=2) == "compare"


@pytest.mark.parametrize(("phrase", "names"), [
    ("speedup over Osprey", {"speedup"}), ("PSNR and SSIM", {"psnr", "ssim"}),
    ("fraction of A100 peak throughput", {"fraction"}), ("", set()),
])
def test_the_measurement_names_only_itself(phrase: str, names: set[str]) -> None:
    # What a measurement is of ("over Osprey") may name a paper; the measurement ("PSNR") does not.
    assert measured_names(phrase) - {"and"} == names


def test_a_question_word_is_not_part_of_a_name() -> None:
    ask = asked_for("Is YOLO-V3 faster than Video-VAE? What R-CNN variant does Foo use?", set())
    assert {"YOLO-V3", "Video-VAE", "R-CNN"} <= set(ask.specific)
    assert not any(word.startswith(("Is ", "What ")) for word in ask.specific)


@pytest.mark.parametrize(("question", "unknown"), [
    ("Is 4-bit quantization of a detector basically free?", []),  # a question word and a compound's number
    ("How much does Llama 3 gain from pruning?", ["Llama 3"]),  # a versioned name no paper uses
    ("Does GPT 5 prune detectors?", ["GPT 5"]),
])
def test_a_versioned_name_is_a_name_and_a_questions_first_word_is_not(question: str, unknown: list[str]) -> None:
    names = NameIndex([_Paper("pd", "PruneDet: Channel Pruning", "We prune 4-bit detectors on COCO.")])
    assert names.unknown_names(question) == unknown


@pytest.mark.parametrize(("question", "intent"), [
    # One paper's figure, measured against the other's: a lookup, so the figure is checked.
    ("What WER (or CER) does Foo reach on child speech, compared with Bar?", "lookup"),
    ("What top-1 accuracy does Foo reach on ImageNet vs Bar?", "lookup"),
    ("Foo: what's its GLUE average with DeBERTaV3-base, vs Bar?", "lookup"),  # "what's", an average
    ("How much faster than Bar is Foo?", "lookup"),
    # Asked to set the two side by side, or to choose: a comparison.
    ("Compare the top-1 accuracy of Foo and Bar on ImageNet.", "compare"),
    ("What gains do Foo and Bar report on ImageNet?", "compare"),  # "and" alone sets the two side by side
    ("Which one reaches higher accuracy, Foo or Bar?", "compare"),
    ("How does the accuracy of Foo differ from Bar's?", "compare"),
])
def test_a_figure_measured_against_another_paper_is_one_papers_figure(question: str, intent: str) -> None:
    assert form(question, named=2) == intent


def test_a_titles_short_name_typed_in_another_case_names_its_paper() -> None:
    names = NameIndex([_Paper("ps", "Power Scheduler: A Batch Size Agnostic Learning Rate Scheduler", "We study it."),
                       _Paper("nma", "No More Adam: Learning Rate Scaling at Initialization", "We propose SGD-SaI.")])
    assert [m.key for m in names.mentions("How does the Power scheduler set learning rates?")] == ["powerscheduler"]
    # A quoted title part is one mention, however many ways the question's words spell it.
    assert [m.key for m in names.mentions("Do the 'No More Adam' paper and the Power scheduler both tune rates?")] \
        == ["nomoreadam", "powerscheduler"]
    assert names.mentions("How does the power scheduling of GPUs work?") == []  # no capital: plain words


@pytest.mark.parametrize("question", ["What gains on Tiny-ImageNet and with V-MoE?",  # no verb: no measurement
                                      "And what improvements over Bar?"])
def test_a_plural_measure_asks_for_a_number(question: str) -> None:
    assert asked_for(question, set()).number


@pytest.mark.parametrize(("question", "sides"), [
    ("ST-3 vs the layer-adaptive weight pruning paper that solves the allocation with dynamic programming: how "
     "does each decide which weights end up zero?",
     ("the layer-adaptive weight pruning paper that solves the allocation with dynamic programming",)),
    ("The neural ranking robustness study vs the parameter-efficient tuning paper for retrieval and re-ranking: "
     "what does each conclude?",
     ("The neural ranking robustness study", "the parameter-efficient tuning paper for retrieval and re-ranking")),
    ("Two scaling studies: the one on over-trained language models, and the one on scaling the retrieval "
     "datastore. What does each add?",
     ("the one on over-trained language models", "the one on scaling the retrieval datastore")),
    ("Which of DRM and the paper that crafts distribution shifts by augmenting source images assumes several "
     "source domains?", ("the paper that crafts distribution shifts by augmenting source images assumes several "
                         "source domains",)),
    # a quoted title's own "or" neither splits nor ends a side
    ("Which of these two papers argues against pruning: 'To prune, or not to prune', or the one defending "
     "randomized parameter sharing? What evidence does each give?",
     ("the one defending randomized parameter sharing",)),
    # the side the question opens with begins after its context and its "how is"
    ("Compact classifiers: how is the iterative rewinding paper different from Kestrel in how it prunes?",
     ("the iterative rewinding paper",)),
    # "beats", and a description by a relative clause
    ("Does Kestrel beat the NAS that uses a boosted-tree accuracy predictor on ImageNet? Give both error rates.",
     ("the NAS that uses a boosted-tree accuracy predictor on ImageNet",)),
    # a plural is a kind of method measured against, not one paper
    ("Does Kestrel beat the LLM-based forecasters that use far more parameters?", ()),
    ("Mogo says it beats the BERT-style masked models. What FID does it get?", ()),
    # "one ..., the other ...": each side describes one paper by what it does
    ("Two RL papers: one replaces the regression objective used to train value functions, the other replaces "
     "neural networks with boosted trees. What does each swap in?",
     ("replaces the regression objective used to train value functions", "replaces neural networks with boosted "
                                                                          "trees")),
    # "the X one and the Y one": descriptions joined by "and", each by its modifiers alone
    ("The two forecasting papers here (the sensor-fusion one and the river flood one with an LSTM): what "
     "data does each use?", ("the sensor-fusion one", "the river flood one with an LSTM")),
    # the papers a question counts, each described after its colon
    ("Three pruning papers I keep mixing up: the one on rewinding, the detector pruning study, and the paper "
     "that distills while pruning. Which one keeps the detector's neck?",
     ("the one on rewinding", "the detector pruning study", "the paper that distills while pruning")),
    # an aside's own brackets stay with the side; the brackets around the sides do not
    ("the one on LoRA (the rank one) and the one on merging: what does each do?",
     ("the one on LoRA (the rank one)", "the one on merging")),
    # "Both A and B ...": the sentence's two subjects; a name is no description
    ("Both the sparsely gated retriever paper and Kestrel avoid dense attention. What does each keep?",
     ("the sparsely gated retriever paper",)),
    ("Does Kestrel tune both the vision model and the language model?", ()),  # parts of one model, not papers
    ("Both the vision model and the language model are frozen in which papers?", ()),
    ("Both the encoder network and the decoder network are pruned in which paper?", ()),
    # no function word or figure describes a paper: settings, model sizes and mass nouns are no sides
    ("What is the difference between the one-shot setting and the few-shot one?", ()),
    ("What does Kestrel say about the 3-bit one and the 4-bit one?", ()),
    ("Which papers discuss the related work and the future work on test-time adaptation?", ()),
    ("How does Kestrel split the work between warps and the amount of work per thread block?", ()),
    ("How does QueryDETR compare with a standard detection transformer?", ()),  # a baseline, no paper
    ("How does it differ from the first one?", ()),  # a position, for condense
    ("What does EchoASR report?", ()),
])
def test_a_contrast_side_given_by_description(question: str, sides: tuple[str, ...]) -> None:
    assert described_sides(question, [], NameIndex([])) == sides


def test_a_name_on_both_sides_of_a_contrast_identifies_neither() -> None:
    """"EchoASR pretraining vs the streaming paper built on EchoASR features": EchoASR is what both sides
    are about; the second side is still a description of another paper."""
    names = NameIndex([_Paper("echo", "EchoASR: Self-Supervised Pretraining", "EchoASR pretrains an encoder.")])
    question = "EchoASR pretraining vs the streaming paper built on EchoASR features: what does each do?"
    assert described_sides(question, ["echo"], names) == ("the streaming paper built on EchoASR features",)
    # a side that alone names the named paper is that paper, with one side or two
    question = "Kestrel vs the EchoASR paper: what does each do?"
    assert described_sides(question, ["echo"], names) == ()
    assert described_sides("How does Kestrel compare with the EchoASR paper?", ["echo"], names) == ()


def test_one_and_the_other_describe_the_named_papers_when_two_are_named() -> None:
    names = NameIndex([_Paper("spa", "SPANet: Frequency-balancing Token Mixer", "SPANet balances frequencies."),
                       _Paper("svt", "SViT: Scattering Vision Transformer", "SViT separates frequencies.")])
    question = ("SPANet and SViT, two papers on frequencies: one says to balance high and low frequencies, the "
                "other separates them; what motivates each?")
    assert described_sides(question, ["spa", "svt"], names) == ()
    assert described_sides(question, ["spa"], names) == ("says to balance high and low frequencies",
                                                          "separates them")


def test_a_contrast_with_a_described_paper_is_a_comparison_whatever_plural_follows() -> None:
    """"...on which models, and what do they achieve?" is asked of each side, not a request for a list."""
    question = ("How is Kestrel's pruning different from the pruning paper that rewinds weights? What does each "
                "use the thresholds for, on which models, and what do they achieve?")
    assert intent_of(question, 1, Resolved(question, question), described=1) == ("compare", False)


def _stored(pid: str, title: str, abstract: str) -> StoredPaper:
    return StoredPaper(pid, title, abstract, [], None, None, [], pid, 1)


@pytest.mark.parametrize(("question", "other"), [
    ("TTM vs LLM-based forecasting: how big a cut in parameters does it claim?", ["llm"]),
    # a side that ends on a plural is a kind of method the paper measures against
    ("TTM vs the LLM-based time-series forecasters: how big a cut in parameters does it claim?", []),
    ("TTM vs an LLM-based forecaster: how big a cut in parameters does it claim?", []),
])
def test_the_other_side_of_a_contrast_is_a_paper_only_when_it_names_one(question: str, other: list[str]) -> None:
    ttm = _stored("ttm", "TTM: Tiny Time Mixers", "TTM cuts parameters 14X against LLM-based forecasters.")
    llm = _stored("llm", "Scaling LLM Test-Time Compute", "We scale the test-time compute of an LLM.")
    candidates = Candidates(question, [PaperHit(ttm), PaperHit(llm)], ["ttm"], [NameMatch("ttm", ["ttm"])])
    assert described_other_side(question, "ttm", candidates, {"ttm": ttm, "llm": llm}) == other


def test_a_described_side_makes_a_comparison_and_a_digit_in_a_name_counts_nothing() -> None:
    question = "ST-3 vs the layer-adaptive weight pruning paper that solves the allocation with dynamic programming?"
    assert intent_of(question, 1, Resolved(question, question), described=1) == ("compare", False)
    assert intent_of(question, 1, Resolved(question, question)) == ("lookup", False)
    assert compare_count(question, 1) == 2  # not the "3" of "ST-3"


def test_a_versioned_name_does_not_start_inside_a_compound() -> None:
    """"NTU RGB+D 120" holds no name "D 120" that no paper mentions."""
    names = NameIndex([_Paper("p1", "PSUMNet: Skeleton Action Recognition", "We test on NTU RGB+D 60.")])
    assert not any("D 120" in name for name in names.unknown_names("What accuracy on NTU RGB+D 120 does it get?"))


@pytest.mark.parametrize("abstract", [
    "We study training in the so-called NTK regime of wide networks.",
    "Samples are scored with the metric named FID against the training set.",
])
def test_a_term_of_the_field_named_in_passing_is_not_the_papers_own_name(abstract: str) -> None:
    names = NameIndex([_Paper("p1", "Wide Networks Train Alike", abstract)])
    assert names.own_names("p1") & {"ntk", "fid"} == set()


@pytest.mark.parametrize(("question", "kept", "dropped"), [
    ("Which papers report results on GLUE (or SuperGLUE)? I need the complete list for a table.", {"GLUE"},
     {"complete", "table"}),
    # context before the question is what it is about
    ("We prune one-stage detectors. Which papers do that too?", {"prune", "detectors"}, set()),
    ("Which papers prune detectors", {"prune", "detectors"}, set()),
    # an exclusion or a bare request after it is no part of the topic; a sentence adding to it is
    ("Which papers prune detectors? Leave out two-stage detectors.", {"prune"}, {"two-stage"}),
    ("Which papers prune detectors? Distillation-based ones don't count. List all of them", {"prune"},
     {"Distillation-based"}),
    ("Which papers do this? Specifically, pruning of object detectors.", {"pruning", "detectors"}, set()),
])
def test_a_remark_after_the_question_is_no_part_of_a_lists_topic(question: str, kept: set[str],
                                                                  dropped: set[str]) -> None:
    words = set(topic_of(question).split())
    assert kept <= words and not dropped & words


@pytest.mark.parametrize(("question", "known"), [
    ("Besides delaying the end-of-sequence token, what other loss terms do they add?",
     ("delaying the end-of-sequence token",)),
    ("Apart from the speed-up, what does it cost?", ("the speed-up",)),
    ("Other than ImageNet what datasets does it use?", ("ImageNet",)),  # it ends where the question starts
    ("Besides accuracy how fast is it?", ("accuracy",)),
    ("Besides the latency, and other than WER, what does it report?", ("the latency", "WER")),
    ("What does StreamCTC report?", ()),
])
def test_what_a_question_takes_as_known(question: str, known: tuple[str, ...]) -> None:
    assert asked_for(question, set()).known == known
