"""nodeset and rinstall: what nodes boot next, and starting their installation.

``nodeset`` reads every table it needs once for all nodes of the request,
decides each node's new state, runs the ``prescripts.begin`` scripts, renders
the autoinstall files (``install/autoinst/<node>``) for all installing nodes in
bulk, writes every boot loader entry through one :class:`FileBatch`, and then
the ``chain``/``bootparams``/``nodetype`` rows of the nodes that succeeded, in
one transaction.  A node that fails (no IP, no MAC, unknown osimage, template
error, failed prescript) gets an error naming what is missing and keeps its
files and rows; the other nodes are done.

``rinstall`` is nodeset, then ``rsetboot net`` and ``rpower boot`` through
:mod:`xcatpy.backends.dispatch` for the nodes that are still fine.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xcatpy.commands._util import has, parse_opts, request_nodes, says_no, writing
from xcatpy.commands.context import Context
from xcatpy.errors import UsageError, XcatError
from xcatpy.protocol import Request, Response, data, error, info, warning

USAGE = ("Usage: nodeset <noderange> [osimage[=<imagename>]|boot|shell|runcmd=<command>|"
         "runimage=<url>|offline|stat|enact|next|iscsiboot]\n"
         "       nodeset [-h|--help|-v|--version]")
RINSTALL_USAGE = ("Usage: rinstall <noderange> [osimage[=<imagename>]|boot|shell|"
                  "runcmd=<command>|runimage=<url>] [-u] [-V]\n"
                  "       rinstall [-h|--help|-v|--version]")

SIMPLE = ("boot", "shell", "offline", "stat", "enact", "next", "iscsiboot", "osimage", "standby")
WITH_VALUE = ("osimage", "runcmd", "runimage")
GENESIS = ("shell", "runcmd", "runimage", "standby")

_TABLES = {
    "nodetype": ["os", "arch", "profile", "provmethod"],
    "noderes": ["netboot", "xcatmaster", "tftpserver"],
    "hosts": ["ip"],
    "mac": ["mac"],
    "chain": ["currstate", "currchain", "chain"],
    "bootparams": ["kernel", "initrd", "kcmdline", "addkcmdline"],
    "nodehm": ["serialport", "serialspeed"],
    "prescripts": ["begin"],
    "iscsi": ["server", "target", "lun"],
}

# Where each platform's installer kernel and initrd live, under the osimage's
# TFTP directory, and where copycds leaves them under <installdir>/<os>/<arch>.
_KERNELS = {
    "esxi": ("mboot.c32", "", ("mboot.c32",)),
    "esx": ("mboot.c32", "", ("mboot.c32",)),
    "sles": ("linux", "initrd", ("boot/{arch}/loader/linux", "boot/{arch}/loader/initrd")),
    "ubuntu": ("vmlinuz", "initrd", ("casper/vmlinuz", "casper/initrd")),
    "debian": ("vmlinuz", "initrd", ("install/vmlinuz", "install/initrd.gz")),
}
_RH_KERNEL = ("vmlinuz", "initrd.img", ("images/pxeboot/vmlinuz", "images/pxeboot/initrd.img"))


def parse_action(rest: Sequence[str], usage: str = USAGE) -> tuple[str, str | None]:
    """The one action word → (verb, value); ``install``/``netboot`` as old xCAT aliases
    of ``osimage``."""
    if not rest:
        raise UsageError(f"nodeset: an action is required\n{usage}")
    if len(rest) > 1:
        raise UsageError(f"nodeset: only one action may be given, not {' '.join(rest)!r}\n{usage}")
    word = rest[0]
    verb, eq, val = word.partition("=")
    if verb == "install":
        verb = "osimage"
    if verb in WITH_VALUE and eq:
        if not val:
            raise UsageError(f"nodeset: {verb}= needs a value\n{usage}")
        return verb, val
    if verb in SIMPLE and not eq:
        return verb, None
    raise UsageError(f"nodeset: unsupported action {word!r}\n{usage}")


def _state_action(state: str) -> tuple[str, str | None] | None:
    """The action that puts a node in chain state ``state`` (for next/enact)."""
    state = state.strip()
    if not state:
        return None
    head = state.split()[0]
    if head in ("install", "netboot", "statelite"):
        return "osimage", None
    try:
        return parse_action([state])
    except UsageError:
        return None


@dataclass
class _Plan:
    node: str
    state: str
    spec: Any = None  # BootSpec, or None for offline
    rows: dict[str, dict[str, str | None]] = field(default_factory=dict)
    image: str | None = None  # osimage to render the autoinstall file with
    legacy: bool = False  # osimage facts from nodetype, no osimage row


class _Overlay:
    """A NodeView whose attributes show the values nodeset is about to write, so a
    template renders with the node's new os/arch/profile before any row changes."""

    def __init__(self, view: Any, overrides: Mapping[tuple[str, str], Mapping[str, str]]) -> None:
        self._view = view
        self._over = overrides

    def __getattr__(self, name: str) -> Any:
        return getattr(self._view, name)

    def attributes(self, nodes: Sequence[str], wanted: Mapping[str, Any], **kw: Any) -> Any:
        res = self._view.attributes(nodes, wanted, **kw)
        asked = set(nodes)
        for (table, column), values in self._over.items():
            if column in set(wanted.get(table) or ()):
                col = res.columns.setdefault((table, column), {})
                col.update({n: v for n, v in values.items() if n in asked and v})
        res._values = None
        return res


