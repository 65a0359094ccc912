"""The one rule for text that leaves paperchat: markup escaped, links that are not http(s) defused.

Answers quote abstracts verbatim, and an abstract may carry `<img src=x onerror=...>` or
`[click](javascript:...)`. Every channel (the CLI and its `--json`, the Gradio API, `/v1`, MCP,
the Markdown export and the UI's chat bubbles) passes its text through `safe_markdown`, so a client
that renders Markdown and some HTML (Open WebUI, LibreChat, an IDE agent) shows that as text:

- `&`, `<`, `>` become entities, so no HTML tag or autolink (`<javascript:...>`) survives;
- backticks become `&#96;`, so no quoted text turns into a code span that hides what follows;
- `](` and `]:` get a backslash (`]\\(`, `]\\:`) unless an `http://` or `https://` address follows:
  an inline link or image, or a reference definition, to any other scheme (or a relative address)
  renders as the text it is. `[n]` citation markers and already escaped `\\[n\\]` are untouched.

`SafeStream` applies the same rule to text that arrives in pieces (streamed tokens), holding back
only the few characters after a `]` that decide whether a link follows.
"""

from __future__ import annotations

import html
import re
from typing import Any

# `](` or `]:` not followed by an http(s) address (whitespace may come between, as Markdown allows).
_LINK_START = re.compile(r"\]([(:])(?!\s*https?://)", re.IGNORECASE)
_OPENING = re.compile(r"[(:]\s*")  # what may follow a `]` before the address itself starts
_SAFE_SCHEMES = ("http://", "https://")
_TOUCHED = re.compile(r"[&<>`\]]")  # a string without these is already safe: most titles, ids, kinds


def safe_markdown(text: str) -> str:
    """`text` with markup escaped and non-http(s) links defused (see the module docstring)."""
    if not _TOUCHED.search(text):
        return text
    defused = _LINK_START.sub(r"]\\\1", text)
    return html.escape(defused, quote=False).replace("`", "&#96;")


def safe_data(value: Any) -> Any:
    """Every string inside `value` (dicts, lists, tuples) through `safe_markdown`; keys and other types as they are.

    Identifiers (paper ids, kinds, generator names) contain none of the characters the rule
    changes, so applying it to every string is a no-op for them and safe for any field added later.
    """
    if isinstance(value, str):
        return safe_markdown(value)
    if isinstance(value, dict):
        return {key: safe_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [safe_data(item) for item in value]
    return value


def safe_answer(answer: Any, with_abstracts: bool = False) -> dict[str, Any]:
    """An `Answer` as the dict every channel sends: `Answer.to_dict()` with every string made safe."""
    return safe_data(answer.to_dict(with_abstracts=with_abstracts))


def _undecided(tail: str) -> bool:
    """After a `]`, could more text still change whether `_LINK_START` matches here?"""
    if not tail:
        return True
    opening = _OPENING.match(tail)
    if opening is None:
        return False  # the `]` is followed by something other than `(` or `:`: no link starts here
    rest = tail[opening.end():].lower()
    if not rest:
        return True  # `](` with maybe spaces: the address is still to come
    return rest not in _SAFE_SCHEMES and any(scheme.startswith(rest) for scheme in _SAFE_SCHEMES)


class SafeStream:
    """`safe_markdown` for text in pieces: the joined output equals `safe_markdown` of the joined input."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        cut = len(text)
        bracket = text.rfind("]")
        if bracket >= 0 and _undecided(text[bracket + 1:]):
            cut = bracket  # keep the `]` and what follows until the next piece decides
        self._held = text[cut:]
        return safe_markdown(text[:cut])

    def flush(self) -> str:
        rest, self._held = self._held, ""
        return safe_markdown(rest)
