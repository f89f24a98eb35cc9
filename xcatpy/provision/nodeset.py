"""nodeset's pieces that need no database: boot loader entries, file batches, prescripts.

Boot loader entries follow xCAT's ``pxe.pm``, ``xnba.pm`` and ``grub2.pm``:

* ``pxe``: ``<tftpdir>/pxelinux.cfg/<node>`` with ``#<currstate>`` on its first
  line, and a symbolic link named by the node's IP address in hex
  (``0A000105``) pointing at it;
* ``xnba``: ``<tftpdir>/xcat/xnba/nodes/<node>`` (an iPXE script whose
  second line is ``#<currstate>``) and ``<node>.uefi`` for UEFI firmware;
* ``grub2``: ``<tftpdir>/boot/grub2/<node>`` and the names GRUB looks for,
  ``grub.cfg-<HEXIP>`` and ``grub.cfg-01-<mac with dashes>``, hard links to it.

:class:`FileBatch` collects every file of a request and puts them in place in
three passes — write every changed file to a temporary name, one ``sync``,
then rename — so 5,000 nodes cost one flush, not 10,000, and a failure before
the renames leaves every old file as it was.
"""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "BootSpec",
    "FileBatch",
    "Prescript",
    "boot_files",
    "hex_ip",
    "parse_prescripts",
    "primary_mac",
    "read_state",
    "run_prescripts",
]

NETBOOTS = ("pxe", "xnba", "grub2", "grub2-http", "grub2-tftp")
PRESCRIPT_TIMEOUT = 120.0
PRESCRIPT_PARALLEL = 8


def hex_ip(ip: str) -> str:
    """``10.0.1.5`` → ``0A000105`` (ValueError for anything but IPv4)."""
    return f"{int(ipaddress.IPv4Address(ip.strip())):08X}"


_MAC = re.compile(r"^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$")


def primary_mac(value: str | None) -> str | None:
    """The node's install MAC from ``mac.mac`` (``aa:..|bb:..!name``): the first one
    not tied to another host name, lower case with colons; None when there is none."""
    if not value:
        return None
    for item in re.split(r"[|\s]+", value.strip()):
        mac, _, other = item.partition("!")
        if mac and not other and _MAC.match(mac):
            return mac.lower().replace("-", ":")
    return None


@dataclass(frozen=True)
class BootSpec:
    """What one node boots next: its state and, unless local boot, a kernel."""

    state: str
    kernel: str = ""
    initrd: str = ""
    kcmdline: str = ""
    server: str = ""  # the TFTP/HTTP server as the node reaches it (grub2 needs it)
    httpport: str = "80"
    iscsi: tuple[str, str, str] | None = None  # server, lun, target (iscsiboot)

    @property
    def local(self) -> bool:
        return self.state in ("boot", "iscsiboot") or not self.kernel


def _pxe(b: BootSpec) -> str:
    out = [f"#{b.state}", "DEFAULT xCAT", "LABEL xCAT"]
    if b.local:
        out.append("LOCALBOOT 0")
    elif "!" in b.kernel:  # hypervisor!kernel: multiboot
        kernel, hyper = b.kernel.split("!", 1)
        out += [" KERNEL mboot.c32", f" APPEND {hyper} --- {kernel} {b.kcmdline} --- {b.initrd}"]
    else:
        out.append(f" KERNEL {b.kernel}")
        append = " ".join(x for x in ((f"initrd={b.initrd}" if b.initrd else ""), b.kcmdline) if x)
        if append:
            out.append(f" APPEND {append}")
    return "\n".join(out) + "\n"


def _suffix(b: BootSpec) -> str:
    return "" if b.httpport in ("", "80") else f":{b.httpport}"


def _xnba(b: BootSpec, uefi: bool) -> str:
    out = ["#!gpxe", f"#{b.state}"]
    base = "http://${next-server}" + _suffix(b) + "/tftpboot/"
    if b.state == "iscsiboot" and b.iscsi:
        server, lun, target = b.iscsi
        out.append(f"sanboot iscsi:{server}:::{lun}:{target}")
    elif b.local:
        out.append("exit")
    else:
        args = f"{b.kcmdline} BOOTIF=01-${{netX/mac:hexhyp}}".strip()
        out += [f"imgfetch -n kernel {base}{b.kernel}", "imgload kernel",
                f"imgargs kernel {args}" + (" initrd=initrd" if uefi and b.initrd else "")]
        if b.initrd:
            out.append(f"imgfetch -n initrd {base}{b.initrd}")
        out.append("imgexec kernel")
    return "\n".join(out) + "\n"


