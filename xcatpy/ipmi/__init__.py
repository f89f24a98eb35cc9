"""IPMI over LAN (RMCP+) for the daemon.

* :mod:`xcatpy.ipmi.rmcp` — packet codec and session cryptography (no I/O).
* :mod:`xcatpy.ipmi.engine` — one asyncio I/O thread per process that owns all
  IPMI traffic: shared UDP sockets, logins, a session cache, retransmission,
  and thread-safe ``run``/``map`` entry points.
* :mod:`xcatpy.ipmi.ops` — power, boot device and identify as coroutines.
* :mod:`xcatpy.ipmi.bridge` — a pyghmi ``Command`` whose raw commands go
  through the engine, for FRU, SDR/sensor and event-log decoding.

Importing this package is cheap: asyncio, cryptography and pyghmi are only
imported by the submodules that need them.
"""