class _Run:
    """One nodeset request: facts read in bulk, plans and errors per node."""

    def __init__(self, ctx: Context, view: Any, conn: Any, nodes: list[str]) -> None:
        from xcatpy.store.attrs import enabled
        from xcatpy.store.rows import read_rows

        self.ctx = ctx
        self.view = view
        self.conn = conn
        self.nodes = nodes
        self.site = dict(view.site)
        self.res = view.attributes(nodes, _TABLES, ordered=False)
        self.errors: dict[str, list[str]] = {n: list(m) for n, m in self.res.errors.items()}
        self.warnings: list[str] = []
        self.images = {r["imagename"]: r for r in read_rows(conn, ctx.store, "osimage")
                       if enabled(r) and r.get("imagename")}
        self.linux = {r["imagename"]: r for r in read_rows(conn, ctx.store, "linuximage")
                      if enabled(r) and r.get("imagename")}
        self.tftpdir = self._dir("tftpdir", ctx.paths.tftpdir)
        self.installdir = self._dir("installdir", ctx.paths.installdir)
        port = (self.site.get("httpport") or "80").strip() or "80"
        self.httpport = port
        self.portsuffix = "" if port == "80" else f":{port}"

    def _dir(self, key: str, default: Path) -> Path:
        """site.tftpdir/installdir: xCAT's defaults (``/tftpboot``, ``/install``) are the
        paths under XCATPY_ROOT; another absolute path is used as it is, a relative one
        is under XCATPY_ROOT."""
        text = (self.site.get(key) or "").strip()
        if not text or text in ("/tftpboot", "/install"):
            return default
        p = Path(text)
        return p if p.is_absolute() else self.ctx.paths.root / p

    def get(self, node: str, table: str, column: str) -> str | None:
        v = self.res.get(node, table, column)
        return v.strip() if isinstance(v, str) and v.strip() else None

    def fail(self, node: str, message: str) -> None:
        self.errors.setdefault(node, []).append(message)

    # -- per-node facts -----------------------------------------------------

    def netboot(self, node: str) -> str | None:
        from xcatpy.provision.nodeset import NETBOOTS

        nb = self.get(node, "noderes", "netboot")
        if not nb:
            self.fail(node, "noderes.netboot is not set (pxe, xnba or grub2)")
            return None
        if nb not in NETBOOTS:
            self.fail(node, f"noderes.netboot '{nb}' is not supported (pxe, xnba or grub2)")
            return None
        return nb

    def ip(self, node: str) -> str | None:
        ip = self.get(node, "hosts", "ip")
        if not ip:
            self.fail(node, "no IP address: set hosts.ip (mkdef/chdef ip=...)")
            return None
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            self.fail(node, f"hosts.ip '{ip}' is not an IPv4 address")
            return None
        return ip

    def mac(self, node: str) -> str | None:
        from xcatpy.provision.nodeset import primary_mac

        raw = self.get(node, "mac", "mac")
        mac = primary_mac(raw)
        if mac is None:
            self.fail(node, f"mac.mac '{raw}' holds no usable MAC address" if raw else
                      "no MAC address: set mac.mac (mkdef/chdef mac=...)")
        return mac

    def server(self, node: str) -> str | None:
        s = self.get(node, "noderes", "xcatmaster") or (self.site.get("master") or "").strip()
        if not s:
            self.fail(node, "no install server: set noderes.xcatmaster or site.master")
            return None
        return s

    def console(self, node: str) -> str:
        port = self.get(node, "nodehm", "serialport")
        if not port:
            return ""
        speed = self.get(node, "nodehm", "serialspeed") or "115200"
        return f"console=tty0 console=ttyS{port},{speed}"