def _grub_word(word: str) -> str:
    """One kernel argument quoted for GRUB's shell-like parser when it needs it."""
    if re.fullmatch(r"[A-Za-z0-9_./:=,@%+-]+", word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"


def _grub2(b: BootSpec, protocol: str) -> str:
    out = [f"#{b.state}", "set timeout=5"]
    if not b.local:
        root = (f"http,{b.server}:{b.httpport}" if protocol == "http" and b.httpport != "80"
                else f"{protocol},{b.server}")
        prefix = "/tftpboot" if protocol == "http" else ""
        args = " ".join(_grub_word(w) for w in b.kcmdline.split())
        out += [
            'set default="xCAT OS Deployment"',
            'menuentry "xCAT OS Deployment" {',
            "    insmod http",
            "    insmod tftp",
            f"    set root={root}",
            "    echo Loading Install kernel ...",
            f"    linux {prefix}/{b.kernel}" + (f" {args}" if args else ""),
            "    echo Loading initial ramdisk ...",
        ]
        if b.initrd:
            out.append(f"    initrd {prefix}/{b.initrd}")
        out.append("}")
    return "\n".join(out) + "\n"


def boot_files(
    tftpdir: Path, node: str, netboot: str, ip: str, mac: str | None, spec: BootSpec | None
) -> tuple[dict[Path, str], dict[Path, str], dict[Path, Path], list[Path]]:
    """(files to write, symlinks name → target, hard links name → file, paths to remove)
    for ``node``; ``spec`` None removes the node's entries (``offline``)."""
    files: dict[Path, str] = {}
    symlinks: dict[Path, str] = {}
    hardlinks: dict[Path, Path] = {}
    remove: list[Path] = []
    if netboot == "pxe":
        d = tftpdir / "pxelinux.cfg"
        if spec is None:
            remove += [d / node, d / hex_ip(ip)]
        else:
            files[d / node] = _pxe(spec)
            symlinks[d / hex_ip(ip)] = node
    elif netboot == "xnba":
        d = tftpdir / "xcat" / "xnba" / "nodes"
        names = [d / node, d / f"{node}.uefi"]
        if spec is None:
            remove += [*names, d / f"{node}.pxelinux", d / f"{node}.elilo"]
        else:
            files[names[0]] = _xnba(spec, uefi=False)
            files[names[1]] = _xnba(spec, uefi=True)
    elif netboot.startswith("grub2"):
        d = tftpdir / "boot" / "grub2"
        links = [d / f"grub.cfg-{hex_ip(ip)}"]
        if mac:
            links.append(d / f"grub.cfg-01-{mac.replace(':', '-')}")
        if spec is None:
            remove += [d / node, *links]
        else:
            protocol = netboot.partition("-")[2] or "tftp"
            files[d / node] = _grub2(spec, protocol)
            for link in links:
                hardlinks[link] = d / node
    else:
        raise ValueError(f"unsupported noderes.netboot '{netboot}' (use pxe, xnba or grub2)")
    return files, symlinks, hardlinks, remove


def state_file(tftpdir: Path, node: str, netboot: str) -> Path | None:
    if netboot == "pxe":
        return tftpdir / "pxelinux.cfg" / node
    if netboot == "xnba":
        return tftpdir / "xcat" / "xnba" / "nodes" / node
    if netboot.startswith("grub2"):
        return tftpdir / "boot" / "grub2" / node
    return None


def read_state(tftpdir: Path, node: str, netboot: str) -> str:
    """The state a node's boot entry says (its ``#...`` comment line), as xCAT's
    ``getstate``; ``offline`` when there is no entry."""
    path = state_file(tftpdir, node, netboot)
    try:
        text = path.read_text() if path is not None else ""
    except (FileNotFoundError, NotADirectoryError):
        return "offline"
    lines = text.splitlines()
    if netboot == "xnba":
        lines = lines[1:]
    for line in lines[:1]:
        if line.startswith("#"):
            return line[1:].strip()
    return "offline"


# ---------------------------------------------------------------------------
# Writing many files at once
# ---------------------------------------------------------------------------


@dataclass
class FileBatch:
    """Files, links and removals of one request, applied together by :meth:`apply`."""

    files: dict[Path, str] = field(default_factory=dict)
    symlinks: dict[Path, str] = field(default_factory=dict)
    hardlinks: dict[Path, Path] = field(default_factory=dict)
    remove: list[Path] = field(default_factory=list)

    def add(self, parts: tuple[dict[Path, str], dict[Path, str], dict[Path, Path], list[Path]]
            ) -> None:
        files, symlinks, hardlinks, remove = parts
        self.files.update(files)
        self.symlinks.update(symlinks)
        self.hardlinks.update(hardlinks)
        self.remove.extend(remove)

    def apply(self) -> int:
        """Put everything in place; returns how many files changed.

        Unchanged files are not rewritten.  Every new text is written to a
        temporary file beside its target first; after one ``sync`` the
        temporaries are renamed over their targets, each rename atomic.  An
        error while writing removes the temporaries and leaves old files as
        they were.
        """
        staged: list[tuple[str, Path]] = []
        made: set[Path] = set()
        try:
            for path, text in self.files.items():
                try:
                    if path.read_text() == text:
                        continue
                except (FileNotFoundError, NotADirectoryError):
                    pass
                if path.parent not in made:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    made.add(path.parent)
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                           dir=path.parent)
                staged.append((tmp, path))
                with os.fdopen(fd, "w") as f:
                    f.write(text)
                os.chmod(tmp, 0o644)
            if staged:
                os.sync()
        except BaseException:
            for tmp, _p in staged:
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
            raise
        for tmp, path in staged:
            os.replace(tmp, path)
        for link, target in self.symlinks.items():
            try:
                if os.readlink(link) == target:
                    continue
            except OSError:
                pass
            link.parent.mkdir(parents=True, exist_ok=True)
            tmp = link.with_name(f".{link.name}.{os.getpid()}.lnk")
            _unlink(tmp)
            os.symlink(target, tmp)
            os.replace(tmp, link)
        for link, target in self.hardlinks.items():
            try:
                if os.path.samefile(link, target):
                    continue
            except OSError:
                pass
            tmp = link.with_name(f".{link.name}.{os.getpid()}.lnk")
            _unlink(tmp)
            os.link(target, tmp)
            os.replace(tmp, link)
        for path in self.remove:
            _unlink(path)
        return len(staged)


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except (FileNotFoundError, NotADirectoryError):
        pass


