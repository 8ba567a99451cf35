"""A command line of components with up / down / status / chaos (scripts/cluster).

A component is an object with `name`, `up()`, `down()`, `status() -> list[str]` and optionally
`chaos(report)`. `up` starts components in order, `down` stops them in reverse.
"""

from __future__ import annotations

import argparse
import sys
from typing import Protocol, Sequence


class Component(Protocol):
    name: str

    def up(self) -> None: ...

    def down(self) -> None: ...

    def status(self) -> list[str]: ...


def log(message: str) -> None:
    print(f"[cluster] {message}", file=sys.stderr, flush=True)


def main(components: Sequence[Component], argv: Sequence[str] | None = None, prog: str = "cluster") -> int:
    names = [component.name for component in components]
    parser = argparse.ArgumentParser(prog=prog, description="Marquee's engines in their cluster modes, on loopback.")
    parser.add_argument("command", choices=["up", "down", "status", "chaos"])
    parser.add_argument("--only", action="append", choices=names, help="act on these components only")
    args = parser.parse_args(argv)
    chosen = [component for component in components if not args.only or component.name in args.only]
    if args.command == "up":
        for component in chosen:
            log(f"{component.name}: up")
            component.up()
    elif args.command == "down":
        failed = False
        for component in reversed(chosen):
            log(f"{component.name}: down")
            try:
                component.down()
            except Exception as error:  # noqa: BLE001 -- stop the others anyway
                log(f"{component.name}: {error}")
                failed = True
        return 1 if failed else 0
    elif args.command == "status":
        for component in chosen:
            for line in component.status():
                print(f"{component.name}: {line}")
    else:
        runner = getattr(sys.modules.get("__main__"), "chaos", None)
        if runner is None:
            log("chaos: not built yet")
            return 2
        return int(runner(chosen) or 0)
    return 0
