"""LaTeX to Unicode, as bibtexparser's LatexDecodingMiddleware does it (pylatexenc), for BibTeX and arXiv text.

`{\\"u}ber` -> `über`, `$\\alpha$` -> `α`, `\\&` -> `&`, `{ZeRO}` -> `ZeRO`, `--` -> `–`. Math is decoded
to text (the middleware's default keeps `$...$` verbatim), so the BibTeX copy of a paper and its
Unicode copy get one title key.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

import pylatexenc.latex2text
from pylatexenc import latexwalker
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec

# pylatexenc logs every macro it does not know; the text it returns is still the best it can do.
logging.getLogger("pylatexenc").setLevel(logging.ERROR)

# Text without any of these reads the same decoded: it skips the parser. A bare `%` is escaped
# first, so it never hides here: in a field value it is a percent sign, not a LaTeX comment.
LATEX_MARKUP = re.compile(r"[\\{}$~]|--|``|''")
BARE_PERCENT = re.compile(r"(?<!\\)%")
# pylatexenc reads a string character by character (~3.5 ms for a 1,200-character abstract, most of
# a 10k-entry file's parse time), yet markup is a few short spans of mostly plain text. Each span is
# decoded by pylatexenc on its own (the same spans recur across a library, so they are cached):
# math, a command with its brace arguments, an accent or escape with its letter, a brace group (three
# levels deep), a dash or quote ligature, a tie.
GROUP = r"\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}"
MARKUP_SPAN = re.compile(
    r"\$[^$]*\$"
    rf"|\\[a-zA-Z]+\*?(?:{GROUP})*"
    r"|\\[^a-zA-Z\s](?:\{[^{}]*\}|\\[a-zA-Z]+|[a-zA-Z])?"
    rf"|{GROUP}"
    r"|--+|``|''|~")
# Where span by span could read otherwise than the whole: display math, or markup no span covers
# (a group nested deeper, an unbalanced brace). Then the whole text goes to pylatexenc.
WHOLE_TEXT_ONLY = re.compile(r"\\[(\[]|\$\$")
LEFT_OVER_MARKUP = re.compile(r"[\\{}$]")


class ProseDecoder(LatexNodes2Text):
    """pylatexenc's decoder with bibtexparser's context (`\\url{x}` -> `x`), math as text, and a fast path."""

    def __init__(self) -> None:
        context = pylatexenc.latex2text.get_default_latex_context_db()
        # `\\textasciicircum` is a caret as written ("^"), not pylatexenc's modifier letter "ˆ", which
        # would make a title exported by paperchat (assistant.export) read back as another title.
        context.add_context_category("paperchat-bibtex", prepend=True,
                                     macros=[MacroTextSpec("url", simplify_repl="%s"),
                                             MacroTextSpec("textasciicircum", simplify_repl="^")])
        super().__init__(latex_context=context, keep_braced_groups=False, math_mode="text")
        # The parser's own macro table, built once (LatexWalker builds it anew per string by default).
        self._walker_context = latexwalker.get_default_latex_context_db()
        self._span = functools.lru_cache(maxsize=65_536)(self._decode_whole)

    def _decode_whole(self, latex: str) -> str:
        return super().latex_to_text(latex, latex_context=self._walker_context)

    def latex_to_text(self, latex: str, **kwargs: Any) -> str:
        latex = BARE_PERCENT.sub(r"\\%", latex) if "%" in latex else latex
        if not LATEX_MARKUP.search(latex):
            return latex
        if kwargs or WHOLE_TEXT_ONLY.search(latex):
            return super().latex_to_text(latex, **kwargs)
        pieces: list[str] = []
        position = 0
        for span in MARKUP_SPAN.finditer(latex):
            plain = latex[position:span.start()]
            if LEFT_OVER_MARKUP.search(plain):
                return self._decode_whole(latex)
            pieces += [plain, self._span(span.group())]
            position = span.end()
        if LEFT_OVER_MARKUP.search(latex[position:]):
            return self._decode_whole(latex)
        pieces.append(latex[position:])
        return "".join(pieces)


_decoder: ProseDecoder | None = None


def decoder() -> ProseDecoder:
    """One decoder per process: building its macro tables takes ~20 ms."""
    global _decoder
    if _decoder is None:
        _decoder = ProseDecoder()
    return _decoder


def latex_to_text(text: str) -> str:
    """Decode LaTeX markup; text that does not parse is returned as written."""
    try:
        return decoder().latex_to_text(text)
    except Exception:  # pylatexenc raises its own errors on broken markup; the raw text is still the text
        return text
