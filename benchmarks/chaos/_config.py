"""The knobs of a chaos run (`ChaosConfig`, `QUICK`) and what it reports (`ChaosReport`)."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["FAULTS", "QUICK", "ChaosConfig", "ChaosReport"]

#: Fault kinds and their weights ("block" gets ChaosConfig.block_share of the faults on top).
FAULTS = {"crash": 0.45, "hang": 0.25, "stop": 0.15, "storm": 0.15}


@attrs.frozen(kw_only=True)
class ChaosConfig:
    """Every knob of a run. The defaults are the full run; `QUICK` is CI-sized."""

    seed: int = 1
    seconds: float = 10.0  # duration of the load
    actors: int = 100  # workers, split into teams of about `team_size`
    team_size: int = 20
    senders: int = 32  # sender tasks (tell, and await ask)
    pumps: int = 4  # sender actors (tell, and ask_nowait on a timer)
    pump_interval: float = 0.01
    rate: float = 5000.0  # load messages per second, all senders together
    pump_share: float = 0.25  # of the rate, sent by the sender actors
    ask_fraction: float = 0.25
    max_cost: float = 0.002  # a handler sleeps up to this long (half of them do not sleep)
    faults_per_second: float = 10.0
    max_dead_fraction: float = 0.1  # the injector stops workers while fewer than this are stopped
    message_timeout: float = 0.1
    hang_factor: float = 10.0  # a hang sleeps message_timeout * this
    block_seconds: float = 0.15  # a "block" fault holds the whole event loop this long
    block_share: float = 0.02  # of the faults
    throughput: int = 100  # the system's fairness setting (messages per actor between checkpoints)
    ask_timeout: float = 0.25
    tight_ask_fraction: float = 0.1  # asks with a tight deadline: some time out, and are handled late
    tight_ask_timeout: float = 0.02
    shutdown_timeout: float = 1.0
    team_max_restarts: int = 10
    team_within: float = 1.0
    storm_spacing: float = 0.02  # seconds between the crashes of a storm
    root_max_restarts: int = 100
    root_within: float = 10.0
    dead_letters_size: int = 10_000
    inspect_every: float = 0.05  # sample system.inspect() (mailbox depths)
    memory_every: float = 0.5  # sample memory
    memory: str = "rss"  # "rss" (and pymalloc's block count), "tracemalloc" (exact, slower) or "off"
    final_burst: int = 5  # tells per worker right before shutdown (some flagged), so it has work to cut
    soak: bool = False
    flat_tolerance: float = 0.05  # soak: allowed growth, last third vs first third after warm-up
    warmup_fraction: float = 0.2  # soak: at least this much of the run is warm-up
    reservoir: int = 100_000  # latency samples kept (exact below this)
    quiet: bool = True  # silence the runtime's failure logs (thousands of tracebacks)
    ledger_delay: float = 0.0  # tests: the ledger actor sleeps this long per record, to lag behind

    def __attrs_post_init__(self) -> None:
        if self.seconds <= 0 or self.actors < 3 or self.senders < 1 or self.rate <= 0:
            raise ValueError("need seconds > 0, actors >= 3, senders >= 1 and rate > 0")
        if self.memory not in ("tracemalloc", "rss", "off"):
            raise ValueError("memory must be 'tracemalloc', 'rss' or 'off'")

    @property
    def teams(self) -> int:
        return max(3, round(self.actors / self.team_size))


QUICK = dict(seconds=3.0, actors=30, team_size=10, senders=8, pumps=2, rate=1500.0, faults_per_second=8.0)


@attrs.define
class ChaosReport:
    """What a run measured; ``failures`` is empty when every check passed."""

    config: dict[str, Any]
    figures: dict[str, Any]
    failures: list[str]

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "failures": self.failures, "config": self.config, "figures": self.figures}
