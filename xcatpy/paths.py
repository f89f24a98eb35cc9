"""Where a management node keeps its files.

One environment variable, ``XCATPY_ROOT``, relocates every path (unset, it is
``/``), so tests and demos run anywhere without root.  Paths are computed when
asked for, never at import time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    """The file layout of one management node, rooted at ``root``."""

    root: Path

    @classmethod
    def from_env(cls) -> Paths:
        return cls(Path(os.environ.get("XCATPY_ROOT") or "/"))

    @property
    def etc(self) -> Path:
        return self.root / "etc" / "xcatpy"

    @property
    def cfgloc(self) -> Path:
        return self.etc / "cfgloc"

    @property
    def certdir(self) -> Path:
        return self.etc / "cert"

    @property
    def cadir(self) -> Path:
        return self.etc / "ca"

    @property
    def dbdir(self) -> Path:
        return self.root / "var" / "lib" / "xcatpy"

    @property
    def sqlite_file(self) -> Path:
        return self.dbdir / "xcatdb.sqlite"

    @property
    def logdir(self) -> Path:
        return self.root / "var" / "log" / "xcatpy"

    @property
    def rundir(self) -> Path:
        return self.root / "var" / "run" / "xcatpy"

    @property
    def installdir(self) -> Path:
        return self.root / "install"

    @property
    def tftpdir(self) -> Path:
        return self.root / "tftpboot"

    def all_dirs(self) -> tuple[Path, ...]:
        return (self.etc, self.dbdir, self.logdir, self.rundir, self.installdir, self.tftpdir)
