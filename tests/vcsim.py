"""govmomi's vSphere simulator (vcsim) as a test peer.

Debian's ``golang-github-vmware-govmomi-dev`` (0.24.2) ships the simulator
library but no ``vcsim`` command, and the Go module proxy cannot be reached,
so the tests build their own small main (``tests/peers/vcsim``) in GOPATH mode
against ``/usr/share/gocode``.  The binary is cached by a hash of its source
and the Go version, so it is built once per machine (about 15-25 s cold).

``start_vcsim`` runs one simulator on 127.0.0.1 with a kernel-chosen port
(read back from its first line of output, so there is no free-port race),
waits a bounded time for it to answer, and always kills it afterwards.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parent / "peers" / "vcsim"
MAIN = SRC / "src" / "vcsimlite" / "main.go"
GOCODE = Path("/usr/share/gocode")
SIMULATOR = GOCODE / "src" / "github.com" / "vmware" / "govmomi" / "simulator"
DEFAULT_CACHE = Path(os.environ.get("XCATPY_TEST_CACHE")
                     or Path.home() / ".cache" / "xcatpy-tests") / "vcsim"
BUILD_LIMIT = 300.0
START_LIMIT = 60.0


def vcsim_missing() -> list[str]:
    """What is missing to build the simulator (empty when it can be built)."""
    missing = []
    if shutil.which("go") is None:
        missing.append("go (apt package golang-go)")
    if not SIMULATOR.is_dir():
        missing.append("govmomi source (apt package golang-github-vmware-govmomi-dev)")
    return missing


def _go_version() -> str:
    r = subprocess.run(["go", "version"], capture_output=True, text=True, timeout=30)
    return r.stdout.strip()


def build_vcsim(cache_dir: Path = DEFAULT_CACHE) -> Path:
    """The simulator binary, built if no binary of this source is cached yet."""
    digest = hashlib.sha256(MAIN.read_bytes() + _go_version().encode()).hexdigest()[:16]
    cache_dir.mkdir(parents=True, exist_ok=True)
    binary = cache_dir / f"vcsimlite-{digest}"
    if binary.exists():
        return binary
    with open(cache_dir / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test process may be building it
        if binary.exists():
            return binary
        tmp = cache_dir / f".{binary.name}.{os.getpid()}"
        env = dict(os.environ, GO111MODULE="off", GOFLAGS="",
                   GOPATH=f"{SRC}:{GOCODE}", GOCACHE=str(cache_dir / "gocache"))
        r = subprocess.run(["go", "build", "-o", str(tmp), "vcsimlite"], env=env,
                           capture_output=True, text=True, timeout=BUILD_LIMIT)
        if r.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise RuntimeError(f"building vcsimlite failed: {r.stderr.strip()}")
        tmp.rename(binary)
    return binary


@dataclass
class Vcsim:
    url: str
    host: str
    port: int
    user: str
    password: str
    proc: subprocess.Popen[str]

    @property
    def address(self) -> str:
        """``host:port``, as the tables hold it."""
        return f"{self.host}:{self.port}"

    def connect(self):  # type: ignore[no-untyped-def]
        """An independent pyvmomi session (not the backend's), for cross-checks."""
        from pyVim.connect import SmartConnect

        return SmartConnect(host=self.host, port=self.port, user=self.user or "any",
                            pwd=self.password or "any", disableSslCertValidation=True,
                            httpConnectionTimeout=30)


def _answers(url: str) -> bool:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url.replace("/sdk", "/about"), timeout=2, context=ctx):
            return True
    except Exception:
        return False


@contextlib.contextmanager
def start_vcsim(workdir: Path, *, vms: int = 2, hosts: int = 1, username: str = "",
                password: str = "", esx: bool = False, autostart: bool = True,
                binary: Path | None = None) -> Iterator[Vcsim]:
    """One simulator on 127.0.0.1: ``vms`` VMs per resource pool, ``hosts`` standalone hosts."""
    binary = binary or build_vcsim()
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [str(binary), "-listen", "127.0.0.1:0", "-vms", str(vms), "-hosts", str(hosts),
            f"-autostart={'true' if autostart else 'false'}"]
    if esx:
        argv.append("-esx")
    if username:
        argv += ["-username", username, "-password", password]
    out = workdir / "vcsim.out"
    log = open(out, "w")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, text=True,
                            cwd=workdir, start_new_session=True)
    try:
        url = _wait_ready(proc, out)
        hostport = url.split("://", 1)[1].split("/", 1)[0]
        host, _, port = hostport.rpartition(":")
        yield Vcsim(url, host, int(port), username, password, proc)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


def _wait_ready(proc: subprocess.Popen[str], out: Path) -> str:
    deadline = time.monotonic() + START_LIMIT
    url = ""
    while time.monotonic() < deadline and not url:
        for line in out.read_text().splitlines():
            if line.startswith("vcsimlite ready "):
                url = line.split()[2]
        if not url:
            if proc.poll() is not None:
                raise RuntimeError(f"vcsimlite exited {proc.returncode}: {out.read_text()}")
            time.sleep(0.05)
    if not url:
        raise RuntimeError(f"vcsimlite did not start within {START_LIMIT}s: {out.read_text()}")
    while time.monotonic() < deadline:
        if _answers(url):
            return url
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"vcsimlite at {url} did not answer within {START_LIMIT}s: "
                       f"{out.read_text()}")
