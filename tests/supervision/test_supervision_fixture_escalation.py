"""An escalation inside the test kit's fixtures fails that test with the `EscalatedFailure`.

Each case runs a small test file in a fresh pytest process (``pytester``): the
system of an ``actor_system`` fixture cancels its block's body when a failure
escalates past the root, and in a fixture that body is the fixture's ``yield``.
The test must fail with the escalation (and its cause) as the reason, with no
internal trio error and no warning about an unclosed async generator.
"""

from __future__ import annotations

import pytest

USER_TESTS = '''
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


async def test_waiting(FIXTURE):
    await give_up(FIXTURE)
    await trio.sleep(1000)  # cancelled by the escalation


async def test_asking(FIXTURE):
    await give_up(FIXTURE)
    try:
        await FIXTURE.lookup("w").ask("again")  # the supervisor may give up before or after it
    except Exception:
        pass
    await trio.sleep(1000)
'''

BROKEN = ("TrioInternalError", "Nursery stack corrupted", "Exception ignored", "never awaited",
          "async generator", "RuntimeError")


@pytest.mark.parametrize("fixture", ["actor_system", "actor_system_autojump"])
def test_an_escalation_in_a_fixture_fails_the_test_with_the_escalated_failure(
    pytester: pytest.Pytester, fixture: str
) -> None:
    pytester.makeini("[pytest]\ntrio_mode = true\n")
    pytester.makepyfile(test_user=USER_TESTS.replace("FIXTURE", fixture))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error::pytest.PytestUnraisableExceptionWarning")
    result.assert_outcomes(failed=2)
    output = result.stdout.str() + result.stderr.str()
    for symptom in BROKEN:
        assert symptom not in output, f"{symptom!r} in the output:\n{output}"
    result.stdout.fnmatch_lines([
        "*Boom: fragile broke on crash*",
        "*The above exception was the direct cause of the following exception:*",
        "*EscalatedFailure: supervisor 'team' gave up*",
    ])
    result.stdout.fnmatch_lines([
        "FAILED test_user.py::test_waiting - *EscalatedFailure*",
        "FAILED test_user.py::test_asking - *EscalatedFailure*",
    ], consecutive=False)
