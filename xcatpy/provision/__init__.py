"""Provisioning: install templates (``template``), password hashes (``cryptpw``)."""
