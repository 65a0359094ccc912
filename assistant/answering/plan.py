"""Plan: what kind of answer a question wants, what it is about, and what it asks for.

Intent comes from the form of the sentences that ask (not the context before them) and from the
papers the question names: a request for several papers (a plural object, "any work on",
"everything", "all", "how many papers") is a list; two or more named papers with a word that sets
them side by side ("vs", "or", "differ", "both") are a comparison; "summarize" with a named paper
is a summary; everything else is a one-paper lookup.

What it is about is its topic (the question without its request wording); what it asks for is an
`Ask`: a number, the benchmarks, metrics and models it names, the measurement ("what top-1
accuracy ..."), and phrases it quotes. The judge checks the latter literally against each abstract.
"""

from __future__ import annotations

import re

from assistant.answering.retrieve import Candidates
from assistant.answering.types import Ask, Intent, Plan, Resolved
from assistant.names import QUOTED, NameIndex, bare_name
from assistant.store import StoredPaper
from assistant.text import QUESTION_BOILERPLATE, content_stems, name_key

# Words that say how to ask (a request, its politeness, where to look), never what about.
REQUEST_WORDS = QUESTION_BOILERPLATE | {
    "give", "show", "want", "need", "looking", "writing", "section", "related", "everything", "anything",
    "all", "every", "here", "ones", "name", "specifically", "dedicated", "tackle", "tackles", "address",
    "addresses", "remember", "recall", "vaguely", "anyone", "somebody", "someone", "please", "know", "like",
    "would", "could", "interested", "kind", "sort", "only", "also", "actually", "really", "exist", "exists",
    "mention", "mentions", "discuss", "discusses", "cover", "covers", "focus", "focuses", "including",
    "something", "thing", "me", "us", "put", "build", "builds", "things", "way", "ways", "idea", "ideas",
    "question", "questions", "have", "has", "hold", "holds", "contain", "contains",
}
# Illustrations, not conditions: parentheses, "e.g. ...", "i.e. ...", "such as ...".
EXAMPLE_CLAUSE = re.compile(r"\([^)]*\)|\b(?:e\.g\.|i\.e\.|such as)[^.;:?]*", re.I)

# "How many pre-trained models for forecasting are in the collection?": a count of what it holds.
HOW_MANY_HELD = r"\bhow\s+many\b[^?]*\b(?:are|were)\s+(?:here|in\s+(?:the|this|your)\s+(?:collection|corpus|library))\b"
# A request for several papers: a plural object, or a quantifier over papers.
PLURAL = re.compile(
    r"\b(?:which|what)\s+(?:other\s+)?(?:papers|works|studies|articles|publications|ones)\b"
    # "Which LoRA-style methods adapt ...": methods as the subject; not "what methods does X use".
    # (nor "which of the two models ...", a choice, nor "what models are evaluated in X", one paper's).
    r"|\b(?:which|what)\s+(?!(?:two|three|both|of)\b)(?:[\w-]+\s+){0,3}?(?:methods|approaches|techniques|models|"
    r"architectures|frameworks|systems|algorithms|papers|works|studies)\b"
    r"(?!\s+(?:does|do|did|is|are|was|were|has|have|had|can|could|would|will)\b)"
    # "which techniques and which topics does it go through": what one paper covers.
    r"(?![^?.;]{0,60}?\b(?:does|did|is|was|has|can|could|would|will)\s+(?:it|this|"
    r"the (?:paper|model|method|study|work|survey))\b)"
    # A request, said as one: "List ...", "please show ...", "can you give me ...", not "did they show it works".
    r"|(?:^|[.?!;:,(—–-]\s*|\b(?:please|and|you)\s+)(?:list|name|show|give|find)\b[^.?]{0,40}"
    r"\b(?:papers|works|studies|all|every|everything)\b"
    # "list the work that ...", "list research on ...": a body of work, whatever its number.
    r"|(?:^|[.?!;:,(—–-]\s*|\b(?:please|and|you)\s+)list\s+(?:the\s+|any\s+)?(?:\w+\s+)?(?:work|research|literature)\b"
    r"|\b(?:any|all|every|other)\s+(?:the\s+)?(?:\w+\s+){0,2}(?:papers|works|studies)\b"
    # "Are there ..." asks whether several exist, whatever the noun ("are there any CNNs whose ...").
    r"|\b(?:are|were)\s+there\b"
    # What a collection holds on a topic: "what does the collection have on ...", "what do you have on ...".
    r"|\bwhat\s+(?:does|do)\s+(?:the\s+|this\s+|your\s+)?(?:collection|corpus|library|you)\s+"
    r"(?:have|hold|contain|include)\b"
    # "anything on X", "everything here about X": not "did they try anything to improve it".
    r"|\b(?:anything|everything)\b(?=\s+(?:(?:here|else|in\s+(?:here|the\s+\w+))\s+)?(?:on|about|regarding|"
    r"related|relevant|that|which|in|here|else)\b|\s*[?.!]|\s*$)"
    # "Anything where ...?", "anything with X?" as the question itself; not "does Hydra do anything with ...".
    r"|(?:^|[.?!]\s+)(?:(?:is|are)\s+there\s+|got\s+)?anything\s+(?:where|with|using)\b"
    r"|\b(?:all of it|all work|every paper)\b"
    r"|\bhow\s+many\s+(?:\w+\s+){0,2}(?:papers|works|studies)\b"
    rf"|{HOW_MANY_HELD}"
    r"|\brelated[- ]work\b"
    r"|\bany (?:work|research|literature)\b"
    # "... papers?" at the end, and "works" as a noun: not "did they show it works?"
    r"|\b(?:papers|(?<!\bit )(?<!\bthis )(?<!\bthat )(?<!\bwhich )works|studies)\s*[?.!]?\s*$"
    r"|\bpapers\s+(?:that|which|about|on|here|in)\b",
    re.I,
)
COUNT = re.compile(rf"\bhow\s+many\s+(?:\w+\s+){{0,2}}(?:papers|works|studies)\b|{HOW_MANY_HELD}", re.I)
TOPIC_SUMMARY = re.compile(
    r"\b(?:summari[sz]e|overview of|survey)\b.*\b(?:collection|papers|literature|research|work|works|studies)\b"
    r"|\bwhat does the (?:collection|corpus) say about\b",
    re.I,
)
SUMMARY = re.compile(r"\b(?:summari[sz]e|summary of|tl;?dr|tell me about|overview of|what is .{0,40} about)\b",
                     re.I)
