"""A light, self-contained IPMI 2.0 BMC simulator farm for tests and benchmarks.

Written from the IPMI v2.0 specification and checked against ipmitool and
ipmipower (tests/test_bmcsim.py); it does not use the project's own IPMI code.

Modules:

* :mod:`tests.bmcsim.farm` -- :func:`~tests.bmcsim.farm.start_farm`, the Python
  helper that runs a farm subprocess for a ``with`` block.
* :mod:`tests.bmcsim.server` -- the farm process (``python -m tests.bmcsim``):
  asyncio UDP endpoints, sharding over processes, fault injection.
* :mod:`tests.bmcsim.bmc` -- one BMC: RMCP+ sessions and IPMI commands.
* :mod:`tests.bmcsim.content` -- the deterministic FRU, SDR, SEL and GUID of BMC i.
* :mod:`tests.bmcsim.wire` -- packet framing and crypto.

Served: ASF presence ping; session-less Get Channel Authentication
Capabilities and Get Channel Cipher Suites; RMCP+ Open Session and RAKP 1-4
for cipher suites 3 and 17 (AES-CBC-128 always on); Set Session Privilege
Level, Close Session, Get Device ID, Get System GUID; Get Chassis Status,
Chassis Control (off, on, cycle, reset, NMI, soft off), Chassis Identify,
Set/Get System Boot Options (parameters 0, 3, 4, 5); FRU info/read; SDR
repository info/reserve/get; SEL info/reserve/get/clear/time; Get Sensor
Reading and Get Sensor Thresholds.  Anything else answers 0xC1.
"""