# ---------------------------------------------------------------------------
# Building each node's plan
# ---------------------------------------------------------------------------


def _image_facts(run: _Run, node: str, name: str | None) -> tuple[str, str, str, str] | None:
    """(image name, os, arch, profile) for an install, or None after recording an error."""
    provmethod = run.get(node, "nodetype", "provmethod")
    if name is None:
        if not provmethod:
            run.fail(node, "no osimage: give osimage=<name> or set nodetype.provmethod")
            return None
        if provmethod in ("install", "netboot", "statelite"):
            if provmethod != "install":
                run.fail(node, f"nodetype.provmethod {provmethod}: only install is supported")
                return None
            facts = [run.get(node, "nodetype", c) for c in ("os", "arch", "profile")]
            missing = [f"nodetype.{c}" for c, v in zip(("os", "arch", "profile"), facts, strict=True)
                       if not v]
            if missing:
                run.fail(node, f"cannot install: {', '.join(missing)} not set")
                return None
            os_name, arch, profile = (str(v) for v in facts)
            return "", os_name, arch, profile
        name = provmethod
    img = run.images.get(name)
    if img is None and name not in run.linux:
        run.fail(node, f"Cannot find the osimage '{name}' (define it with mkdef -t osimage)")
        return None
    img = img or {}
    method = (img.get("provmethod") or "install").strip()
    if method != "install":
        run.fail(node, f"osimage '{name}' has provmethod {method}: only install is supported")
        return None
    facts = [(img.get(c) or "").strip() for c in ("osvers", "osarch", "profile")]
    missing = [f"osimage.{c}" for c, v in zip(("osvers", "osarch", "profile"), facts, strict=True) if not v]
    if missing:
        run.fail(node, f"osimage '{name}': {', '.join(missing)} not set")
        return None
    return name, facts[0], facts[1], facts[2]


def _install_kernel(run: _Run, node: str, key: str, os_name: str, arch: str,
                    server: str) -> tuple[str, str, str] | None:
    """(kernel, initrd, kcmdline) of the installer, relative to the TFTP root."""
    from xcatpy.provision.template import platform_of

    platform = platform_of(os_name) or ""
    base = f"http://{server}{run.portsuffix}/install"
    ks = f"{base}/autoinst/{node}"
    repo = f"{base}/{os_name}/{arch}"
    kdir = f"xcat/osimage/{key}"
    if platform == "windows":
        run.fail(node, f"nodeset cannot boot the Windows installer of {os_name} (no WinPE support)")
        return None
    kern, initrd, _src = _KERNELS.get(platform, _RH_KERNEL)
    if platform in ("esxi", "esx"):
        return f"{kdir}/{kern}", "", f"-c {kdir}/boot.cfg ks={ks}"
    if platform == "sles":
        args = f"install={repo}/1 autoyast={ks} ip=dhcp"
    elif platform in ("ubuntu", "debian"):
        args = f"ip=dhcp autoinstall cloud-config-url={ks} url={repo}/install.iso"
    else:  # the Red Hat family
        args = f"quiet inst.repo={repo} inst.ks={ks} ip=dhcp"
    return f"{kdir}/{kern}", f"{kdir}/{initrd}", args


