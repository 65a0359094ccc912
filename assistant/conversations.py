"""Conversations kept for clients that come back by id (MCP's `conversation_id`) or by history (/v1).

Both stores are bounded: at most `limit` entries, each dropped once unused for `max_age_s`, the
least recently used first when full. So a client that opens conversations without end, or never
returns, costs a fixed amount of memory. Safe to share between threads.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from assistant.answer import Answer
from assistant.chat import Conversation

Value = TypeVar("Value")


class UnknownConversation(KeyError):
    """A conversation id that was never issued, or whose conversation expired or was evicted."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown conversation"


class BoundedStore(Generic[Value]):
    """A dict with a size limit and an idle-age limit; `clock` is injectable for tests of expiry."""

    def __init__(self, limit: int, max_age_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.max_age_s = max_age_s
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, Value]] = OrderedDict()  # oldest use first
        self._lock = threading.Lock()

    def get(self, key: str) -> Value | None:
        with self._lock:
            self._expire()
            entry = self._items.get(key)
            if entry is None:
                return None
            self._items[key] = (self._clock(), entry[1])
            self._items.move_to_end(key)
            return entry[1]

    def put(self, key: str, value: Value) -> None:
        with self._lock:
            self._expire()
            self._items[key] = (self._clock(), value)
            self._items.move_to_end(key)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._items)

    def _expire(self) -> None:
        oldest = self._clock() - self.max_age_s
        while self._items:
            key, (used, _) = next(iter(self._items.items()))
            if used >= oldest:
                break
            del self._items[key]


@dataclass
class KeptConversation:
    """One conversation a client refers to by id; its lock keeps two calls on it from interleaving."""

    conversation: Conversation
    lock: threading.Lock = field(default_factory=threading.Lock)


class ConversationRegistry:
    """Conversations by random id, for MCP's `ask(question, conversation_id)`."""

    def __init__(self, limit: int, max_age_s: float, history_turns: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._store: BoundedStore[KeptConversation] = BoundedStore(limit, max_age_s, clock)
        self._history_turns = history_turns

    def new(self) -> tuple[str, KeptConversation]:
        # Unguessable: a client holding one id cannot reach another client's conversation.
        conversation_id = secrets.token_urlsafe(12)
        kept = KeptConversation(Conversation(max_turns=self._history_turns))
        self._store.put(conversation_id, kept)
        return conversation_id, kept

    def get(self, conversation_id: str) -> KeptConversation:
        kept = self._store.get(conversation_id)
        if kept is None:
            minutes = self._store.max_age_s / 60
            raise UnknownConversation(
                f"conversation {conversation_id[:40]!r} is unknown or has expired (conversations are kept "
                f"{minutes:g} minutes after their last question, at most {self._store.limit} at a time); "
                "ask again without conversation_id to start a new one")
        return kept

    def __len__(self) -> int:
        return len(self._store)


Turns = tuple[tuple[str, Answer], ...]


def history_key(generator: str, questions: Sequence[str]) -> str:
    """The cache key of a chat whose user turns so far are `questions`, answered by `generator`."""
    return hashlib.sha256(json.dumps([generator, *questions], ensure_ascii=True).encode()).hexdigest()


class HistoryCache:
    """Conversation state by the user turns that led to it, for /v1's stateless chat requests.

    An OpenAI-style client sends the whole chat each time. The service needs each earlier turn's
    Answer (its focus papers) to resolve a follow-up, so after every answer the turns so far are kept
    under a key made of the generator and the user questions; the next request of that chat finds
    them. Keyed on the user turns only: an assistant message the client reformatted or trimmed must
    not lose the state. A miss (a restart, an evicted chat) is rebuilt by asking the earlier
    questions again (`rebuild` in ui/openai_api.py).
    """

    def __init__(self, limit: int, max_age_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._store: BoundedStore[Turns] = BoundedStore(limit, max_age_s, clock)

    def get(self, generator: str, questions: Sequence[str]) -> Turns | None:
        return self._store.get(history_key(generator, questions))

    def put(self, generator: str, questions: Sequence[str], turns: Turns) -> None:
        self._store.put(history_key(generator, questions), turns)

    def __len__(self) -> int:
        return len(self._store)


def conversation_of(turns: Turns, max_turns: int) -> Conversation:
    """A fresh Conversation holding `turns`: each request continues its own copy, never a shared one."""
    conversation = Conversation(max_turns=max_turns)
    for question, answer in turns:
        conversation.add(question, answer)
    return conversation
