"""Provisioning: templates, hosts and DHCP configuration, boot loader entries."""
