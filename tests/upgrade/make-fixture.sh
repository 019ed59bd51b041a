#!/usr/bin/env bash
# Makes the "wave 1" upgrade fixtures: tests/upgrade/{sqlite,postgres}/.
#
# What this is. mopay keeps its domain state (customers, wallets, payments, ...) as JSON rows in
# the `records` table, beside the wallet histories (`entries`), the ledger's binary event log
# (`ledger_log`), the stored Idempotency-Key answers and the admin keys. That format is going to
# change: a database written by today's code ("wave 1") must then upgrade in place at its first
# start under the new code, and lose nothing. This script writes such a database with a wave-1
# server and keeps it, in text form, under version control: for each store, `dump.sql` (the
# SQLite file as `sqlite3 .dump` prints it; the PostgreSQL database as `pg_dump --no-owner
# --no-acl` prints it), `fixture.json` (what the story's clients kept: the server's clock at the
# end, every principal's credential, the customers' device keys and payment-code secrets, an NFC
# key batch, the requests sent with an Idempotency-Key and their answers) and `expected.jsonl`
# (one check a line: a GET, the principal that sends it and the answer it must get, the whole
# body or the fields that matter; a replayed idempotent request and its exact answer; a webhook
# event and its state; a webhook gauge). The database holds at least one row of every record
# kind the code writes: `mopay demo` makes most of them and upgrade_story (story.c) the rest;
# the master key that seals the secrets in it is master.key here, for tests only. The test
# upgrade_sqlite / upgrade_postgres (test_upgrade.c) restores each dump into a fresh database,
# starts the server under test on it at the fixture's clock and checks every expected answer,
# then writes, restarts and checks again.
#
# It needs a wave-1 build: the server must be one that writes the wave-1 format, i.e. a build of
# commit 72ecae9 or of any later commit from before the format change (the commit that added
# this script is one: it changed no server code). upgrade_story speaks only HTTP, so it may come
# from a newer tree: MOPAY=/path/to/wave-1/mopay names the server apart from BUILD_DIR. A
# fixture made by a newer server would test nothing. Regenerate only to change the story; the
# ids, keys and times then all change.
#
# Usage: tests/upgrade/make-fixture.sh [BUILD_DIR] [sqlite|postgres|both]
#   BUILD_DIR (default: build) holds mopay (unless MOPAY is set) and tests/upgrade/upgrade_story.
#   Needs sqlite3, PostgreSQL (scripts/pg-test-cluster.sh), pg_dump and psql. Takes some seconds
#   a store.
#   KEEP_WORK=1 keeps the working folder (database, logs) of a failed run.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
which=${2:-both}
mopay=${MOPAY:-$build/mopay}
story=$build/tests/upgrade/upgrade_story
[ -x "$mopay" ] && [ -x "$story" ] || { echo "no $mopay or $story: build first" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "make-fixture: needs the sqlite3 command" >&2; exit 1; }

# The receiver a webhook URL names must not exist while the story runs (the check starts one
# there at the end): one port per store, below the kernel's ephemeral range.
declare -A webhook_port=([sqlite]=29417 [postgres]=29418)

work=
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null || true
    if [ -n "$work" ] && [ -z "${KEEP_WORK:-}" ]; then
        [ -f "$work/pg.url" ] && sh "$root/scripts/pg-test-cluster.sh" stop "$work/pg.url" || true
        rm -rf "$work"
    fi
}
trap cleanup EXIT

fail() {
    echo "make-fixture: $*" >&2
    [ -f "$work/server.log" ] && tail -n 30 "$work/server.log" >&2
    exit 1
}

# start_server CLOCK: the wave-1 server on $db at the manual clock CLOCK, with the options the
# check uses too (test_upgrade.c); sets port and server_pid.
start_server() {
    "$mopay" serve --db "$db" --master-key-file "$work/master.key" --listen 127.0.0.1:0 --threads 2 \
        --test-clock "$1" --check-invariants --risk-model "$root/models/risk-v1.txt" \
        --webhook-allow-private --webhook-allow-insecure >>"$work/server.out" 2>>"$work/server.log" &
    server_pid=$!
    port=
    for _ in $(seq 1 200); do
        port=$(sed -n 's/.*msg="mopay is serving".* port=\([0-9]*\).*/\1/p' "$work/server.log" | tail -n 1)
        [ -n "$port" ] && return 0
        kill -0 "$server_pid" 2>/dev/null || fail "the server exited at start"
        sleep 0.05
    done
    fail "the server did not report its port"
}