# A choice between methods, or a contrast: with two named papers, a comparison.
COMPARE = re.compile(
    r"\b(?:compare[sd]?|comparison|contrast|versus|vs\.?|differ|differs|different|difference|differences|both|"
    r"each|which one|which of|either|or|and|than|beat|beats|better|relate)\b", re.I)
# The words that set a figure against another paper's without asking to compare the two ("and" may
# join them, but alone it sets two papers side by side: "what gains do Foo and Bar report?").
REFERENCE_WORDS = {"than", "and", "compared", "vs", "vs.", "versus"}
# Words that set papers against each other whoever they are; "than", "beats", "or" may set a paper against
# a baseline its abstract names ("says it beats the BERT-style models, ... what do T2M-GPT and MMM score").
CONTRASTS = re.compile(r"\b(?:compare[sd]?|comparison|contrast|versus|vs\.?|differ|differs|different|difference|"
                       r"differences|both|each|which one|which of|either)\b", re.I)
EXPLICIT_COMPARE = re.compile(r"\b(?:compare|comparison|contrast|versus|vs\.?|differ|differs|difference)\b", re.I)
COUNTED = re.compile(r"\b(?:two|three|both)\b", re.I)
COMPARE_COUNTED = re.compile(r"(?:^|[.?!:;]\s*|\b(?:please|and|you)\s+)(?:compare|contrast)\s+"
                             r"(?:the\s+|these\s+|those\s+)?(?:two|three|both)\b", re.I)
COUNT_WORDS = {"two": 2, "both": 2, "three": 3, "2": 2, "3": 3}
# What the question asks back: a number.
ASKS_NUMBER = re.compile(
    r"\b(?:how (?:much|many|big|large|fast|close|well|small|few|long|deep)|what(?:'s|\s+is)? (?:\w+ ){0,3}(?:accuracy|"
    r"score|average|fid|ap|bleu|rmse|wer|psnr|miou|speed|speedup|throughput|size|number|gains?|improvements?|"
    r"percentage|share|fraction|ratio|rate|length|perplexity|auc|precision|recall|f1)|top-?1|accuracy|speed-?up|"
    r"times faster|percent|ratio|perplexity)\b", re.I)