# ---------------------------------------------------------------------------
# prescripts
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Prescript:
    """One script of ``prescripts.begin`` and the nodes it runs for."""

    name: str
    nodes: tuple[str, ...]


def parse_prescripts(value: str | None, action: str) -> list[str]:
    """The scripts ``prescripts.begin`` names for ``action``.

    xCAT's syntax: ``s1,s2`` (every action) or ``install:s1,s2|boot:s3``
    (``action:`` picks the scripts for that nodeset action).
    """
    out: list[str] = []
    for part in (value or "").split("|"):
        part = part.strip()
        if not part:
            continue
        if ":" in part:
            acts, _, scripts = part.partition(":")
            if action not in [a.strip() for a in acts.split(",")]:
                continue
        else:
            scripts = part
        out += [s.strip() for s in scripts.split(",") if s.strip()]
    return out


def group_prescripts(begin: Mapping[str, str | None], action: str) -> list[Prescript]:
    """One run per script for all nodes naming it (as xCAT runs them: ``NODES`` is a
    comma list), in the order scripts first appear."""
    by_script: dict[str, list[str]] = {}
    for node, value in begin.items():
        for script in parse_prescripts(value, action):
            by_script.setdefault(script, []).append(node)
    return [Prescript(s, tuple(n)) for s, n in by_script.items()]


def run_prescripts(
    scripts: Sequence[Prescript],
    action: str,
    scriptdir: Path,
    env: Mapping[str, str],
    *,
    timeout: float = PRESCRIPT_TIMEOUT,
    parallel: int = PRESCRIPT_PARALLEL,
) -> dict[str, list[str]]:
    """Run each script once for its nodes; node → error messages for every failure.

    A script is ``<scriptdir>/<name>`` (an absolute name is used as is), run
    with ``NODES`` (its nodes, comma-separated), ``ACTION`` and the variables
    of ``env``, no shell, stdin closed, bounded by ``timeout`` seconds; at most
    ``parallel`` scripts run at once.  A missing script, a non-zero exit or a
    timeout fails every node of that script.
    """
    errors: dict[str, list[str]] = {}

    def one(p: Prescript) -> tuple[Prescript, str | None]:
        path = Path(p.name) if os.path.isabs(p.name) else scriptdir / p.name
        if not (path.is_file() and os.access(path, os.X_OK)):
            return p, f"prescript {p.name}: {path} is missing or not executable"
        full = dict(env)
        full.update(NODES=",".join(p.nodes), ACTION=action)
        start = time.monotonic()
        try:
            r = subprocess.run([str(path)], env=full, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=timeout, check=False,
                               cwd=str(scriptdir) if scriptdir.is_dir() else None)
        except subprocess.TimeoutExpired:
            return p, f"prescript {p.name} timed out after {timeout:g} s"
        except OSError as exc:
            return p, f"prescript {p.name}: {exc.strerror or exc}"
        if r.returncode != 0:
            last = (r.stderr.strip() or r.stdout.strip()).splitlines()[-1:] or [""]
            detail = f": {last[0][:300]}" if last[0] else ""
            return p, (f"prescript {p.name} exited {r.returncode} after "
                       f"{time.monotonic() - start:.1f} s{detail}")
        return p, None

    if not scripts:
        return errors
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(scripts)))) as pool:
        for p, message in pool.map(one, scripts):
            if message:
                for node in p.nodes:
                    errors.setdefault(node, []).append(message)
    return errors


def join_args(*parts: Iterable[str] | str | None) -> str:
    """Kernel arguments joined by single spaces, empty parts dropped."""
    words: list[str] = []
    for part in parts:
        if not part:
            continue
        if isinstance(part, str):
            words += part.split()
        else:
            words += [w for p in part for w in p.split()]
    return " ".join(words)
