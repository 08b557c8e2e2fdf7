"""Runnable multi-agent programs built on trio-actors.

Run one from the repository root with ``python -m examples.<name>``, for
instance ``python -m examples.analyst``. Each is a short, offline program whose
comments narrate it step by step; ``tests/test_examples.py`` runs every one of
them, so none can rot.
"""
