"""The pytest plugin's fixtures fail a test whose actors failed where nobody saw it.

Each test runs a small test file in a nested pytest (``pytester``) and checks what
that run reported, so both sides are covered: silent failures fail the test with
their traceback; failures that reached an asker, or that the test allows, do not.
"""

from __future__ import annotations

import pytest

HEADER = """
import pytest
import trio
from actors import Actor
from supervision import ChildSpec, Supervisor


class Boom(Exception):
    pass


class Fragile(Actor):
    async def receive(self, message):
        if message == "crash":
            raise Boom("fragile broke on " + message)
        return message


class BadStop(Actor):
    async def on_stop(self):
        raise RuntimeError("cleanup failed")
"""


def run(pytester: pytest.Pytester, body: str) -> pytest.RunResult:
    pytester.makeini("[pytest]\ntrio_mode = true\n")
    pytester.makepyfile(test_user=HEADER + body)
    return pytester.runpytest("-p", "no:cacheprovider")


@pytest.mark.parametrize("fixture", ["actor_system", "actor_system_autojump"])
def test_a_told_message_that_fails_fails_the_test_with_its_traceback(pytester: pytest.Pytester, fixture: str) -> None:
    result = run(
        pytester,
        f"""
async def test_it({fixture}):
    ref = await {fixture}.spawn(Fragile, name="fragile")
    ref.tell("crash")
    await trio.sleep(0.01)
""",
    )
    result.assert_outcomes(failed=1)  # at teardown (pytest-trio reports it as the test's failure)
    result.stdout.fnmatch_lines(
        [
            "*1 actor failure that no asker or spawner saw:*",
            "*--- actor /fragile failed while handling str:*",
            "*raise Boom(*",
            "*Boom: fragile broke on crash*",
            "*mark it @pytest.mark.allow_actor_failures(types=(Boom,))*",
        ]
    )


def test_on_stop_that_raises_at_teardown_fails_the_test(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
async def test_it(actor_system):
    await actor_system.spawn(BadStop, name="badstop")
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*actor /badstop failed while stopping:*", "*RuntimeError: cleanup failed*"])


def test_failures_that_reach_someone_or_are_allowed_pass(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
async def test_asker_got_it(actor_system):
    ref = await actor_system.spawn(Fragile)
    with pytest.raises(Boom):
        await ref.ask("crash")


@pytest.mark.allow_actor_failures
async def test_any_allowed(actor_system):
    (await actor_system.spawn(Fragile)).tell("crash")
    await trio.sleep(0.01)


@pytest.mark.allow_actor_failures(types=Boom)
async def test_supervised_crash_allowed_by_type(actor_system_autojump):
    await actor_system_autojump.spawn_tree(Supervisor(name="sup", children=[ChildSpec(Fragile, name="w")]))
    actor_system_autojump.lookup("w").tell("crash")
    assert await actor_system_autojump.lookup("w").ask("after", timeout=5) == "after"
""",
    )
    result.assert_outcomes(passed=3)


def test_an_allowance_for_one_type_does_not_cover_another(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
@pytest.mark.allow_actor_failures(types=(ValueError, KeyError))
async def test_it(actor_system):
    (await actor_system.spawn(Fragile)).tell("crash")
    await trio.sleep(0.01)
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*that no asker or spawner saw and the test did not allow:*"])
