"""Bad arguments to ChildSpec, Supervisor, strategies and Backoff fail at construction, precisely."""

from __future__ import annotations

import math
from typing import Any

import pytest

from actors import Actor, ActorSystem
from supervision import Backoff, ChildSpec, OneForAll, OneForOne, RestForOne, Supervisor, restart_count


class W(Actor):
    pass


# -- ChildSpec ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor_cls", "shown"),
    [("W", r"'W'"), (int, r"<class 'int'>"), (None, r"None")],
)
def test_child_spec_rejects_what_is_not_an_actor_subclass(actor_cls: Any, shown: str) -> None:
    with pytest.raises(TypeError, match=rf"^ChildSpec\(\) takes an Actor subclass, not {shown}$"):
        ChildSpec(actor_cls, name="x")


def test_child_spec_given_an_actor_instance_says_to_pass_the_class() -> None:
    # system.spawn(W()) says "(pass the class, not an instance)"; ChildSpec should teach the same.
    instance = W.__new__(W)
    with pytest.raises(
        TypeError, match=r"^ChildSpec\(\) takes an Actor subclass, not .* \(pass the class, not an instance\)$"
    ):
        ChildSpec(instance, name="x")


@pytest.mark.parametrize("restart", ["sometimes", "Permanent", "", None])
def test_child_spec_rejects_an_unknown_restart_type(restart: Any) -> None:
    with pytest.raises(
        ValueError, match=rf"^restart must be one of 'permanent', 'transient', 'temporary', not {restart!r}$"
    ):
        ChildSpec(W, name="x", restart=restart)


@pytest.mark.parametrize("field", ["message_timeout", "shutdown_timeout"])
@pytest.mark.parametrize("value", [-1, -0.5, 0, math.inf, math.nan])
def test_child_spec_rejects_timeouts_that_are_not_positive_and_finite(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=rf"^{field} must be a finite number > 0, got {value!r}$"):
        ChildSpec(W, name="x", **{field: value})


def test_child_spec_timeouts_must_be_numbers() -> None:
    with pytest.raises(TypeError, match=r"^message_timeout must be a number of seconds or None, not str$"):
        ChildSpec(W, name="x", message_timeout="5")
    assert ChildSpec(W, name="x", shutdown_timeout=None).shutdown_timeout is None  # the system's
    with pytest.raises(TypeError, match=r"^shutdown_timeout must be a number of seconds or None, not bool$"):
        ChildSpec(W, name="x", shutdown_timeout=True)


@pytest.mark.parametrize("name", ["", "a/b", 3])
def test_child_spec_rejects_a_bad_name(name: Any) -> None:
    with pytest.raises(ValueError, match=rf"^name must be a non-empty string without '/', got {name!r}$"):
        ChildSpec(W, name=name)


def test_child_spec_keeps_its_arguments_for_every_incarnation() -> None:
    spec = ChildSpec(W, 1, 2, name="w", restart="transient", message_timeout=3, shutdown_timeout=4, x=5)
    assert (spec.args, spec.kwargs, spec.restart) == ((1, 2), {"x": 5}, "transient")
    assert (spec.message_timeout, spec.shutdown_timeout) == (3.0, 4.0)
    assert repr(spec) == "ChildSpec(W, name='w', restart='transient')"


# -- Supervisor -------------------------------------------------------------------------


def test_supervisor_rejects_two_children_with_the_same_name() -> None:
    with pytest.raises(ValueError, match=r"^supervisor 'team' has two children named 'w'$"):
        Supervisor(name="team", children=[ChildSpec(W, name="w"), ChildSpec(W, name="v"), ChildSpec(W, name="w")])


def test_supervisor_rejects_a_child_spec_and_a_nested_supervisor_with_the_same_name() -> None:
    with pytest.raises(ValueError, match=r"^supervisor 'team' has two children named 'tools'$"):
        Supervisor(name="team", children=[ChildSpec(W, name="tools"), Supervisor(name="tools")])


def test_supervisor_allows_several_unnamed_children() -> None:
    Supervisor(name="team", children=[ChildSpec(W), ChildSpec(W)])


def test_supervisor_rejects_a_bare_actor_class_and_says_how_to_wrap_it() -> None:
    with pytest.raises(
        TypeError,
        match=r"^children of supervisor 's' must be ChildSpec or Supervisor, not <class '.*\.W'>; "
        r"wrap it: ChildSpec\(YourActor, name=\.\.\.\)$",
    ):
        Supervisor(name="s", children=[W])


