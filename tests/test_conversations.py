"""The API servers' bounded state and admission: conversations kept by id (MCP) and by history (/v1),
each limited in number and idle age, and the gate that answers `ui_concurrency` at once, queues
`api_queue` more and refuses the rest.
"""

from __future__ import annotations

import asyncio

import pytest

from assistant.answer import Answer
from assistant.conversations import BoundedStore, ConversationRegistry, HistoryCache, UnknownConversation
from assistant.gate import Busy, ServiceGate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_store_drops_the_least_recently_used_beyond_its_limit() -> None:
    store: BoundedStore[int] = BoundedStore(limit=3, max_age_s=60, clock=Clock())
    for index, key in enumerate("abc"):
        store.put(key, index)
    assert store.get("a") == 0  # a is now the most recently used
    store.put("d", 3)
    assert len(store) == 3 and store.get("b") is None and [store.get(k) for k in "acd"] == [0, 2, 3]


def test_store_forgets_entries_idle_longer_than_max_age() -> None:
    clock = Clock()
    store: BoundedStore[str] = BoundedStore(limit=10, max_age_s=60, clock=clock)
    store.put("old", "x")
    store.put("used", "y")
    clock.now += 50
    assert store.get("used") == "y"  # a use renews it
    clock.now += 20
    assert store.get("old") is None and store.get("used") == "y" and len(store) == 1


def test_registry_issues_distinct_ids_and_refuses_unknown_or_expired_ones() -> None:
    clock = Clock()
    registry = ConversationRegistry(limit=2, max_age_s=600, history_turns=4, clock=clock)
    first_id, first = registry.new()
    second_id, second = registry.new()
    assert first_id != second_id and len(first_id) >= 16
    assert registry.get(first_id) is first and first.conversation.max_turns == 4
    first.conversation.add("q", Answer("q", "a", "lookup", focus=["p1"]))
    assert registry.get(first_id).conversation.focus == ["p1"] and second.conversation.focus == []
    registry.new()  # a third: the least recently used (second) goes
    with pytest.raises(UnknownConversation, match=r"unknown or has expired .* at most 2 at a time"):
        registry.get(second_id)
    clock.now += 601
    with pytest.raises(UnknownConversation, match="kept 10 minutes after their last question"):
        registry.get(first_id)
    assert len(registry) == 0


def test_history_cache_is_keyed_by_generator_and_the_user_turns_in_order() -> None:
    cache = HistoryCache(limit=8, max_age_s=60, clock=Clock())
    turns = (("What is ZeRO?", Answer("What is ZeRO?", "ZeRO ... [1]", "lookup", focus=["p1"])),)
    cache.put("extractive", ["What is ZeRO?"], turns)
    assert cache.get("extractive", ["What is ZeRO?"]) == turns
    assert cache.get("local", ["What is ZeRO?"]) is None
    assert cache.get("extractive", ["What is ZeRO", "?"]) is None  # no joining ambiguity
    assert cache.get("extractive", []) is None


def test_gate_runs_its_concurrency_queues_the_rest_and_refuses_beyond() -> None:
    async def scenario() -> tuple[int, list[str], int]:
        gate = ServiceGate(concurrency=2, queue=3)
        running = peak = 0
        release = asyncio.Event()
        outcomes: list[str] = []

        async def request() -> None:
            nonlocal running, peak
            try:
                async with gate.slot():
                    running += 1
                    peak = max(peak, running)
                    await release.wait()
                    running -= 1
                outcomes.append("answered")
            except Busy as exc:
                outcomes.append(f"busy: {exc}")

        tasks = [asyncio.create_task(request()) for _ in range(7)]
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.gather(*tasks)
        return peak, outcomes, gate.admitted

    peak, outcomes, admitted = asyncio.run(scenario())
    assert peak == 2 and admitted == 0
    assert outcomes.count("answered") == 5
    busy = [o for o in outcomes if o.startswith("busy")]
    assert len(busy) == 2 and "2 request(s) are being answered and 3 are waiting" in busy[0]


def test_a_ticket_gives_its_place_back_once() -> None:
    gate = ServiceGate(concurrency=1, queue=0)
    ticket = gate.admit()
    with pytest.raises(Busy):
        gate.admit()
    ticket.release()
    ticket.release()
    assert gate.admitted == 0
    gate.admit()