# A metric, benchmark or model named in the question: a token with a digit, an inner capital, an
# all-caps acronym, or a capitalized word inside the sentence ("ImageNet", "mIoU", "WER", "Quechua").
SPECIFIC = re.compile(r"(?<![\w-])(?:[A-Za-z]+[-']?\d[\w.-]*|\d+[A-Za-z][\w-]*|[a-z]+[A-Z][\w-]*|[A-Z][a-z]*[A-Z][\w-]*"
                      r"|(?:(?!(?:Is|Are|Was|Were|What|Which|How|Does|Do|Did|Can|Could|Why|When|Where|Who)\b)"
                      r"[A-Z][a-z]+ )?[A-Z]+-[A-Z][\w-]*|[A-Z][a-z]+-[A-Z]{2,}[\w-]*|[A-Z]{2,}s?)(?![\w-])")
ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)", re.I)
CAPITALIZED = re.compile(r"(?<=[a-z,;:] )[A-Z][a-z]{2,}(?:'s)?\b(?!-)")  # "Step" of "Step-Video-T2V" is no name
# The measurement a question asks for: "what <it> does X get", "in terms of <it>", "how many <it>".
QUANTITY = re.compile(
    r"\bwhat (?:exact |is the |are the |was the |were the )?"
    r"(?P<what>(?!(?:does|do|did|is|are|was|were|can|could|has|have|would)\b)(?:[\w'@^-]+ ){0,5}?[\w'@^-]+) "
    r"(?:does|do|did|is|are|was|were|can|could|has|have|would)\b"
    r"|\bin terms of (?P<terms>[\w' -]+)"
    # "how much lower is the character error rate of S2-LoRA than ...": the measure compared
    r"|\bhow much (?:lower|higher|better|worse|smaller|larger|bigger|faster|slower|more|less) "
    r"(?:than (?:[\w'^-]+ ){0,3}?[\w'^-]+ )?(?:is|are|was|were) "
    r"(?:the |its |their )?(?P<compared>(?:[\w'^-]+ ){0,4}?[\w'^-]+) (?=of|for|on|in|with)\b"
    # "how much end-to-end speedup": the measure is its noun, whatever describes it
    r"|\bhow (?:many|much) (?:[\w-]+ ){0,2}?(?P<how>(?:times )?(?:faster|slower|smaller|larger|fewer|more|less|"
    r"parameters|params|tokens|layers|gpus|speedup|memory|hours|days|epochs|steps))\b"
    # "how much does its perplexity go up": the measure that changes
    r"|\bhow much (?:does|do|did|will|would) (?:the |its |their |[\w-]+'s )?(?P<changed>(?:[\w'@^-]+ ){0,3}?[\w'@^-]+) "
    r"(?:go up|go down|rise|fall|drop|increase|decrease|change|grow|shrink|degrade|improve)\b"
    # "how many GPU hours did it take": what is counted, up to the verb
    r"|\bhow many (?P<counted>(?:[\w-]+ ){0,2}[\w-]+)(?= (?:does|do|did|is|are|was|were|can|could|has|have|would|"
    r"will)\b)", re.I)
# A parenthetical aside ("(and on what cluster)", "(or CER)") adds to the question, it is not its form.
ASIDE = re.compile(r"\s*\([^)]*\)")
# A verb that says the thing asked is a value reached: "what Elo rating does it reach".
REACHES = re.compile(r"\b(?:reach|reaches|reached|achieve|achieves|achieved|attain|attains|attained|obtain|"
                     r"obtains|obtained|get|gets|got|score|scores|scored)\b", re.I)
# Words that name a measurement (the quantity must hold one, or a metric's acronym such as "FID").
# A word of a hyphenated compound is not the measure: "what training-time fix" asks what, not how long.
MEASURE = re.compile(
    r"(?<![\w-])(?:accurac\w*|scores?|error|rates?|speed\w*|faster|slower|throughput|latency|size|length|gains?|"
    r"improvements?|reductions?|perplexity|tau|correlation|percentage|fraction|share|ratio|parameters|params|"
    r"memory|flops|cost|time|compute|number|count|efficiency|precision|recall|top-?\d|[a-z]+@\d+|times|bleu|rouge|auc|"
    r"hours?|days?|epochs?|steps?|ratings?)(?![\w-])",
    re.I)


def asked_for(question: str, drop_keys: set[str], phrase: str | None = None) -> Ask:
    """A number, and the specifics (benchmarks, metrics, models) the answer must state literally.

    `drop_keys` are name keys of the papers the question names: naming the paper is not asking for it.
    `phrase` is the question's `measurement`, when the caller has it already.
    """
    specific = []
    asked = EXAMPLE_CLAUSE.sub(" ", question)  # "such as 5x5-digit multiplication" illustrates, it is not asked
    for match in [*SPECIFIC.finditer(asked), *CAPITALIZED.finditer(asked)]:
        word = bare_name(match.group(0).removesuffix("'s").strip(".-"))  # "LoRA-style" asks for LoRA
        key = name_key(word)
        if len(key) < 2 or key in drop_keys or word.lower() in {"i", "ai", "ml"} or ORDINAL.fullmatch(word):
            continue
        specific.append(word)
    # "Sparse R-CNN" is one name: "Sparse" alone is not asked as well.
    specific = [w for w in specific if not any(w != other and holds_word(other, w) for other in specific)]
    phrase = measurement(question) if phrase is None else phrase
    # A quoted title names its paper; other quoted phrases must be in the abstract.
    quoted = tuple(m.group(1).strip() for m in QUOTED.finditer(question) if name_key(m.group(1)) not in drop_keys)
    parts = parts_of(question)
    return Ask(number=bool(ASKS_NUMBER.search(question)) or bool(phrase), specific=tuple(dict.fromkeys(specific)),
               quantity=phrase.strip(), quoted=quoted, parts=parts, measured_in=asking_part_of(parts, phrase),
               counted=counted_nouns(question),
               known=tuple(m.group("known") for m in KNOWN.finditer(question)))


# "Besides delaying the EOS token, ...", "apart from the speed-up, ...": what the question takes as known.
KNOWN = re.compile(r"\b(?:besides|apart from|aside from|other than|in addition to)\s+(?P<known>[^,;:?]+?)"
                   r"(?=\s*[,;:?]|\s+(?:what|how|which|who|where|when|why|does|do|did|is|are|can|could)\b|\s*$)", re.I)