def test_supervisor_rejects_a_strategy_that_is_not_one() -> None:
    with pytest.raises(TypeError, match=r"^strategy must be OneForOne\(\), OneForAll\(\) or RestForOne\(\), not str$"):
        Supervisor(name="s", strategy="one_for_one")  # type: ignore[arg-type]


def test_supervisor_rejects_children_that_are_not_a_list() -> None:
    with pytest.raises(TypeError, match=r"^children must be a list of ChildSpec or Supervisor$"):
        Supervisor(name="s", children=ChildSpec(W))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "a/b"])
def test_supervisor_rejects_a_bad_name(name: str) -> None:
    with pytest.raises(ValueError, match=rf"^Supervisor name must be a non-empty string without '/', got {name!r}$"):
        Supervisor(name=name)


async def test_spawn_tree_takes_only_a_supervisor(actor_system: ActorSystem) -> None:
    with pytest.raises(
        TypeError,
        match=r"^spawn_tree\(\) takes a supervision.Supervisor, not ChildSpec; use spawn\(\) for a single actor$",
    ):
        await actor_system.spawn_tree(ChildSpec(W, name="w"))


def test_restart_count_takes_a_ref() -> None:
    with pytest.raises(TypeError, match=r"^restart_count\(\) takes an ActorRef, not str$"):
        restart_count("w")  # type: ignore[arg-type]


# -- strategies ---------------------------------------------------------------------------

STRATEGIES = [OneForOne, OneForAll, RestForOne]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_strategy_rejects_negative_max_restarts(strategy: Any) -> None:
    with pytest.raises(ValueError, match=r"^max_restarts must be >= 0$"):
        strategy(max_restarts=-1)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize(("value", "kind"), [(1.5, "float"), (True, "bool"), ("3", "str")])
def test_strategy_rejects_max_restarts_that_is_not_an_int(strategy: Any, value: Any, kind: str) -> None:
    with pytest.raises(TypeError, match=rf"^max_restarts must be an int, not {kind}$"):
        strategy(max_restarts=value)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("value", [0, -1.0, math.nan])
def test_strategy_rejects_a_window_that_is_not_positive(strategy: Any, value: float) -> None:
    with pytest.raises(ValueError, match=rf"^within must be > 0 seconds, got {value!r}$"):
        strategy(within=value)


def test_strategy_arguments_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        OneForOne(3, 5.0)  # type: ignore[misc]


def test_strategy_rejects_a_backoff_that_is_not_a_backoff_with_a_readable_message() -> None:
    # attrs' own instance_of message is a tuple repr naming internals; the style
    # asks for short, exact messages like every other check here.
    with pytest.raises(TypeError, match=r"^backoff must be a Backoff.* not float$"):
        OneForOne(backoff=1.0)  # type: ignore[arg-type]


def test_strategy_defaults() -> None:
    strategy = OneForOne()
    assert (strategy.max_restarts, strategy.within, strategy.backoff) == (3, 5.0, None)


# -- Backoff -------------------------------------------------------------------------------


def test_backoff_rejects_a_maximum_below_the_initial_delay() -> None:
    with pytest.raises(ValueError, match=r"^maximum \(1\) must be >= initial \(2\)$"):
        Backoff(initial=2, maximum=1)


@pytest.mark.parametrize("field", ["initial", "maximum"])
@pytest.mark.parametrize("value", [-1, math.inf, math.nan])
def test_backoff_rejects_delays_that_are_negative_or_not_finite(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=rf"^{field} must be a finite number >= 0, got {value!r}$"):
        Backoff(**{field: value})


def test_backoff_rejects_a_delay_that_is_not_a_number() -> None:
    with pytest.raises(TypeError, match=r"^initial must be a number of seconds, not str$"):
        Backoff(initial="1")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0.5, 0, -2, math.inf, math.nan])
def test_backoff_rejects_a_multiplier_below_one(value: float) -> None:
    with pytest.raises(ValueError, match=rf"^multiplier must be a number >= 1, got {value!r}$"):
        Backoff(multiplier=value)


@pytest.mark.parametrize("value", [1, 1.5, -0.1, math.nan])
def test_backoff_rejects_jitter_outside_zero_to_one(value: float) -> None:
    with pytest.raises(ValueError, match=rf"^jitter must be a number in \[0, 1\), got {value!r}$"):
        Backoff(jitter=value)


