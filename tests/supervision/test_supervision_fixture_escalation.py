"""An escalation inside the test kit's fixtures fails that test with the `EscalatedFailure`.

The cases run as a small test file in a nested pytest (``pytester``): the
system of an ``actor_system`` fixture cancels its block's body when a failure
escalates past the root, and in a fixture that body is the fixture's ``yield``.
Each test must fail with the escalation (and its cause) as the reason, with no
internal trio error and no warning about an unclosed async generator.
"""

from __future__ import annotations

import pytest

USER_TESTS = """
import trio
from actors import Actor
from supervision import ChildSpec, OneForOne, Supervisor


class Boom(Exception):
    pass


class Fragile(Actor):
    async def receive(self, message):
        raise Boom("fragile broke on " + message)


async def give_up(system):
    tree = Supervisor(name="team", strategy=OneForOne(max_restarts=0), children=[ChildSpec(Fragile, name="w")])
    await system.spawn_tree(tree)
    system.lookup("w").tell("crash")


async def test_waiting(actor_system):
    await give_up(actor_system)
    await trio.sleep(1000)  # cancelled by the escalation


async def test_waiting_autojump(actor_system_autojump):
    await give_up(actor_system_autojump)
    await trio.sleep(1000)


async def test_asking(actor_system_autojump):
    await give_up(actor_system_autojump)
    try:
        await actor_system_autojump.lookup("w").ask("again")  # it may give up before or after this
    except Exception:
        pass
    await trio.sleep(1000)
"""

BROKEN = (
    "TrioInternalError",
    "Nursery stack corrupted",
    "Exception ignored",
    "never awaited",
    "async generator",
    "RuntimeError",
)


def test_an_escalation_in_a_fixture_fails_the_test_with_the_escalated_failure(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntrio_mode = true\n")
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-W", "error::pytest.PytestUnraisableExceptionWarning"
    )
    result.assert_outcomes(failed=3)
    output = result.stdout.str() + result.stderr.str()
    for symptom in BROKEN:
        assert symptom not in output, f"{symptom!r} in the output:\n{output}"
    result.stdout.fnmatch_lines(
        [
            "*Boom: fragile broke on crash*",
            "*The above exception was the direct cause of the following exception:*",
            "*EscalatedFailure: supervisor 'team' gave up*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "FAILED test_user.py::test_waiting - *EscalatedFailure*",
            "FAILED test_user.py::test_waiting_autojump - *EscalatedFailure*",
            "FAILED test_user.py::test_asking - *EscalatedFailure*",
        ]
    )
