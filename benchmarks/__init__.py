"""Side-by-side throughput and footprint figures: trio-actors against raw trio, asyncio and pykka.

Run ``python -m benchmarks`` (``--quick`` for a short run, ``--json`` for one JSON object on
stdout). Every backend runs the same workloads in the same process, round-robin, and each figure
is the best of a few repeats; see ``benchmarks/README.md``.
"""
