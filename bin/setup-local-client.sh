#!/usr/bin/env bash
# Issue a client certificate (CN=USER) into USER's ~/.xcat, or DIR/.xcat:
#   setup-local-client.sh USER [DIR]
# The same as 'xcatconfig --client USER [--home DIR]'; run it as root.
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ] || [ "${1#-}" != "$1" ]; then
    echo "Usage: $0 USER [DIR]" >&2
    exit 1
fi
cmd=xcatconfig
if ! command -v "$cmd" >/dev/null; then
    cmd="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/xcatconfig"
fi
if [ $# -eq 2 ]; then
    exec "$cmd" --client "$1" --home "$2"
fi
exec "$cmd" --client "$1"
