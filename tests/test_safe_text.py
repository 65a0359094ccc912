"""The one escaping rule (assistant/safe_text.py): what it changes, what it leaves, and that the streamed
form gives exactly the same text however the input is cut. The rule applied on each channel to a planted
abstract is tested in tests/test_text_channels.py.
"""

from __future__ import annotations

import random

import pytest
from apiserver import rendered

from assistant.answer import Answer, RetrievedPaper, Source
from assistant.safe_text import SafeStream, safe_answer, safe_data, safe_markdown


@pytest.mark.parametrize("raw, safe", [
    ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
    ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("[click](javascript:alert(1))", "[click]\\(javascript:alert(1))"),
    ("![x](data:image/svg+xml;base64,PHN2Zz4=)", "![x]\\(data:image/svg+xml;base64,PHN2Zz4=)"),
    ("[rel](/logout) and [mail](mailto:a@b.c)", "[rel]\\(/logout) and [mail]\\(mailto:a@b.c)"),
    ("[ref]: javascript:alert(1)", "[ref]\\: javascript:alert(1)"),
    ("<javascript:alert(1)>", "&lt;javascript:alert(1)&gt;"),
    ("&#106;avascript", "&amp;#106;avascript"),
    ("`code` span", "&#96;code&#96; span"),
    ("[code](https://github.com/x/y) and [doc]( HTTP://example.org)",
     "[code](https://github.com/x/y) and [doc]( HTTP://example.org)"),
    ("cites [1] and [2], and the abstract's own \\[3\\]", "cites [1] and [2], and the abstract's own \\[3\\]"),
    ("| **Method** | x [1] |\n|---|---|", "| **Method** | x [1] |\n|---|---|"),
])
def test_rule(raw: str, safe: str) -> None:
    assert safe_markdown(raw) == safe


def test_rendered_markdown_keeps_http_links_and_nothing_else() -> None:
    html = rendered(safe_markdown("See [code](https://github.com/x) or [run](javascript:alert(1)) "
                                  "<b onmouseover=x>bold</b> ![i](http://x/i.png)"))
    assert '<a href="https://github.com/x">code</a>' in html
    assert 'href="javascript' not in html and "<b " not in html and "&lt;b onmouseover=x&gt;" in html
    assert '<img src="http://x/i.png"' in html  # an http(s) image is a link to an http(s) address too


def test_stream_gives_the_same_text_however_it_is_cut() -> None:
    alphabet = list("]():/ htpsHTPS<>&`ab\n[\\")
    pieces = random.Random(15)  # fixed seed: the same 5,000 cases every run
    for _ in range(5000):
        text = "".join(pieces.choice(alphabet) for _ in range(pieces.randint(0, 40)))
        stream, out, start = SafeStream(), "", 0
        while start < len(text):
            end = start + pieces.randint(1, 6)
            out += stream.feed(text[start:end])
            start = end
        out += stream.flush()
        assert out == safe_markdown(text), text


def test_stream_holds_back_only_an_undecided_link() -> None:
    stream = SafeStream()
    assert stream.feed("quoted [click]") == "quoted [click"  # a `(` may follow
    assert stream.feed("(htt") == ""  # http:// or something else?
    assert stream.feed("ps://ok.org) fine") == "](https://ok.org) fine"
    assert stream.feed(" then [x](java") == " then [x]\\(java"
    assert stream.flush() == ""


def test_safe_answer_makes_every_string_safe_and_keeps_numbers_and_ids() -> None:
    answer = Answer("What is <b>X</b>?", "X <img src=x> [1]", "lookup",
                    [Source(1, "p1", "T <i>", ["a.jsonl:1"], ["X <img src=x>"], "abstract <img src=x>")],
                    [RetrievedPaper("p1", "T <i>", 0.5)], notices=["fell back to `extractive`"])
    data = safe_answer(answer)
    assert data["text"] == "X &lt;img src=x&gt; [1]" and data["question"] == "What is &lt;b&gt;X&lt;/b&gt;?"
    assert data["sources"][0]["title"] == "T &lt;i&gt;" and data["sources"][0]["sentences"] == ["X &lt;img src=x&gt;"]
    assert "abstract" not in data["sources"][0]  # as Answer.to_dict(): abstracts only when asked for
    assert data["retrieved"][0] == {"paper_id": "p1", "title": "T &lt;i&gt;", "score": 0.5}
    assert data["notices"] == ["fell back to &#96;extractive&#96;"]
    assert data["kind"] == "lookup" and data["sources"][0]["number"] == 1 and data["abstained"] is False
    assert safe_data({"status": "answered", "missing": ["<x>"]}) == {"status": "answered", "missing": ["&lt;x&gt;"]}