def _copy_kernels(run: _Run, keys: Mapping[str, tuple[str, str]]) -> None:
    """Put each osimage's installer kernel and initrd under tftpboot/xcat/osimage/<image>/
    from the distribution tree (``<installdir>/<os>/<arch>``), once per image; a warning
    when neither is there yet."""
    from xcatpy.provision.template import platform_of

    for key, (os_name, arch) in keys.items():
        kern, initrd, sources = _KERNELS.get(platform_of(os_name) or "", _RH_KERNEL)
        dest = run.tftpdir / "xcat" / "osimage" / key
        names = [n for n in (kern, initrd) if n]
        missing = []
        for name, src in zip(names, sources, strict=False):
            target = dest / name
            source = run.installdir / os_name / arch / src.format(arch=arch)
            if target.exists():
                continue
            if source.is_file():
                dest.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{name}.tmp")
                shutil.copyfile(source, tmp)
                os.replace(tmp, target)
            else:
                missing.append(str(source))
        if missing:
            run.warnings.append(
                f"osimage {key}: installer files not found ({', '.join(missing)}); copy the "
                f"distribution there before the nodes boot")


def _plans(run: _Run, nodes: list[str], verb: str, value: str | None,
           chain_rest: Mapping[str, str] | None = None) -> list[_Plan]:
    from xcatpy.provision.nodeset import BootSpec, join_args

    plans: list[_Plan] = []
    for node in nodes:
        netboot = run.netboot(node)
        if verb != "offline":
            run.ip(node)
            if verb == "osimage" or (netboot or "").startswith("grub2"):
                run.mac(node)
        if node in run.errors:
            continue
        chain: dict[str, str | None] = {}
        if chain_rest is not None and node in chain_rest:
            chain["currchain"] = chain_rest[node]
        if verb == "offline":
            plans.append(_Plan(node, "offline", None, {"chain": {**chain, "currstate": "offline"}}))
            continue
        server = run.get(node, "noderes", "tftpserver") or run.server(node)
        if verb in ("boot",):
            spec = BootSpec("boot", server=server or "", httpport=run.httpport)
            plans.append(_Plan(node, "boot", spec, {"chain": {**chain, "currstate": "boot"}}))
            continue
        if verb == "iscsiboot":
            tgt = (run.get(node, "iscsi", "server"), run.get(node, "iscsi", "target"))
            if not all(tgt):
                run.fail(node, "no iSCSI target: set iscsi.server and iscsi.target")
                continue
            if netboot != "xnba":
                run.fail(node, "iscsiboot needs noderes.netboot=xnba (an iPXE sanboot)")
                continue
            lun = run.get(node, "iscsi", "lun") or "0"
            spec = BootSpec("iscsiboot", iscsi=(str(tgt[0]), lun, str(tgt[1])))
            plans.append(_Plan(node, "iscsiboot", spec,
                               {"chain": {**chain, "currstate": "iscsiboot"}}))
            continue
        master = run.server(node)
        if master is None or server is None:
            continue
        add = run.get(node, "bootparams", "addkcmdline")
        if verb in GENESIS:
            state = verb if value is None else f"{verb}={value}"
            arch = run.get(node, "nodetype", "arch") or "x86_64"
            port = (run.site.get("xcatdport") or "3001").strip()
            kcmd = join_args("quiet", f"xcatd={master}:{port}", f"destiny={verb}",
                             run.console(node))
            spec = BootSpec(state, f"xcat/genesis.kernel.{arch}", f"xcat/genesis.fs.{arch}.gz",
                            join_args(kcmd, add), server, run.httpport)
            plans.append(_Plan(node, state, spec, {
                "chain": {**chain, "currstate": state},
                "bootparams": {"kernel": spec.kernel, "initrd": spec.initrd, "kcmdline": kcmd},
            }))
            continue
        # osimage
        facts = _image_facts(run, node, value)
        if facts is None:
            continue
        name, os_name, arch, profile = facts
        key = name or f"{os_name}-{arch}-install-{profile}"
        kernel = _install_kernel(run, node, key, os_name, arch, master)
        if kernel is None:
            continue
        kern, initrd, args = kernel
        image_add = (run.linux.get(name) or {}).get("addkcmdline") if name else None
        kcmd = join_args(args, run.console(node), image_add)
        state = f"install {os_name}-{arch}-{profile}"
        spec = BootSpec(state, kern, initrd, join_args(kcmd, add), server, run.httpport)
        plans.append(_Plan(node, state, spec, {
            "chain": {"currstate": state, "currchain": "boot"},
            "bootparams": {"kernel": kern, "initrd": initrd, "kcmdline": kcmd},
            "nodetype": {"os": os_name, "arch": arch, "profile": profile,
                         "provmethod": name or "install"},
        }, image=name or None, legacy=not name))
    return plans