PLURAL_NOUN = re.compile(r"[A-Za-z-]+(?<![sui])s")  # "tokens", "GPUs"; not "process", "status", "analysis"


def counted_nouns(question: str) -> tuple[str, ...]:
    """What each "how many ..." of the question counts: "how many training tokens was it trained on" ->
    "tokens", "how many views does it output" -> "views"."""
    found = []
    for quantity in QUANTITY.finditer(ASIDE.sub("", question)):
        noun = (quantity.group("counted") or quantity.group("how") or "").split()[-1:]
        # A plural noun counted ("tokens", not "process"): not "how many times faster", a ratio.
        if noun and re.match(r"how many\b", quantity.group(0), re.I) and PLURAL_NOUN.fullmatch(noun[0]) \
                and noun[0].lower() not in {"times", "less"}:
            found.append(noun[0])
    return tuple(dict.fromkeys(found))


def holds_word(text: str, word: str, flags: int = 0) -> bool:
    """Does `text` hold `word` as a whole word (not inside "X-word" or "wordy")?"""
    return bool(re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text, flags))


# Where the clause of "what X does Y <verb>" ends: its verb is before this.
CLAUSE_END = re.compile(r"[,;:?!.]|\s(?:to|and|so|while|but|because)\s", re.I)
# What a measurement is of, after its name: "speedup over Osprey", "fraction of A100 peak throughput".
MEASURED_OF = re.compile(r"\s(?:over|of|on|for|with|against|than|versus|vs|compared|relative|in|at|from)\b.*", re.I)


def measurement(question: str) -> str:
    """The measurement the question asks for ("top-1 accuracy", "PSNR"), or "" when it asks what, not how much."""
    question = ASIDE.sub("", question)  # "how many GPU hours (and on what cluster) did it take": an aside
    # The first asked quantity that is a measurement: "How many Portuguese tokens ..., and by what
    # percentage does it cut the count?" asks for the percentage.
    return next((phrase for quantity in QUANTITY.finditer(question) if (phrase := _measured(question, quantity))), "")


def _measured(question: str, quantity: re.Match[str]) -> str:
    phrase = next((g for g in quantity.groups() if g), "")
    if quantity.group("counted"):
        phrase = phrase.split()[-1]  # what is counted is its noun: "how many extra parameters" counts parameters
    measure = bool(MEASURE.search(phrase))
    if quantity.group("changed"):
        return phrase if measure else ""  # "how much does MAXIM improve PSNR": what changes is the paper
    # A value reached ("what Elo rating does it reach") is a measurement whatever its noun; the verb
    # must be that clause's ("what architecture does it use to achieve ..." asks what, not how much).
    clause = question[quantity.end():]
    end = CLAUSE_END.search(clause)
    reached = bool(quantity.group("what") and REACHES.search(clause[: end.start() if end else None]))
    if not (measure or re.search(r"\b[A-Z]{2,}\b", phrase) or reached):
        return ""  # "what functional form did ...": asks what, not how much
    return phrase


def measured_names(phrase: str) -> set[str]:
    """Name keys of the measurement itself ("PSNR and SSIM" -> psnr, ssim), not of what it is of
    ("speedup over Osprey" -> speedup): the latter may name a paper."""
    return {key for word in re.split(r"[\s/]+", MEASURED_OF.sub("", phrase)) if (key := name_key(word))}


def asking_part_of(parts: tuple[str, ...], phrase: str) -> str:
    """The part (of the question's `parts_of`) that asks for the measurement `phrase` ("" when none does)."""
    return next((part for part in parts if phrase and measurement(part) == phrase), "")


# Where one asked thing ends and the next begins: a question mark or semicolon (and an "And ..."
# after it), or a comma, colon or "and" before a new question word ("how few params ..., and how
# fast does it run ...?").
PART_BREAK = re.compile(r"[?;]+\s*(?:(?:and|also|but|plus)\s+)?"
                        r"|(?:[,:]\s*(?:and\s+)?|\s+and\s+)(?=(?:how|what|which|who|where|when|why|whether|"
                        r"does|do|did|is|are|was|were|can|could)\b)", re.I)


# A part that asks starts with a question word or a request; "When the base model is replaced, how
# ..." and "For adapting a classifier ..., is there ..." open with context, which is not asked.
ASKS = re.compile(r"^(?:how|what|what's|which|who|whose|where|why|whether|does|do|did|is|are|was|were|can|could|"
                  r"should|would|will|has|have|list|show|give|name|find|tell|summari[sz]e|compare|describe)\b", re.I)


def parts_of(question: str) -> tuple[str, ...]:
    """The things the question asks, in order: its asking sentences split at question marks and at
    coordinated question words. Context clauses, and parts with no content word of their own
    ("and how?"), are dropped."""
    parts = (part.strip(" ,.") for part in PART_BREAK.split(asking_part(question)))
    return tuple(part for part in parts if ASKS.match(part) and content_stems(part, REQUEST_WORDS))


