"""Side-by-side throughput and footprint figures: trio-actors against raw trio, asyncio and pykka.

Run ``python -m benchmarks`` (``--quick`` for a short run, ``--json`` for one line of JSON,
``--callgrind NAME`` to count instructions per operation). Every backend runs the same
workloads in the same process, in rounds; figures are medians of the rounds and ratios are
medians of the per-round ratios. ``python -m benchmarks.chaos`` is the reliability run. See
``benchmarks/README.md``.
"""
