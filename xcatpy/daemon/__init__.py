"""xcatd: the TLS daemon every command talks to."""