stop_server() {
    kill -TERM "$server_pid"
    wait "$server_pid" || fail "the server exited with status $?"
    server_pid=
    : >"$work/server.log" # the next start's port is the last one the log names
}

# sql QUERY: one column of rows from the database.
sql() {
    if [ "$backend" = sqlite ]; then sqlite3 -batch "${db#sqlite:}" "$1"; else psql -X -q -At -d "$db" -c "$1"; fi
}

make_one() {
    backend=$1
    out=$here/$backend
    work=$(mktemp -d /tmp/mopay-fixture.XXXXXX)
    install -m 600 "$here/master.key" "$work/master.key"
    if (exec 3<>"/dev/tcp/127.0.0.1/${webhook_port[$backend]}") 2>/dev/null; then
        fail "something listens on port ${webhook_port[$backend]}, where the story's webhooks must fail"
    fi
    if [ "$backend" = postgres ]; then
        sh "$root/scripts/pg-test-cluster.sh" start "$work/pg.url" >/dev/null
        db=$(cat "$work/pg.url")
    else
        db=sqlite:$work/mopay.db
    fi
    admin_key=$("$mopay" init --db "$db" --master-key-file "$work/master.key" 2>>"$work/server.log")

    # The story starts four hours back so that its webhook back-off (about 3.1 hours of clock)
    # ends before now: `mopay demo` signs with the real clock.
    start_server "$(date -u -d '-4 hours' +%Y-%m-%dT%H:%M:%SZ)"
    "$story" story "$mopay" "$port" "$admin_key" "${webhook_port[$backend]}" "$work/fixture.json" \
        >"$work/story.log" 2>&1 || { cat "$work/story.log" >&2; fail "the story failed"; }
    stop_server
    clock=$(sed -n 's/^  "clock": "\(.*\)",$/\1/p' "$work/fixture.json")
    [ -n "$clock" ] || fail "fixture.json has no clock"

    # What the check must see: the answers of the same server restarted at the story's clock.
    if [ "$backend" = sqlite ]; then
        sql "SELECT json_object('kind', kind, 'id', id, 'data', data) FROM records ORDER BY kind, id" >"$work/records.jsonl"
    else
        sql "SELECT json_build_object('kind', kind, 'id', id, 'data', data) FROM records ORDER BY kind, id" >"$work/records.jsonl"
    fi
    start_server "$clock"
    mkdir -p "$out"
    "$story" record "$port" "$work/fixture.json" "$work/records.jsonl" "$out/expected.jsonl" \
        >"$work/record.log" 2>&1 || { cat "$work/record.log" >&2; fail "recording the answers failed"; }
    stop_server

    if [ "$backend" = sqlite ]; then
        sqlite3 "${db#sqlite:}" .dump >"$out/dump.sql"
    else
        pg_dump --no-owner --no-acl "$db" >"$out/dump.sql"
    fi
    cp "$work/fixture.json" "$out/fixture.json"
    echo "$backend: clock $clock; $(grep '^records by kind' "$work/record.log")"
    for t in admin_keys idempotency ledger_log entries meta schema_migrations; do
        printf '  %s: %s rows\n' "$t" "$(sql "SELECT count(*) FROM $t")"
    done
    grep '^note:' "$work/record.log" | sed 's/^/  /' || true
    echo "  $(grep "expected answers written" "$work/record.log")"
    cleanup
    work=
}

case "$which" in
    sqlite | postgres) make_one "$which" ;;
    both) make_one sqlite && make_one postgres ;;
    *) echo "usage: $0 [BUILD_DIR] [sqlite|postgres|both]" >&2; exit 2 ;;
esac
