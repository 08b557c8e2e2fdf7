"""Every Python block in README.md and docs/*.md runs, as a user would run it.

A block runs as a script from the repository root and must exit 0. A block right after the
marker ``<!-- docs-test: pytest -->`` is a test module: it runs under a fresh pytest in an
empty folder, where the fixtures can only come from the plugin that installing trio-actors
registered (entry point ``pytest11``).
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PYTEST_MARKER = "<!-- docs-test: pytest -->"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


@attrs.frozen
class Block:
    page: Path
    line: int
    source: str
    under_pytest: bool

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def python_blocks() -> list[Block]:
    blocks = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            before = text[: match.start()].rstrip()
            blocks.append(
                Block(
                    page=page,
                    line=text.count("\n", 0, match.start()) + 1,
                    source=match.group(1),
                    under_pytest=before.endswith(PYTEST_MARKER),
                )
            )
    return blocks


BLOCKS = python_blocks()


def test_the_docs_have_python_blocks_and_one_pytest_example() -> None:
    assert len(BLOCKS) >= 3
    assert [str(b) for b in BLOCKS if b.under_pytest], "the testing page lost its pytest example"


def test_every_docs_page_is_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in PAGES[1:] if f"(docs/{p.name})" not in readme]
    assert not missing, f"README.md does not link {missing}"


def test_the_readme_stays_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= 150, f"README.md has {lines} lines; move reference material to docs/"


def test_the_first_pytest_example_is_short() -> None:
    first = next(block for block in BLOCKS if block.under_pytest)
    code = [line for line in first.source.splitlines() if line.strip()]
    assert len(code) <= 30, f"{first}: the docs promise a property test in under 30 lines"


def test_every_command_line_target_named_in_the_docs_exists() -> None:
    targets = set()
    for page in PAGES:
        targets |= set(re.findall(r"python -m actors run ([a-z_][\w.]*):(\w+)", page.read_text(encoding="utf-8")))
    assert targets, "the docs name no `python -m actors run` target"
    sys.path.insert(0, str(ROOT))
    try:
        for module, attr in sorted(targets):
            assert hasattr(importlib.import_module(module), attr), f"{module}:{attr} named in the docs does not exist"
    finally:
        sys.path.remove(str(ROOT))


@pytest.mark.parametrize("block", BLOCKS, ids=str)
def test_docs_block_runs(block: Block, tmp_path: Path) -> None:
    if block.under_pytest:
        (tmp_path / "test_docs_example.py").write_text(block.source, encoding="utf-8")
        (tmp_path / "pytest.ini").write_text("[pytest]\ntrio_mode = true\n", encoding="utf-8")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
        cwd = tmp_path
    else:
        script = tmp_path / "docs_block.py"
        script.write_text(block.source, encoding="utf-8")
        command, cwd = [sys.executable, str(script)], ROOT
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{block} failed:\n{result.stdout}{result.stderr}"
    if block.under_pytest:
        assert re.search(r"\d+ passed", result.stdout) and "failed" not in result.stdout, result.stdout
