"""The distribution: its license, and an sdist that carries what its own tests need."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_license_file_is_mit_and_declared_in_setup_cfg() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert "trio-actors contributors" in text
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert config["metadata"]["license"] == "MIT"
    assert "LICENSE" in config["metadata"]["license_files"]
    classifiers = config["metadata"]["classifiers"]
    for version in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers


def test_sdist_holds_the_tests_examples_benchmarks_and_license(tmp_path: Path) -> None:
    # Built offline with the setuptools already installed (no build isolation, no network),
    # from a clean copy: setuptools would otherwise also pack what an old egg-info lists.
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".git", ".venv", "*.egg-info", "build", "dist", "__pycache__", ".hypothesis"),
    )
    subprocess.run(
        [sys.executable, "-c", "from setuptools import setup; setup()", "-q", "sdist", "-d", str(tmp_path)],
        cwd=source,
        check=True,
        capture_output=True,
    )
    (archive,) = tmp_path.glob("*.tar.gz")
    with tarfile.open(archive) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    expected = {
        "LICENSE",
        "README.md",
        "CHANGELOG.md",
        "setup.cfg",
        "pyproject.toml",
        ".ci/run",
        "benchmarks/README.md",
    }
    for folder in ("tests", "examples", "benchmarks"):
        expected |= {
            str(path.relative_to(ROOT)) for path in (ROOT / folder).rglob("*.py") if "__pycache__" not in path.parts
        }
    missing = sorted(expected - names)
    assert not missing, f"the sdist lacks {missing}; add them to MANIFEST.in"
