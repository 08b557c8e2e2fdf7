"""The import structure: layers point down only, and supervision sees only the public seams.

The layer map of the ``actors`` package, bottom up (a module may import its own
layer and the layers below it, never above; type-only imports under
``if TYPE_CHECKING:`` do not count, since they run no code)::

    values      the lifecycle values, errors, envelopes, argument checks, context variables
    primitives  parts that own their state and never take a cell: mailbox, reply, wait graph,
                registry, timers, deadlines, streaming replies, worker threads, tracing, the
                delivery interface and the transport protocol
    ref         ActorRef: an address (a remote ref too)
    actor       Actor: what users subclass
    cell        one actor across its incarnations: inbox, dispatch loop, lifecycle, parent policy
    system      the actor system, its remote face (public actors), the blocking-tool decorator
    faces       actors.lowlevel, the package itself, command line, live view, testing kit, bridges,
                transports (actors.redis)

``supervision`` builds on ``actors`` and ``actors.lowlevel`` only; ``actors``
never imports ``supervision`` (except its testing kit, a face above both).
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

LAYERS: list[tuple[str, set[str]]] = [
    (
        "values",
        {"_exceptions", "_text", "_envelope", "_messages", "_states", "_checks", "_groups", "_context", "_logging"},
    ),
    (
        "primitives",
        {
            "_mailbox",
            "_reply",
            "_registry",
            "_dead_letters",
            "_threads",
            "_waits",
            "_timers",
            "_deadlines",
            "_address",
            "_transport",
            "_streams",
            "_tracing",
            "_inspect",
            "_gather",
        },
    ),
    ("ref", {"_ref", "_remote_ref"}),
    ("actor", {"_actor"}),
    ("cell", {"_inbox", "_dispatch", "_parents", "_lifecycle", "_cell"}),
    ("system", {"_system", "_tools", "_remote"}),
    ("faces", {"lowlevel", "__init__", "__main__", "_cli", "_live", "_otel", "otel", "_pykka", "testing", "redis"}),
]
LAYER_OF = {module: index for index, (_, modules) in enumerate(LAYERS) for module in modules}


def _runtime_imports(path: pathlib.Path, package: str) -> list[tuple[int, str]]:
    """(line, absolute module) of every import that runs (not under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.extend((child.lineno, alias.name) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - child.level + 1]
                    module = ".".join(base + ([child.module] if child.module else []))
                    if not child.module:
                        found.extend((child.lineno, f"{module}.{alias.name}") for alias in child.names)
                        continue
                else:
                    module = child.module or ""
                found.append((child.lineno, module))
            visit(child)

    visit(tree)
    return found


def _actors_modules() -> list[pathlib.Path]:
    return sorted((ROOT / "actors").rglob("*.py"))


def _layer(module: str) -> int:
    """The layer of ``actors.x.y``: that of ``x`` (``actors`` itself: its ``__init__``)."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] not in LAYER_OF:  # (`from . import __version__`: the package)
        return LAYER_OF["__init__"]
    return LAYER_OF[parts[1]]


def test_every_module_of_actors_has_a_layer() -> None:
    names = {p.relative_to(ROOT / "actors").parts[0].removesuffix(".py") for p in _actors_modules()}
    names.discard("py")
    assert names - set(LAYER_OF) == set(), "add the new module to LAYERS (and the docstring)"


@pytest.mark.parametrize("path", _actors_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down_only(path: pathlib.Path) -> None:
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    if path.name == "__init__.py":
        module = module.removesuffix(".__init__")
        package = module
    own = _layer(module if module != "actors" else "actors.__init__")
    upward = []
    for line, imported in _runtime_imports(path, package):
        top = imported.split(".")[0]
        if top == "supervision":
            if own != LAYER_OF["testing"]:
                upward.append(f"line {line}: imports {imported} (actors never imports supervision)")
            continue
        if top != "actors" or imported == "actors":
            continue
        layer = _layer(imported)
        if layer > own:
            upward.append(
                f"line {line}: imports {imported} ({LAYERS[layer][0]}), above its own layer ({LAYERS[own][0]})"
            )
    assert upward == []


def test_supervision_imports_only_actors_and_actors_lowlevel() -> None:
    reached: list[str] = []
    for path in sorted((ROOT / "supervision").rglob("*.py")):
        for line, imported in _runtime_imports(path, "supervision"):
            if imported.split(".")[0] == "actors" and imported not in ("actors", "actors.lowlevel"):
                reached.append(f"{path.name}:{line}: {imported}")
        text = path.read_text()
        for needle in ("._cell", "_actors_own_cell", "_actors_cell"):
            if needle in text:
                reached.append(f"{path.name}: uses {needle}")
    assert reached == []


def test_importing_actors_loads_neither_pykka_nor_trio_parallel() -> None:
    code = (
        "import sys, actors, actors.lowlevel, supervision; "
        "print(sorted(m for m in ('pykka', 'trio_parallel') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
