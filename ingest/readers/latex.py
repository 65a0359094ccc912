"""LaTeX to Unicode, as bibtexparser's LatexDecodingMiddleware does it (pylatexenc), for BibTeX and arXiv text.

`{\\"u}ber` -> `über`, `$\\alpha$` -> `α`, `\\&` -> `&`, `{ZeRO}` -> `ZeRO`, `--` -> `–`. Math is decoded
to text (the middleware's default keeps `$...$` verbatim), so the BibTeX copy of a paper and its
Unicode copy get one title key.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pylatexenc.latex2text
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec

# pylatexenc logs every macro it does not know; the text it returns is still the best it can do.
logging.getLogger("pylatexenc").setLevel(logging.ERROR)

# Text without any of these reads the same decoded: skip the parser (a 1,200-character abstract
# costs ~3.5 ms in pylatexenc, most of a 10k-entry file's parse time). A bare `%` is escaped
# first, so it never hides here: in a field value it is a percent sign, not a LaTeX comment.
LATEX_MARKUP = re.compile(r"[\\{}$~]|--|``|''")
BARE_PERCENT = re.compile(r"(?<!\\)%")


class ProseDecoder(LatexNodes2Text):
    """pylatexenc's decoder with bibtexparser's context (`\\url{x}` -> `x`), math as text, and a fast path."""

    def __init__(self) -> None:
        context = pylatexenc.latex2text.get_default_latex_context_db()
        # `\textasciicircum` is a caret as written ("^"), not pylatexenc's modifier letter "ˆ", which
        # would make a title exported by paperchat (assistant.export) read back as another title.
        context.add_context_category("paperchat-bibtex", prepend=True,
                                     macros=[MacroTextSpec("url", simplify_repl="%s"),
                                             MacroTextSpec("textasciicircum", simplify_repl="^")])
        super().__init__(latex_context=context, keep_braced_groups=False, math_mode="text")

    def latex_to_text(self, latex: str, **kwargs: Any) -> str:
        latex = BARE_PERCENT.sub(r"\\%", latex) if "%" in latex else latex
        if not LATEX_MARKUP.search(latex) and "\\%" not in latex:
            return latex
        return super().latex_to_text(latex, **kwargs)


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