IMPERATIVE = re.compile(r"^\s*(?:please\s+)?(?:list|show|give|name|find|tell|summari[sz]e|compare|describe)\b", re.I)


def asking_part(question: str) -> str:
    """The sentences that ask (questions, requests), without the context a user gives before them."""
    from ingest.chunking import split_sentences

    sentences = split_sentences(question)
    asking = [s for s in sentences if s.rstrip().endswith("?") or IMPERATIVE.match(s)]
    return " ".join(asking) if asking else question


PAPER_NOUNS = re.compile(r"\b(?:papers|works|studies|articles|publications)\b", re.I)


def intent_of(question: str, named: int, resolved: Resolved, described: int = 0) -> tuple[Intent, bool]:
    """(intent, plural): the answer kind the question's form asks for. `described` counts the sides of a
    contrast given by description (`described_sides`)."""
    # A quoted phrase is the words of a title or an abstract, not the question's form: "does DVERGE or
    # 'ensemble everything everywhere' need ..." asks about two papers, not for everything.
    question = QUOTED.sub("Q", question)
    asking = asking_part(question)
    plural = bool(PLURAL.search(asking))
    if TOPIC_SUMMARY.search(question):
        return "topic_summary", True
    # A follow-up on the one paper discussed that points at it ("which methods exactly, and what did they
    # find ...?") asks about that paper, not for a list; one that asks for papers ("which papers cite it?",
    # "are there other studies ...?") still wants a list.
    about_discussed = (resolved.is_follow_up and not resolved.listed and not resolved.wants_other_paper
                       and bool(PRONOUN.search(asking)) and not PAPER_NOUNS.search(asking))
    # "Compare the two papers on stereo super-resolution", "contrast both scaling-law studies": a request to
    # compare a number of papers, whatever plural names them ("which papers compare two methods?" is a list).
    if COMPARE_COUNTED.search(question) and not resolved.is_follow_up:
        return "compare", False
    # "How is GPTQ different from the PTQ paper that ...? ... on which models ...": two papers, one described,
    # whatever plural the rest of the question uses.
    if described and named + described >= 2 and not resolved.is_follow_up:
        return "compare", False  # "ST-3 vs the layer-adaptive pruning paper that ...": two papers, one described
    if plural and not resolved.referenced and not (resolved.is_follow_up and named) and not about_discussed:
        return "list", True
    if resolved.referenced and len(resolved.referenced) >= 2:
        return "compare", False
    if described and resolved.is_follow_up and resolved.compare_with_earlier and not resolved.wants_other_paper:
        return "compare", False  # "compare it with the paper that ...": the paper discussed, and the described one
    # "How much faster than Osprey is Kestrel?" asks for one paper's figure, measured against the other.
    # So does "What WER does S2-LoRA reach, compared with AdaLoRA?" and "..., vs AdaLoRA?": the
    # others are what its figure is measured against (an aside, "(or CER)", is not the form).
    comparing = {word.lower() for word in COMPARE.findall(ASIDE.sub("", question))}
    against = comparing <= REFERENCE_WORDS and bool(comparing - {"and"}) and bool(ASKS_NUMBER.search(question))
    if named >= 2 and COMPARE.search(question) and not against:
        return "compare", False
    if EXPLICIT_COMPARE.search(question) and COUNTED.search(question) and not resolved.is_follow_up:
        return "compare", False  # "compare the two scaling-law studies": the count says how many
    if resolved.compare_with_earlier and resolved.is_follow_up and named >= 1 and not resolved.wants_other_paper:
        return "compare", False  # "how does that compare with X": X against the paper discussed
    if SUMMARY.search(question) and not resolved.is_follow_up:
        return "summary", False
    return "lookup", False


FRAME_WORDS = REQUEST_WORDS | {"i", "me", "my", "we", "in", "the", "a", "an", "of", "on", "to", "are", "is",
                               "there", "here", "which", "what", "m", "want", "it"}


# A sentence about the user, not the topic: "I need the complete list for a table.", "Thanks!".
REMARK = re.compile(r"^\s*(?:i|i'm|i've|i'd|we|we're|thanks|thank you|cheers|this is for|it's for)\b", re.I)
# What the list should leave out: "Leave out test-time adaptation.", "Not offloading it to CPU, ...",
# "RL used only as a search controller ... don't count." Its words would pull those papers in.
EXCLUSION = re.compile(r"^\s*(?:leave out|leaving out|not|no|exclude|excluding|except|skip|ignore|ignoring|but not)\b"
                       r"|\b(?:don't|do not|doesn't|does not|won't|shouldn't) count\b", re.I)


def topic_of(question: str) -> str:
    """The question's words without how it asks: what a list of papers must be about. After the last
    question, a remark ("I need the complete list for a table."), an exclusion ("Leave out test-time
    adaptation.") or a bare request ("list all of them") says why or what not, not what about; a
    sentence that adds to the topic ("Specifically, pruning of object detectors.") and context before the
    question ("We prune detectors. Which papers do that?") stay."""
    from ingest.chunking import split_sentences

    sentences = split_sentences(question)
    last = max((n for n, sentence in enumerate(sentences) if sentence.rstrip().endswith("?")), default=None)
    if last is not None and all(REMARK.match(sentence) or EXCLUSION.search(sentence)
                                or not content_stems(sentence, REQUEST_WORDS) for sentence in sentences[last + 1:]):
        question = " ".join(sentences[:last + 1])
    words = re.findall(r"[\w'-]+|[^\w\s]", question)
    return " ".join(w for w in words if w.lower() not in FRAME_WORDS).strip() or question


