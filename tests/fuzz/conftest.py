"""Fixtures shared by the fuzz tests."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture
def quiet_actors_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make logging swallow formatting errors, as a production handler does.

    pytest's capture handler re-raises an error in formatting a log record (stdlib handlers
    print it to stderr and go on). Tests about the runtime's own use of ``repr`` (not about
    logging) use this, so that the two causes stay apart; logging has its own tests below.
    """
    monkeypatch.setattr(logging, "raiseExceptions", False)
