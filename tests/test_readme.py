"""The README's "Testing your agents" example is itself a test: run it as a user would."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "<!-- readme-test:"


def readme_test_source() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    after = text[text.index(MARKER):]
    match = re.search(r"```python\n(.*?)```", after, re.S)
    assert match, "the README lost its testing example"
    return match.group(1)


def test_readme_testing_example_is_short() -> None:
    code = [line for line in readme_test_source().splitlines() if line.strip()]
    assert len(code) <= 30, f"the README promises a property test in under 30 lines, it has {len(code)}"


def test_readme_testing_example_passes_with_only_the_installed_plugin(tmp_path: Path) -> None:
    (tmp_path / "test_readme_example.py").write_text(readme_test_source(), encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\ntrio_mode = true\n", encoding="utf-8")
    # A fresh pytest in an empty folder: the fixtures can only come from the
    # plugin that installing trio-actors registered (entry point pytest11).
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
