"""xcatpy: cluster management commands and daemon, compatible with xCAT."""

__version__ = "0.1.0"
