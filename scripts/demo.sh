#!/usr/bin/env bash
# The operator's workflow end to end, on a temporary director directory,
# with no setup: keygen, gensrc foo 1.0, start, load, ask, gensrc 2.0,
# refresh, list (both versions), unload 1.0, shutdown. Prints every step.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target=${CARGO_TARGET_DIR:-$root/target}

echo "building thespian-director..."
cargo build -q -p director --bin thespian-director
bin="$target/debug/thespian-director"

work=$(mktemp -d /tmp/thespian-demo.XXXXXX)
export THESPIAN_DIRECTOR_DIR="$work/dir"
mkdir "$THESPIAN_DIRECTOR_DIR"
echo "'$work/logs'" > "$THESPIAN_DIRECTOR_DIR/thesplogd.cfg"   # the daemon's system log goes here
cleanup() {
    "$bin" shutdown >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

step() {
    printf '\n$ thespian-director %s\n' "$*"
    "$bin" "$@"
}

cd "$work"
echo "THESPIAN_DIRECTOR_DIR=$THESPIAN_DIRECTOR_DIR"
step keygen demo
cp demo_tls.key "$THESPIAN_DIRECTOR_DIR/"
cat > foo.tli <<'TLI'
{ 'Actors':
  { 'foo.fooactor': { 'OnLoad': { 'Role': 'MainFoo', 'Message': 'StartFoo', 'GlobalName': 'Foo Primary' },
                      'OnDeactivate': { 'Message': 'Deactivated' },
                      'OnReactivate': { 'Message': ('Restart', True) } } } }
TLI
printf '\n$ cat foo.tli\n'; cat foo.tli
# gensrc's cargo build shares the example packages' cache with the tests.
export CARGO_TARGET_DIR="$target/example-plugins"
step gensrc foo demo.pem "$root/example-packages/foo" version:1.0 tli:foo.tli 'src/**/*.rs'
step start
step load foo
step ask MainFoo '{"ping": 1}'
step ask MainFoo '"history"'
step gensrc foo demo.pem "$root/example-packages/foo" version:2.0 tli:foo.tli
step refresh
step list
v1=$("$bin" list | awk '/ version 1.0 / {print $3}')
step ask --source "${v1:0:12}" MainFoo '"history"'
step unload "${v1:0:12}"
step list
step status
step shutdown
printf '\ndemo finished: foo 1.0 and 2.0 ran side by side, 1.0 was unloaded and its code freed\n'