def _enact_plans(run: _Run, nodes: list[str]) -> list[_Plan]:
    """Boot entries rewritten from the tables as they are (no row changes)."""
    from xcatpy.provision.nodeset import BootSpec, join_args

    plans = []
    for node in nodes:
        run.netboot(node)
        run.ip(node)
        state = run.get(node, "chain", "currstate")
        if not state:
            run.fail(node, "Cannot determine current state for this node")
        if node in run.errors:
            continue
        assert state is not None
        if state == "offline":
            plans.append(_Plan(node, state, None))
            continue
        if state == "iscsiboot":
            plans.extend(_plans(run, [node], "iscsiboot", None))
            for p in plans[-1:]:
                p.rows = {}
            continue
        server = run.get(node, "noderes", "tftpserver") or run.server(node) or ""
        spec = BootSpec(state, run.get(node, "bootparams", "kernel") or "",
                        run.get(node, "bootparams", "initrd") or "",
                        join_args(run.get(node, "bootparams", "kcmdline"),
                                  run.get(node, "bootparams", "addkcmdline")),
                        server, run.httpport)
        if state != "boot" and not spec.kernel:
            run.fail(node, f"state '{state}' but bootparams.kernel is not set")
            continue
        plans.append(_Plan(node, state, spec))
    return plans


def _prescript_env(run: _Run) -> dict[str, str]:
    env = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "HOME") if k in os.environ}
    env.setdefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    env.update(XCATPY_ROOT=str(run.ctx.paths.root), INSTALLDIR=str(run.installdir),
               TFTPDIR=str(run.tftpdir), MASTER=(run.site.get("master") or "").strip())
    return env


def _prescripts(run: _Run, plans: list[_Plan], action: str) -> list[_Plan]:
    from xcatpy.provision import nodeset as ns

    begin = {p.node: run.get(p.node, "prescripts", "begin") for p in plans}
    groups = ns.group_prescripts({n: v for n, v in begin.items() if v}, action)
    if not groups:
        return plans
    timeout = ns.PRESCRIPT_TIMEOUT
    try:
        timeout = float(run.site.get("prescripttimeout") or timeout)
    except ValueError:
        pass
    errs = ns.run_prescripts(groups, action, run.installdir / "prescripts", _prescript_env(run),
                             timeout=timeout)
    for node, messages in errs.items():
        for m in messages:
            run.fail(node, m)
    return [p for p in plans if p.node not in errs]


def _render(run: _Run, plans: list[_Plan]) -> dict[str, str]:
    """node → autoinstall text for every installing node; failures go to run.errors."""
    from xcatpy.provision.template import render_nodes

    installing = [p for p in plans if p.spec is not None and p.state.startswith("install ")]
    if not installing:
        return {}
    over: dict[tuple[str, str], dict[str, str]] = {}
    for p in installing:
        for col, v in p.rows.get("nodetype", {}).items():
            if v:
                over.setdefault(("nodetype", col), {})[p.node] = v
    view = _Overlay(run.view, over)
    by_image: dict[str | None, list[str]] = {}
    for p in installing:
        by_image.setdefault(p.image, []).append(p.node)
    texts: dict[str, str] = {}
    for image, members in by_image.items():
        for node, r in render_nodes(members, view, osimage=image,
                                    installdir=run.installdir).items():
            if r.error is not None:
                run.fail(node, r.error)
            else:
                texts[node] = str(r.text)
    return texts


