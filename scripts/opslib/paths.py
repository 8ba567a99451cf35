"""Where the repository and the git-ignored state of the operations scripts live."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("MARQUEE_BUILD_DIR", ROOT / "build"))


class StateDir:
    """A state folder such as .local/cluster: run/ (process records), logs/, data/<name>/."""

    def __init__(self, base: Path) -> None:
        self.base = Path(base)
        self.run = self.base / "run"
        self.logs = self.base / "logs"
        self.data = self.base / "data"

    def make(self) -> "StateDir":
        for folder in (self.run, self.logs, self.data):
            folder.mkdir(parents=True, exist_ok=True)
        return self

    def data_of(self, name: str) -> Path:
        folder = self.data / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def log_of(self, name: str) -> Path:
        return self.logs / f"{name}.log"


CLUSTER = StateDir(ROOT / ".local" / "cluster")