def make_plan(resolved: Resolved, candidates: Candidates, names: NameIndex,
              papers: dict[str, StoredPaper]) -> Plan:
    """The plan of one turn: its intent, the papers it names, what it asks for, its topic."""
    question = resolved.question
    # The measurement asked for names no paper: "what PSNR does ZeroRF reach" is about ZeroRF, even
    # where another abstract spells out "peak signal-to-noise ratio (PSNR)".
    phrase = measurement(question)
    measured = measured_names(phrase)
    by_other_names = {pid for match in candidates.mentions if match.key not in measured
                      for pid in match.paper_ids}
    named = [pid for pid in candidates.named if pid in by_other_names or not measured]
    if len(named) == 1 and not resolved.is_follow_up:
        named += described_other_side(question, named[0], candidates, papers)
    # A follow-up's contrast can describe its other side too: "compare it with the paper that distills ...".
    descriptions = described_sides(question, named, names) \
        if not resolved.is_follow_up or resolved.compare_with_earlier else ()
    intent, _ = intent_of(question, len(named), resolved, len(descriptions))
    existential = existential_sentence(question)
    # Naming a paper is not asking for it: its own names are not specifics the answer must state.
    own_keys = set(candidates.name_keys)
    for pid in [*named, *resolved.referenced]:
        own_keys |= names.own_names(pid)
        if pid in papers:
            own_keys.add(name_key(papers[pid].title.split(":", 1)[0]))
    return Plan(resolved, intent, named, asked_for(question, own_keys, phrase),
                asked_unknown(question, existential, names), compare_count(question, len(named)), topic_of(question),
                context_named(existential, named, names),
                bool(CONTRASTS.search(question)),
                descriptions if intent == "compare" else ())


# "Is there a ... that ...?", "Is there work ...", "Are there any ...", "Do you have a paper ...": asks
# whether a paper exists.
EXISTENTIAL = re.compile(r"\b(?:is|are)\s+there\s+(?:also\s+|even\s+)?(?:a|an|any|some|work|research)\b"
                         r"|\bdo\s+you\s+have\s+(?:a|an|any)\b"
                         r"|\bany\s+(?:other\s+)?(?:paper|work|study)\b", re.I)
PRONOUN = re.compile(r"\b(?:it|its|it's|they|them|their)\b", re.I)


def existential_sentence(question: str) -> str:
    """The question's first sentence asking whether a paper exists ("" when none does)."""
    from ingest.chunking import split_sentences

    return next((s for s in split_sentences(question) if EXISTENTIAL.search(s)), "")


def asked_unknown(question: str, existential: str, names: NameIndex) -> list[str]:
    """The names no paper mentions that the question asks about. When it asks whether some paper
    exists (`existential`: "Some background: we need a smaller U-Net for SDXL and SD 1.5. ... Is there
    work that ...?"), names in its context describe the user's setting, not what must be in the answer."""
    unknown = names.unknown_names(question)
    if not unknown or not existential:
        return unknown
    asked = asking_part(question)
    return [name for name in unknown if name in asked]


def context_named(asking: str, named: list[str], names: NameIndex) -> list[str]:
    """The named papers only the question's context names when it asks whether a paper exists
    (`asking`, its existential sentence): "VAR's tokenizer is a pain to swap out. Is there a
    next-scale generator that ...?" asks for a paper other than VAR. A name in the asking sentence,
    or a pronoun there ("is there a way to make it cheaper?"), keeps the named paper the subject."""
    if not named or not asking or PRONOUN.search(asking):
        return []
    # A name ("VAR", "a Kestrel result") names the paper asked about; a phrase of a title ("next-scale
    # prediction") describes what is asked for.
    in_ask = {pid for match in names.mentions(asking) if match.key not in names.title_phrases
              for pid in match.paper_ids}
    return [pid for pid in named if pid not in in_ask]


# "How is X different from Y", "X vs. Y", "compare X with Y": a contrast with a side on each hand.
CONTRAST_SIDES = re.compile(
    r"^(?P<a>.+?)\b(?:different from|differs? from|vs\.?|versus|compared (?:with|to)|in contrast to|beats?|"
    r"outperforms?|(?:better|worse|faster|slower) than)\s(?P<b>.+)$"
    # "How does that compare with the paper that ...": the side before "compare" is the subject asked about.
    r"|^(?:.*?\b)?compares?\s+(?:with|to|against)\s(?P<e>.+)$"
    r"|^(?:.*?\b)?compare (?P<c>.+?) (?:with|to|and|against) (?P<d>.+)$", re.I)


