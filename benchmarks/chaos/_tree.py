"""The supervision tree of a chaos run: root -> teams (one strategy each) -> workers."""

from __future__ import annotations

from supervision import Backoff, ChildSpec, OneForAll, OneForOne, RestForOne, Supervisor

from ._actors import Worker
from ._config import ChaosConfig
from ._ledger import Ledger

__all__ = ["STRATEGIES", "build_tree"]

STRATEGIES = (OneForOne, OneForAll, RestForOne)


def build_tree(cfg: ChaosConfig, ledger: Ledger) -> tuple[Supervisor, list[list[str]]]:
    """root -> teams (strategies in turn) -> workers; returns the tree and worker names per team."""
    backoff = Backoff(initial=0.01, maximum=0.2)
    teams, names = [], []
    per_team = [cfg.actors // cfg.teams + (1 if t < cfg.actors % cfg.teams else 0) for t in range(cfg.teams)]
    for t, size in enumerate(per_team):
        strategy = STRATEGIES[t % len(STRATEGIES)](
            max_restarts=cfg.team_max_restarts, within=cfg.team_within, backoff=backoff
        )
        workers = [f"w{t}-{i}" for i in range(size)]
        names.append(workers)
        teams.append(
            Supervisor(
                name=f"team{t}",
                strategy=strategy,
                children=[
                    ChildSpec(
                        Worker,
                        ledger,
                        cfg.message_timeout * cfg.hang_factor,
                        cfg.block_seconds,
                        name=name,
                        message_timeout=cfg.message_timeout,
                        shutdown_timeout=cfg.shutdown_timeout,
                    )
                    for name in workers
                ],
            )
        )
    root = Supervisor(
        name="chaos",
        children=teams,
        strategy=OneForOne(max_restarts=cfg.root_max_restarts, within=cfg.root_within, backoff=backoff),
    )
    return root, names