def _write(run: _Run, plans: list[_Plan], texts: Mapping[str, str]) -> None:
    from xcatpy.provision import nodeset as ns

    batch = ns.FileBatch()
    for p in plans:
        netboot = run.get(p.node, "noderes", "netboot") or ""
        ip = run.get(p.node, "hosts", "ip")
        mac = ns.primary_mac(run.get(p.node, "mac", "mac"))
        try:
            if p.spec is None and not ip:  # offline without an address: the node's own files
                path = ns.state_file(run.tftpdir, p.node, netboot)
                batch.remove += [path] if path else []
                if netboot == "xnba":
                    batch.remove.append(run.tftpdir / "xcat/xnba/nodes" / f"{p.node}.uefi")
                continue
            batch.add(ns.boot_files(run.tftpdir, p.node, netboot, str(ip), mac, p.spec))
        except ValueError as exc:
            run.fail(p.node, str(exc))
            continue
        if p.node in texts:
            batch.files[run.installdir / "autoinst" / p.node] = texts[p.node]
    batch.apply()


def _upsert(run: _Run, plans: list[_Plan]) -> None:
    from xcatpy.store import rows

    by_table: dict[str, list[tuple[dict[str, str], dict[str, str | None]]]] = {}
    for p in plans:
        for table, values in p.rows.items():
            by_table.setdefault(table, []).append(({"node": p.node}, values))
    for table, changes in by_table.items():
        rows.upsert(run.conn, run.ctx.store, table, changes)


def apply_nodeset(req: Request, ctx: Context, verb: str, value: str | None,
                  *, dhcp: bool = True) -> tuple[list[Response], list[str]]:
    """Run nodeset ``verb[=value]`` for the request's nodes → (responses, nodes done).

    ``dhcp=False`` leaves the DHCP configuration alone (a chain step does not
    change it).
    """
    out: list[Response] = []
    done: list[str] = []
    with writing(ctx) as (conn, view):
        nodes = request_nodes(req, view)
        run = _Run(ctx, view, conn, nodes)
        if verb == "stat":
            from xcatpy.provision.nodeset import read_state

            for node in nodes:
                nb = run.netboot(node)
                if nb and node not in run.errors:
                    out.append(data(read_state(run.tftpdir, node, nb), node=node))
            out += [error(m, node=n) for n in nodes for m in run.errors.get(n, [])]
            return out, [n for n in nodes if n not in run.errors]
        if verb == "enact":
            plans = _enact_plans(run, nodes)
            action = "enact"
        elif verb == "next":
            from xcatpy.commands.destiny import next_state

            groups: dict[tuple[str, str | None], list[str]] = {}
            rest: dict[str, str] = {}
            for node in nodes:
                state, remaining = next_state(run.get(node, "chain", "currchain"),
                                              run.get(node, "chain", "chain"))
                act = _state_action(state)
                if act is None:
                    run.fail(node, f"cannot set the next chain state '{state}'")
                    continue
                rest[node] = remaining
                groups.setdefault(act, []).append(node)
            plans = []
            for (v, val), members in groups.items():
                plans += _plans(run, members, v, val, rest)
            action = "next"
        else:
            plans = _plans(run, nodes, verb, value)
            action = "install" if verb == "osimage" else verb
        plans = _prescripts(run, plans, action)
        texts = _render(run, plans)
        plans = [p for p in plans if p.node not in run.errors]
        keys = {}
        for p in plans:
            if p.state.startswith("install ") and p.spec is not None:
                key = p.spec.kernel.split("/")[2]
                keys[key] = (p.rows["nodetype"]["os"], p.rows["nodetype"]["arch"])
        try:
            _write(run, plans, texts)
            _copy_kernels(run, keys)
        except OSError as exc:
            raise XcatError(f"nodeset: cannot write boot files: {exc}") from None
        plans = [p for p in plans if p.node not in run.errors]
        _upsert(run, plans)
        states = {p.node: p.state for p in plans}
        for w in run.warnings:
            out.append(warning(w))
        for node in nodes:
            for m in run.errors.get(node, []):
                out.append(error(m, node=node))
            if node in states:
                out.append(data(states[node], node=node))
                done.append(node)
        site = run.site
    if dhcp and done and verb not in ("stat",) and not says_no(site.get("dhcpsetup")):
        out += _makedhcp(ctx, req, done)
    return out, done


