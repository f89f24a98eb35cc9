"""A light, self-contained IPMI 2.0 BMC simulator farm for tests and benchmarks.

See :mod:`tests.bmcsim.farm` for the Python helper (:func:`start_farm`) and
``python -m tests.bmcsim --help`` for the command line.
"""
