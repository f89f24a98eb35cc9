"""Command-line front ends: parse with click, send a Request, render responses.

Nothing here may import SQLAlchemy or a vendor library (tests check this):
commands must start fast on their way to the daemon.
"""
