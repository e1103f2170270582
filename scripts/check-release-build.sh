#!/usr/bin/env bash
# Builds the whole workspace in release mode the way a user would
# (`cargo build --release --workspace`), then drives that binary through a
# real package built by the same build: keygen, gensrc, tlsinfo, start,
# load, ask, shutdown. Catches a test-only feature leaking into the product
# binary through cargo's feature unification (issue 11, item 8).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --workspace -q
bin="$target/release/thespian-director"
lib="$target/release/libfoo.so"
triple=$(rustc -vV | awk '/^host:/ {print $2}')

work=$(mktemp -d /tmp/thesp-rel.XXXXXX)
export THESPIAN_DIRECTOR_DIR="$work/dir"
mkdir "$THESPIAN_DIRECTOR_DIR"
echo "'$work/logs'" > "$THESPIAN_DIRECTOR_DIR/thesplogd.cfg"
trap '"$bin" shutdown >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
cd "$work"
"$bin" keygen rel >/dev/null
cp rel_tls.key "$THESPIAN_DIRECTOR_DIR/"
echo "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'MainFoo'}}}}" > "$THESPIAN_DIRECTOR_DIR/foo.tli"
"$bin" gensrc foo rel.pem "$OLDPWD/example-packages/foo" "lib:$triple=$lib" version:1.0 >/dev/null
"$bin" tlsinfo foo-1.0.tls >/dev/null
"$bin" start >/dev/null
reply=$("$bin" ask MainFoo '{"ping": 7}')
case "$reply" in
    *'"pong":7'*) echo "release workspace build: gensrc, tlsinfo, load and ask work ($reply)" ;;
    *) echo "release workspace build: unexpected reply: $reply" >&2; exit 1 ;;
esac