# A definite description of one paper: "the layer-adaptive pruning paper that ...", "the one on ...", "the
# NAS that uses a boosted-tree predictor". A plural ("the BERT-style masked models", "the LLM-based
# forecasters that ...") is a kind of method the paper measures against, not one paper.
DESCRIPTION = re.compile(r"^\s*(?:the|that)\s+(?!(?:first|second|third|last|former|latter|same|other)\b)"
                         r"(?:(?:[^\s,;:?]+\s+){0,8}?(?:paper|study|work|one|method|approach|model|framework|network|"
                         r"system|technique|survey|benchmark)\b(?!s)|(?:[^\s,;:?]+\s+){0,3}?[^\s,;:?]*(?-i:[^\s,;:?s])\s+"
                         r"(?:that|which|whose)\b)", re.I)
# "the LLM-based time-series forecasters": a side that ends on a plural names a kind of method.
PLURAL_CLASS = re.compile(r"^\s*(?i:the)\s+(?:[^\s,;:?]+\s+){0,5}?[a-z][\w-]*[^\Wsui]s\s*$")
# Where the side before a contrast word begins: after the context and the question's opening ("Compact
# BERTs for medicine: how is the lightweight clinical transformers work different from ...").
SIDE_START = re.compile(r"^.*(?:[:?;]|\s-\s|\.\s|,\s*(?=(?:how|what|in what|why|does|do|did|is|are)\b))\s*"
                        r"|^\s*(?:how|in what ways?|why)?\s*(?:is|are|was|were|does|do|did)\s+", re.I | re.S)
# "Two RL papers ...: one replaces the regression objective ..., the other replaces neural networks ...":
# each side describes one paper by what it does, once the question speaks of two papers ("a model with
# two experts, one for vision, the other for language" describes one model's parts).
ONE_AND_OTHER = re.compile(r"\btwo\s+(?:[\w-]+\s+){0,3}?(?:papers|studies|works|articles)\b[^?]*?"
                           r"\bone\s+(?P<a>[^,;:?]+?)\s*[,;]\s*(?:and\s+|while\s+|whereas\s+)?the other\s+(?P<b>.+)$",
                           re.I)
# Where a side's description ends: the question that follows it ("...: how does each ...").
SIDE_END = re.compile(r"[:?;]|\s-\s|\.(?:\s|$)|,\s*(?:and\s+|or\s+)?(?=(?:how|what|which|who|where|when|why|"
                      r"does|do|did|is|are|was|were|can|could)\b)", re.I)
# "Which of the two ...: A, or B?", "Which of A and B ...", "the one on A, and the one on B".
CHOICE = re.compile(r"\bwhich of (?:the|these|those) (?:two|three)\b[^:]*:\s*(?P<a>.+?),?\s+or\s+(?P<b>.+)$", re.I)
WHICH_OF_SIDES = re.compile(r"\bwhich of (?!(?:the|these|those|them)\b)(?P<a>.+?),?\s+(?:and|or)\s+(?P<b>.+)$", re.I)
# "the one on A, and the one on B", "the high-frequency trading one and the stock index one with a CNN":
# its modifiers are neither function words nor figures ("the difference between the one-shot setting",
# "the 3-bit one and the 4-bit one", "the related work and the future work" are no papers).
# A word that can describe a paper before its head noun: not a function word ("between the one-shot ...").
MODIFIER = r"(?!(?:the|a|an|of|on|in|at|to|for|with|by|between|per|and|or|is|are|was|were)\b)"
DESCRIBED_ONE = (rf"the (?:(?:one|paper|study|work)\b(?!-)|(?:(?![\w-]*\d){MODIFIER}[\w-]+\s+){{1,3}}?"
                 r"(?:one|paper|study)\b(?!-))")
JOINED = re.compile(rf"(?P<a>\b{DESCRIBED_ONE}.*?),?\s+and\s+(?P<b>{DESCRIBED_ONE}.+)$", re.I)
# "three review-type papers I might cite: the survey on ..., the comprehensive PEFT survey ..., and the
# critical review of ...": the papers counted, each described after the colon.
SERIES = re.compile(r"\b(?:two|three)\s+(?:[\w-]+\s+){0,3}?(?:papers|studies|works|articles|surveys|reviews)\b"
                    r"[^:?]*:\s*(?P<a>the\s[^,;]+?)(?:,\s*(?P<b>the\s[^,;]+?))?,?\s+and\s+(?P<c>the\s[^.?;]+)",
                    re.I)
# "Both the sparsely aggregated convnet paper and VoVNet push back on ...": the sentence's two subjects,
# when a side is a paper (`PAPER_SIDE`): "both the vision model and the language model" are parts of one.
BOTH = re.compile(r"(?:^|[.:;?]\s+)both\s+(?P<a>.+?)\s+and\s+(?P<b>.+)$", re.I)
PAPER_SIDE = re.compile(rf"^\s*the\s+(?:{MODIFIER}[^\s,;:?]+\s+){{0,4}}?(?:paper|study|one|survey)\b(?!-)", re.I)


