"""A supervisor's children (which_children, count_children) in system.inspect() and the live view."""

from __future__ import annotations

import pytest
from supkit import Worker

from actors import ActorSystem
from actors._live import plain_lines
from supervision import ChildCounts, ChildSpec, DynamicSupervisor, Supervisor, start_child, terminate_child


async def test_inspect_carries_which_children_and_count_children_of_each_supervisor(
    actor_system: ActorSystem,
) -> None:
    sup = await actor_system.spawn_tree(
        Supervisor(
            name="team",
            children=[
                ChildSpec(Worker, name="planner", log=[]),
                ChildSpec(Worker, name="scout", log=[]),
            ],
        )
    )
    pool = await start_child(sup, DynamicSupervisor(name="pool", max_children=5))
    await start_child(pool, ChildSpec(Worker, name="agent-1", log=[], restart="temporary"))
    await terminate_child(sup, "scout")
    infos = {info.path: info for info in actor_system.inspect()}
    assert list(infos) == ["/team", "/team/planner", "/team/pool", "/team/pool/agent-1"]
    team = infos["/team"]
    assert team.child_counts == ChildCounts(specs=3, active=2, supervisors=1, workers=2)
    assert [(c.name, c.phase, c.dynamic) for c in team.supervised] == [
        ("planner", "running", False),
        ("scout", "terminated", False),
        ("pool", "running", True),
    ]
    assert infos["/team/pool"].child_counts == ChildCounts(specs=1, active=1, supervisors=0, workers=1)
    assert infos["/team/planner"].supervised is None and infos["/team/planner"].child_counts is None


async def test_the_live_view_shows_a_supervisors_children(actor_system: ActorSystem) -> None:
    sup = await actor_system.spawn_tree(
        Supervisor(
            name="team",
            children=[
                ChildSpec(Worker, name="planner", log=[]),
                ChildSpec(Worker, name="scout", log=[]),
            ],
        )
    )
    pool = await start_child(sup, DynamicSupervisor(name="pool"))
    for n in (1, 2):
        await start_child(pool, ChildSpec(Worker, name=f"agent-{n}", log=[], restart="temporary"))
    await terminate_child(sup, "scout")
    lines = plain_lines(actor_system.inspect(), 1.0)
    assert lines[1].startswith("/team ") and lines[1].endswith("children 2/3 running (terminated: scout)")
    assert lines[3].lstrip().startswith("/team/pool ") and lines[3].endswith("children 2/2 running")
    assert "children" not in lines[2]  # a worker's row


def test_the_rich_view_has_a_children_column() -> None:
    pytest.importorskip("rich")
    from rich.console import Console

    from actors._inspect import ActorInfo
    from actors._live import RichView

    console = Console(width=160, record=True, force_terminal=False)
    view = RichView(console=console)
    try:
        info = ActorInfo(
            None,
            "/pool",
            1,
            "DynamicSupervisor",
            "running",
            0,
            0,
            None,
            2,  # type: ignore[arg-type]
            (),
            ChildCounts(specs=2, active=2, supervisors=0, workers=2),
        )
        console.print(view.render([info], 1.0, 0))
    finally:
        view.close()
    text = console.export_text()
    assert "children" in text and "2/2 running" in text
