"""Dead letters: a bounded, inspectable record of every message nobody handled."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import pytest

from actors import Actor, DeadLetter, DeadLetters, open_actor_system


class Echo(Actor):
    async def receive(self, message: object) -> object:
        return message


async def test_dead_letters_keep_the_newest_records_and_count_them_all() -> None:
    async with open_actor_system(dead_letters_size=10) as system:
        ref = await system.spawn(Echo, name="gone")
        await system.stop(ref)
        for i in range(25):
            ref.tell(i)
        letters = system.dead_letters
        assert letters.maxlen == 10
        assert len(letters) == 10
        assert letters.total == 25
        assert [d.message for d in letters] == list(range(15, 25))
        assert letters[0].message == 15 and letters[-1].message == 24
        assert [d.message for d in letters[2:4]] == [17, 18]
        assert repr(letters) == "<DeadLetters 10 kept of 25>"


async def test_dead_letters_default_to_a_thousand(actor_system) -> None:
    assert actor_system.dead_letters.maxlen == 1000
    assert len(actor_system.dead_letters) == 0 and actor_system.dead_letters.total == 0


async def test_dead_letters_are_a_read_only_sequence(actor_system) -> None:
    letters = actor_system.dead_letters
    assert isinstance(letters, Sequence) and isinstance(letters, DeadLetters)
    assert not hasattr(letters, "append")
    with pytest.raises(TypeError):
        letters[0] = None  # type: ignore[index]


async def test_clear_forgets_the_records_but_total_keeps_counting(actor_system) -> None:
    ref = await actor_system.spawn(Echo, name="gone")
    await actor_system.stop(ref)
    ref.tell("a")
    ref.tell("b")
    actor_system.dead_letters.clear()
    assert len(actor_system.dead_letters) == 0
    ref.tell("c")
    assert [d.message for d in actor_system.dead_letters] == ["c"]
    assert actor_system.dead_letters.total == 3


async def test_a_dead_letter_says_what_who_and_why(actor_system) -> None:
    class Teller(Actor):
        async def receive(self, message: object) -> object:
            message.tell("from an actor")  # type: ignore[attr-defined]
            return None

    gone = await actor_system.spawn(Echo, name="gone")
    teller = await actor_system.spawn(Teller, name="teller")
    await actor_system.stop(gone)
    await teller.ask(gone)
    [letter] = list(actor_system.dead_letters)
    assert letter.message == "from an actor"
    assert letter.recipient is gone
    assert letter.sender is teller
    assert letter.reason == "actor 'gone' has stopped"
    assert letter.error is None
    assert letter.envelope is not None and letter.envelope.sender is teller


async def test_dead_letter_records_are_immutable(actor_system) -> None:
    ref = await actor_system.spawn(Echo, name="gone")
    await actor_system.stop(ref)
    ref.tell("x")
    letter = actor_system.dead_letters[0]
    assert isinstance(letter, DeadLetter)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        letter.reason = "changed"  # type: ignore[misc]


async def test_dead_letter_subscribers_are_not_told_about_their_own_undeliverable_records() -> None:
    # A subscriber that stops must not make dead letters about dead letters.
    class Listener(Actor):
        async def receive(self, message: object) -> object:
            return message

    async with open_actor_system(dead_letters_size=10) as system:
        listener = await system.spawn(Listener, name="listener")
        system.subscribe(listener, DeadLetter)
        gone = await system.spawn(Echo, name="gone")
        await system.stop(gone)
        await system.stop(listener)
        gone.tell("lost")
        assert [d.message for d in system.dead_letters] == ["lost"]
        assert system.dead_letters.total == 1