def described_sides(question: str, named: list[str], names: NameIndex) -> tuple[str, ...]:
    """The sides of a contrast that describe a paper rather than name it: "ST-3 vs the layer-adaptive
    weight pruning paper that solves the allocation with dynamic programming" has one, "the one on
    over-trained language models, and the one on scaling the retrieval datastore" two. A side holding a
    name of a named paper is that paper; "versus a standard ViT" (no definite description) is a baseline."""
    # A quoted title's own words ("'To prune, or not to prune'") neither split nor end a side.
    masked = QUOTED.sub(lambda m: "_" * len(m.group(0)), question)
    for pattern in (ONE_AND_OTHER, CONTRAST_SIDES, CHOICE, WHICH_OF_SIDES, SERIES, JOINED, BOTH):
        match = pattern.search(masked)
        if match and pattern is ONE_AND_OTHER and len(named) >= 2:
            continue  # "Does SPANet agree with SViT? One says ..., the other ...": the named papers, described
        if match:
            spans = [match.span(group) for group in range(1, len(match.groups()) + 1) if match.group(group)]
            sides = [_side(question, masked, start, end) for start, end in spans]
            # A named paper's name in every side ("Google's multilingual NMT vs the scaling-laws study of
            # multilingual NMT") says what both are about, not which side is that paper.
            mentioned = [{pid for m in names.mentions(side) for pid in m.paper_ids if pid in named} for side in sides]
            shared = set.intersection(*mentioned) if len(mentioned) > 1 else set()
            return tuple(side for side, pids in zip(sides, mentioned, strict=True)
                         if (pattern is ONE_AND_OTHER or (PAPER_SIDE if pattern is BOTH else DESCRIPTION).match(side))
                         and not pids - shared)
    return ()


def _side(question: str, masked: str, start: int, end: int) -> str:
    """One side of a contrast: up to the question that follows it, and for the side the question opens
    with, from where the context and the question's own opening words end."""
    text = masked[start:end]
    skip = 0
    if start == 0:  # it ends at the contrast word; it begins where the question does
        while (opening := SIDE_START.match(text[skip:])) and opening.end():
            skip += opening.end()
    else:
        text = SIDE_END.split(text, 1)[0]
    side = question[start + skip:start + len(text)].strip(" ,'\"")
    # "(the high-frequency trading one and ...": a bracket the side does not close (or open) is the aside's
    if side.endswith(")") and side.count(")") > side.count("("):
        side = side[:-1].rstrip()
    if side.startswith("(") and side.count("(") > side.count(")"):
        side = side[1:].lstrip()
    return side


def described_other_side(question: str, named: str, candidates: Candidates,
                         papers: dict[str, StoredPaper]) -> list[str]:
    """The paper a contrast names by description on its other side ("TIES-Merging different from
    Fisher merging"): the best-retrieved candidate whose title or abstract holds that side's names
    ("Fisher"). None when that side names nothing specific ("different from prior work")."""
    match = CONTRAST_SIDES.search(asking_part(question))
    if not match or match.group("e"):
        # "how does that compare with the cost of DARTS": what "that" is need not be a paper, nor is a
        # paper that mentions DARTS its other side (`described_sides` still finds a described paper there,
        # "the paper that ...").
        return []
    sides = [side for side in match.groups() if side]
    # "versus a standard multi-head ViT", "vs the LLM-based forecasters: ...": a kind of model, a baseline,
    # not one paper.
    if re.match(r"\s*an?\b", sides[-1], re.I) or PLURAL_CLASS.match(SIDE_END.split(sides[-1], 1)[0]):
        return []
    keys = {m.key for m in candidates.mentions if named in m.paper_ids}
    other = [side for side in sides if not any(key in name_key(side) for key in keys)]  # "Sparse R-CNN" too
    if len(other) != 1:
        return []
    # A capitalized word is a name ("Fisher") unless it opens the question ("How"), as is anything
    # SPECIFIC finds ("LoRA").
    opening = {name_key(w) for w in question.split()[:1]}
    terms = {bare_name(m.group(0).removesuffix("'s")) for m in [*SPECIFIC.finditer(other[0]),
                                                      *re.finditer(r"(?<![\w-])[A-Z][\w+-]*", other[0])]}
    terms = {t for t in terms if name_key(t) not in keys | opening}
    if not terms:
        return []

    def holds(paper: StoredPaper) -> bool:
        text = f"{paper.title} {paper.abstract}"
        return all(holds_word(text, term, re.I) for term in terms)

    found = [hit.paper.id for hit in candidates.hits if hit.paper.id != named and hit.paper.id in papers
             and holds(papers[hit.paper.id])]
    return found[:1]


def compare_count(question: str, named: int) -> int:
    if named >= 2:
        return min(named, 3)
    for word, count in COUNT_WORDS.items():
        if re.search(rf"(?<![\w-]){word}(?![\w-])", question, re.I):  # not the "3" of "ST-3"
            return count
    return 2


def is_count_question(question: str) -> bool:
    return bool(COUNT.search(question))