def test_backoff_delays_without_jitter_are_exact() -> None:
    backoff = Backoff(initial=0.25, multiplier=2, maximum=3, jitter=0)
    assert [backoff.delay(n) for n in range(6)] == [0.25, 0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff.delay(10_000) == 3.0  # no overflow far down the sequence


def test_backoff_jitter_stays_within_its_band_and_under_the_cap() -> None:
    backoff = Backoff(initial=1.0, multiplier=2, maximum=3, jitter=0.5)
    assert backoff.delay(0, rand=lambda: 0.0) == 0.5
    assert backoff.delay(0, rand=lambda: 1.0) == 1.5
    assert backoff.delay(1, rand=lambda: 1.0) == 3.0  # 2 * 1.5 = 3, at the cap
    assert backoff.delay(5, rand=lambda: 1.0) == 3.0  # jitter never goes past the cap
    assert backoff.delay(5, rand=lambda: 0.0) == 1.5


def test_zero_initial_delay_means_no_delay() -> None:
    backoff = Backoff(initial=0, maximum=0, jitter=0)
    assert [backoff.delay(n) for n in range(3)] == [0.0, 0.0, 0.0]


# -- async hooks, max_children, decide ------------------------------------------------------


def _actors_checks_async_hooks() -> bool:
    """Whether actors' check_actor_class (which ChildSpec calls) refuses a sync hook yet."""
    from actors._actor import check_actor_class

    class Sync(Actor):
        def receive(self, message: Any) -> Any:  # type: ignore[override]
            return message

    try:
        check_actor_class(Sync, "ChildSpec")
    except TypeError:
        return True
    return False


@pytest.mark.skipif(not _actors_checks_async_hooks(), reason="needs the async-hook check of actors' check_actor_class")
@pytest.mark.parametrize("hook", ["receive", "on_start", "on_stop", "on_restart"])
def test_child_spec_refuses_a_hook_that_is_not_async(hook: str) -> None:
    def sync_hook(self: Any, *args: Any) -> None:
        return None

    cls = type("SyncHook", (Actor,), {hook: sync_hook})
    with pytest.raises(TypeError, match=rf"{hook}.*async"):
        ChildSpec(cls, name="x")


def test_supervisor_rejects_the_same_spec_twice() -> None:
    spec = ChildSpec(W)
    with pytest.raises(
        ValueError,
        match=r"^supervisor 'team' has the same ChildSpec twice in its children; "
        r"make one per child$",
    ):
        Supervisor(name="team", children=[spec, spec])


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (0, ValueError, r"^max_children must be >= 1 \(or None for unbounded\)$"),
        (1.5, TypeError, r"^max_children must be an int or None, not float$"),
        (True, TypeError, r"^max_children must be an int or None, not bool$"),
    ],
)
def test_supervisor_rejects_a_bad_max_children(value: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        Supervisor(name="team", max_children=value)


def test_supervisor_rejects_more_children_than_max_children() -> None:
    with pytest.raises(ValueError, match=r"^supervisor 'team' has 2 children, more than its max_children=1$"):
        Supervisor(name="team", children=[ChildSpec(W), ChildSpec(W)], max_children=1)


def test_dynamic_supervisor_starts_empty() -> None:
    from supervision import DynamicSupervisor

    with pytest.raises(TypeError, match=r"^DynamicSupervisor 'pool' starts empty; add children with start_child"):
        DynamicSupervisor(name="pool", children=[ChildSpec(W)])
    assert DynamicSupervisor(name="pool", max_children=3).max_children == 3


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_decide_must_be_a_function(strategy: Any) -> None:
    from supervision import Decision

    with pytest.raises(
        TypeError,
        match=r"^decide must be a function taking the child's error and returning a "
        r"Decision \(or None\), not str$",
    ):
        strategy(decide="restart")
    with pytest.raises(
        TypeError,
        match=r"^decide takes a function, not Decision.RESUME; for the same decision "
        r"on every failure use decide=lambda error: Decision.RESUME$",
    ):
        strategy(decide=Decision.RESUME)
    assert strategy(decide=lambda error: Decision.RESUME).decide is not None


def test_child_spec_says_which_keyword_it_keeps_from_the_actor() -> None:
    class Greeter(Actor):
        def __init__(self, name: str) -> None:
            self.greeting_name = name

    with pytest.raises(
        TypeError,
        match=r"^Greeter.__init__ takes 'name', but ChildSpec keeps the keyword name= for "
        r"itself \(the child's name\), so it cannot reach __init__; rename that "
        r"parameter \(say, to 'actor_name'\) and pass it under the new name$",
    ):
        ChildSpec(Greeter, name="bob")
    assert ChildSpec(Greeter, "Bob", name="bob").args == ("Bob",)  # given positionally, it reaches __init__


def test_child_spec_leaves_other_argument_mistakes_to_the_start() -> None:
    class Needs(Actor):
        def __init__(self, x: int) -> None:
            self.x = x

    assert ChildSpec(Needs, name="n").kwargs == {}  # fails when started, as spawn would
