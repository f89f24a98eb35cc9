"""Which node a connection comes from, for anonymous node-originated requests.

An installing node has no certificate; it is known by its address.  The
address is looked up in ``hosts.ip`` (group and regex rows resolved) and, if
that fails, by reverse name resolution with the domain and xCAT's interface
suffixes (``-eth0``, ``-ib1``, ``-myri0``) stripped.  The map is rebuilt at
most every few seconds: one bulk read, never a query per connection.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from typing import Any

_SUFFIX = re.compile(r"-(eth|ib|myri)\d*$")
_TTL = 5.0


def strip_name(name: str) -> str:
    short = name.split(".", 1)[0]
    return _SUFFIX.sub("", short)


class NodeAddresses:
    """Address → node name, from the tables, refreshed every few seconds."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._map: dict[str, str] = {}
        self._nodes: frozenset[str] = frozenset()
        self._at = 0.0

    def _refresh(self) -> None:
        from xcatpy.store.attrs import NodeView

        with self.store.connect() as conn:
            view = NodeView(self.store, conn)
            nodes = view.node_names()
            res = view.attributes(nodes, {"hosts": ["ip"]})
        mapping = {}
        for node in nodes:
            ip = res.get(node, "hosts", "ip")
            if ip:
                mapping.setdefault(ip, node)
        self._map, self._nodes, self._at = mapping, frozenset(nodes), time.monotonic()

    def node_for(self, address: str) -> str | None:
        """The node at ``address``, or None.  Blocking: call from a worker thread."""
        with self._lock:
            if time.monotonic() - self._at > _TTL:
                self._refresh()
            node = self._map.get(address)
            nodes = self._nodes
        if node is not None:
            return node
        try:
            name, aliases, _ = socket.gethostbyaddr(address)
        except OSError:
            return None
        for candidate in (name, *aliases):
            short = strip_name(candidate)
            if short in nodes:
                return short
        return None


_NAMES: dict[str, tuple[float, str]] = {}
_NAMES_LOCK = threading.Lock()
_NAME_TTL = 60.0


def cached_peer_name(address: str) -> str | None:
    """:func:`peer_name` when it is known and fresh, else None (without blocking)."""
    with _NAMES_LOCK:
        hit = _NAMES.get(address)
    if hit is not None and time.monotonic() - hit[0] < _NAME_TTL:
        return hit[1]
    return None


def peer_name(address: str) -> str:
    """Short host name of ``address`` (reverse lookup, cached); the address if none.

    What policy rows' ``host`` column is compared with for callers that hold
    a certificate.  Blocking: call from a worker thread.
    """
    now = time.monotonic()
    with _NAMES_LOCK:
        hit = _NAMES.get(address)
    if hit is not None and now - hit[0] < _NAME_TTL:
        return hit[1]
    try:
        name = strip_name(socket.gethostbyaddr(address)[0])
    except OSError:
        name = address
    with _NAMES_LOCK:
        if len(_NAMES) > 4096:
            _NAMES.clear()
        _NAMES[address] = (now, name)
    return name
