"""xcatd — the daemon every command talks to."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from xcatpy.cli._common import command, main_for


@command("xcatd")
@click.option("-f", "--foreground", is_flag=True, default=True,
              help="Run in the foreground (the default; for systemd).")
@click.option("-p", "--port", type=int, default=None,
              help="TCP port (default: site.xcatdport, else 3001; 0 picks a free one).")
@click.option("-l", "--listen", default=None, metavar="ADDR",
              help="Address to listen on (default: every address).")
@click.option("--pidfile", type=click.Path(dir_okay=False), default=None,
              help="Write the process id here; removed on exit.")
@click.option("--ready-file", type=click.Path(dir_okay=False), default=None,
              help="Write host:port here once the daemon accepts connections.")
@click.option("--workers", type=click.IntRange(1, 1024), default=4, show_default=True,
              help="Threads that run request handlers.")
@click.option("--debug", is_flag=True, help="Log every connection.")
def cli(foreground: bool, port: int | None, listen: str | None, pidfile: str | None,
        ready_file: str | None, workers: int, debug: bool) -> int:
    """Serve xcatpy's requests over TLS until SIGTERM."""
    import logging

    from xcatpy.daemon.server import run
    from xcatpy.errors import XcatError
    from xcatpy.paths import Paths

    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="xcatd: %(levelname)s %(message)s", stream=sys.stderr,
    )
    if pidfile:
        Path(pidfile).write_text(f"{os.getpid()}\n")

    def ready(host: str, bound: int) -> None:
        if ready_file:
            tmp = Path(ready_file + ".tmp")
            tmp.write_text(f"{host}:{bound}\n")
            tmp.replace(ready_file)

    try:
        run(Paths.from_env(), listen=listen, port=port, workers=workers, on_ready=ready)
    except XcatError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        return 1
    except OSError as exc:
        click.echo(f"Error: cannot listen on port {port}: {exc.strerror or exc}", err=True)
        return 1
    finally:
        if pidfile:
            Path(pidfile).unlink(missing_ok=True)
    return 0


main = main_for(cli)


if __name__ == "__main__":
    main()
