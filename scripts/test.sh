#!/usr/bin/env bash
# The test command. The convention tests need a real nats-server:
# scripts/nats-server.sh finds or installs one (under target/). Then the
# whole suite: cargo test, with any arguments passed on.
set -euo pipefail
cd "$(dirname "$0")/.."

NATS_SERVER="$(./scripts/nats-server.sh)"
export NATS_SERVER
exec cargo test "$@"