def _makedhcp(ctx: Context, req: Request, nodes: list[str]) -> list[Response]:
    """xCAT's nodeset ends with makedhcp for its nodes unless site.dhcpsetup=n."""
    from xcatpy.commands.netconf import makedhcp
    from xcatpy.noderange import fold

    sub = Request("makedhcp", noderange=fold(nodes), args=[], nodes=list(nodes),
                  cwd=req.cwd, environment=req.environment)
    try:
        return [r for r in makedhcp(sub, ctx) if r.kind != "info"]
    except XcatError as exc:
        return [error(str(exc))]


def nodeset(req: Request, ctx: Context) -> Iterator[Response]:
    opts, rest = parse_opts(req.args, "hvV", ["noupdateinitrd", "ignorekernelchk"], USAGE)
    verb, value = parse_action(rest)
    if not req.noderange and req.nodes is None:
        raise UsageError(f"nodeset: a noderange is required\n{USAGE}")
    out, _done = apply_nodeset(req, ctx, verb, value)
    yield from out


# ---------------------------------------------------------------------------
# rinstall
# ---------------------------------------------------------------------------


def rinstall(req: Request, ctx: Context) -> Iterator[Response]:
    from xcatpy.backends import base, dispatch
    from xcatpy.noderange import fold

    opts, rest = parse_opts(req.args, "uVc", [], RINSTALL_USAGE)
    if has(opts, "-c"):
        raise UsageError(f"rinstall: -c (open a console) is not supported\n{RINSTALL_USAGE}")
    verb, value = parse_action(rest or ["osimage"], RINSTALL_USAGE)
    if verb in ("stat", "enact", "next", "offline", "iscsiboot", "standby"):
        raise UsageError(f"rinstall: unsupported action {rest[0]!r}\n{RINSTALL_USAGE}")
    if not req.noderange and req.nodes is None:
        raise UsageError(f"rinstall: a noderange is required\n{RINSTALL_USAGE}")
    verbose = has(opts, "-V")
    out, done = apply_nodeset(req, ctx, verb, value)
    failed: dict[str, list[str]] = {}
    for r in out:
        if r.kind == "error" and r.node:
            failed.setdefault("nodeset", []).append(r.node)
    ok = [n for n in done if n not in set(failed.get("nodeset", []))]
    yield data(f"Provision node(s): {fold(ok)}") if ok else info("Provision node(s): none")
    for r in out:
        if verbose or r.kind in ("error", "warning"):
            yield r
    steps = [("rsetboot", base.Action(base.BOOTDEV, "net",
                                      {"uefi": has(opts, "-u"), "persistent": False})),
             ("rpower", base.Action(base.POWER, "boot"))]
    for command, action in steps:
        if not ok:
            break
        outcomes, _site = dispatch.run(ctx, ok, action, command)
        bad: list[str] = []
        for o in outcomes:
            if o.error:
                bad.append(o.node)
                yield error(f"{command}: {o.error}", node=o.node)
            elif verbose:
                for label, text in o.lines:
                    yield data(text, node=o.node, desc=label)
        if bad:
            yield error(f"Failed to run '{command}' against the following nodes: {fold(bad)}")
            ok = [n for n in ok if n not in set(bad)]
        if command == "rpower" and ok:
            _record_status(ctx, ok)
    for command, nodes in failed.items():
        yield error(f"Failed to run '{command}' against the following nodes: "
                    f"{fold(sorted(set(nodes)))}")


def _record_status(ctx: Context, nodes: list[str]) -> None:
    import time

    from xcatpy.store import rows

    stamp = time.strftime("%m-%d-%Y %H:%M:%S")
    with writing(ctx) as (conn, _view):
        rows.upsert(conn, ctx.store, "nodelist",
                    [({"node": n}, {"status": "powering-on", "statustime": stamp})
                     for n in nodes])
