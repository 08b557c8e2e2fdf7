"""Instructions per message, by difference: run a scenario with N and 2N messages under
callgrind and divide the difference by N (start-up and teardown cancel out).

    python .handoff/count_instructions.py [tell ask ask_nowait thread spawn] [--n 2000]

Needs valgrind. Prints one line per scenario: instructions per message.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile

SCENARIO = r'''
import sys, trio
from actors import Actor, open_actor_system

class Sink(Actor):
    async def receive(self, message):
        return message

class Tool(Actor):
    async def receive(self, message):
        return await self.run_in_thread(int, message)

async def main(kind, n):
    async with open_actor_system() as system:
        if kind == "tell":
            ref = await system.spawn(Sink, name="sink")
            await ref.ask(0)
            for i in range(n):
                ref.tell(i)
            await ref.ask(0)
        elif kind == "ask":
            ref = await system.spawn(Sink, name="sink")
            for i in range(n):
                await ref.ask(i)
        elif kind == "ask_nowait":
            ref = await system.spawn(Sink, name="sink")
            for i in range(n):
                await ref.ask_nowait(i)
        elif kind == "thread":
            ref = await system.spawn(Tool, name="tool")
            for i in range(n):
                await ref.ask(i)
        elif kind == "bare_thread":
            for i in range(n):
                await trio.to_thread.run_sync(int, i)
        elif kind == "spawn":
            for i in range(n):
                await system.spawn(Sink)

trio.run(main, sys.argv[1], int(sys.argv[2]))
'''


def instructions(kind: str, n: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "scenario.py")
        with open(script, "w") as f:
            f.write(SCENARIO)
        out = os.path.join(tmp, "cg.out")
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, script, kind, str(n)],
            capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        if proc.returncode:
            raise SystemExit(proc.stderr[-2000:])
        match = re.search(r"Collected : (\d+)", proc.stderr)
        assert match, proc.stderr[-2000:]
        return int(match.group(1))


def main() -> None:
    args = sys.argv[1:]
    n = 2000
    if "--n" in args:
        i = args.index("--n")
        n = int(args[i + 1])
        del args[i : i + 2]
    kinds = args or ["tell", "ask", "ask_nowait", "thread", "bare_thread"]
    for kind in kinds:
        count = n if kind not in ("thread", "bare_thread", "spawn") else max(50, n // 10)
        small = instructions(kind, count)
        large = instructions(kind, 2 * count)
        print(f"{kind:12s} {(large - small) / count:10.0f} instructions per message (n={count})", flush=True)


if __name__ == "__main__":
    main()
