"""The public surface of `actors`: what `__all__` promises, and what must stay private."""

from __future__ import annotations

import importlib
import inspect
import types

import pytest

import actors

# The names DESIGN.md promises (section "actors").
DESIGNED_NAMES = {
    "Actor",
    "ActorRef",
    "ActorSystem",
    "open_actor_system",
    "gather",
    "DeadLetter",
    "Terminated",
    "Reply",
    "ActorError",
    "AskTimeout",
    "ActorStopped",
    "ActorNotFound",
    "MailboxFull",
    "UnhandledMessage",
    "DeadlockError",
    "EscalatedFailure",
}

ERROR_NAMES = {
    "ActorError",
    "AskTimeout",
    "ActorStopped",
    "ActorNotFound",
    "MailboxFull",
    "UnhandledMessage",
    "DeadlockError",
    "EscalatedFailure",
    "ActorNameTaken",
}


def test_every_name_in_all_imports_and_has_a_docstring() -> None:
    missing_doc = []
    module = importlib.import_module("actors")
    for name in actors.__all__:
        obj = getattr(module, name)  # AttributeError here means __all__ lies
        if not (inspect.getdoc(obj) or "").strip():
            missing_doc.append(name)
    assert missing_doc == [], f"public names without a docstring: {missing_doc}"


@pytest.mark.parametrize("package", ["actors", "supervision", "actors.testing"])
def test_every_public_method_of_a_public_class_has_its_own_docstring(package: str) -> None:
    module = importlib.import_module(package)
    missing = []
    for name in module.__all__:
        cls = getattr(module, name)
        if not inspect.isclass(cls):
            continue
        for attr, value in vars(cls).items():
            if attr.startswith("_"):
                continue
            fn = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
            if callable(fn) and not (getattr(fn, "__doc__", None) or "").strip():
                missing.append(f"{name}.{attr}")
    assert missing == [], f"public methods without a docstring in {package}: {missing}"


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from actors import *", namespace)
    namespace.pop("__builtins__")
    assert sorted(namespace) == sorted(actors.__all__)


def test_all_has_no_duplicates() -> None:
    assert len(actors.__all__) == len(set(actors.__all__))


def test_all_contains_every_name_the_design_promises() -> None:
    assert DESIGNED_NAMES - set(actors.__all__) == set()


def test_no_public_package_attribute_is_missing_from_all() -> None:
    public = {
        name
        for name, value in vars(actors).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public - set(actors.__all__) == set()


def test_public_objects_live_in_private_modules_and_are_reexported() -> None:
    for name in actors.__all__:
        obj = getattr(actors, name)
        module = getattr(obj, "__module__", "")
        assert module.startswith("actors._"), f"{name} is defined in {module}, not a private module"


def test_package_has_a_docstring_and_a_version() -> None:
    assert (actors.__doc__ or "").strip()
    assert isinstance(actors.__version__, str)


def test_testing_kit_exports_its_fixtures() -> None:
    import actors.testing

    for name in actors.testing.__all__:
        assert getattr(actors.testing, name) is not None
    assert {"actor_system", "actor_system_autojump"} <= set(actors.testing.__all__)


def test_ask_timeout_is_a_timeout_error() -> None:
    assert issubclass(actors.AskTimeout, TimeoutError)


@pytest.mark.parametrize("name", sorted(ERROR_NAMES))
def test_every_error_subclasses_actor_error(name: str) -> None:
    assert issubclass(getattr(actors, name), actors.ActorError)


def test_every_exception_class_in_all_subclasses_actor_error() -> None:
    exceptions = [
        name
        for name in actors.__all__
        if isinstance(getattr(actors, name), type) and issubclass(getattr(actors, name), BaseException)
    ]
    assert set(exceptions) >= ERROR_NAMES
    for name in exceptions:
        assert issubclass(getattr(actors, name), actors.ActorError), name


def test_actor_name_taken_is_also_a_value_error() -> None:
    assert issubclass(actors.ActorNameTaken, ValueError)


def test_actor_not_found_is_also_a_lookup_error() -> None:
    assert issubclass(actors.ActorNotFound, LookupError)


def test_actor_ref_has_no_public_constructor() -> None:
    with pytest.raises(TypeError, match=r"^ActorRef has no public constructor; use system\.spawn"):
        actors.ActorRef()


def test_reply_has_no_public_constructor() -> None:
    with pytest.raises(TypeError, match=r"^Reply has no public constructor; ActorRef\.ask_nowait\(\) returns one$"):
        actors.Reply()


def test_deferred_reply_has_no_public_constructor() -> None:
    with pytest.raises(TypeError, match=r"no public constructor; call self\.defer_reply\(\)"):
        actors.DeferredReply()


def test_timer_has_no_public_constructor() -> None:
    with pytest.raises(TypeError, match=r"no public constructor; use self\.schedule_once\(\)"):
        actors.Timer()


def test_actor_docstring_carries_a_runnable_example() -> None:
    doc = inspect.getdoc(actors.Actor) or ""
    assert "open_actor_system" in doc and "trio.run(main)" in doc
