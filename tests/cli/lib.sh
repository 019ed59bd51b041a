# Shared by the shell scenario tests: start and stop a real `mopay serve` on loopback.
# Usage: . lib.sh MOPAY_BINARY; then start_server [extra args...]; ...; stop_server
set -eu

MOPAY=${1:?usage: $0 MOPAY_BINARY}
WORK=$(mktemp -d /tmp/mopay-cli.XXXXXX)
SERVER_PID=
trap 'cleanup' EXIT

cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}

fail() {
    echo "FAIL: $*" >&2
    [ -f "$WORK/server.log" ] && tail -n 20 "$WORK/server.log" >&2
    exit 1
}

# start_server [ARGS...]: serves on a port the kernel picks; sets PORT, ADMIN_KEY, SERVER_PID.
start_server() {
    : >"$WORK/server.log"
    "$MOPAY" serve --db "sqlite:$WORK/mopay.db" --master-key-file "$WORK/master.key" \
        --listen 127.0.0.1:0 --threads 2 "$@" >"$WORK/stdout" 2>>"$WORK/server.log" &
    SERVER_PID=$!
    PORT=
    for _ in $(seq 1 200); do
        PORT=$(sed -n 's/.*msg="mopay is serving".* port=\([0-9]*\).*/\1/p' "$WORK/server.log" | tail -n 1)
        [ -n "$PORT" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || fail "server exited at start"
        sleep 0.05
    done
    [ -n "$PORT" ] || fail "server did not report its port"
    ADMIN_KEY=$(head -n 1 "$WORK/stdout" 2>/dev/null || true)
    [ -n "$ADMIN_KEY" ] && echo "$ADMIN_KEY" >"$WORK/admin.key"
    ADMIN_KEY=$(cat "$WORK/admin.key")
}

# stop_server: SIGTERM and wait; fails unless the server exits 0 within 20 seconds.
stop_server() {
    kill -TERM "$SERVER_PID"
    for _ in $(seq 1 400); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$SERVER_PID" 2>/dev/null && fail "server still running 20 s after SIGTERM"
    wait "$SERVER_PID" || fail "server exited with status $?"
    SERVER_PID=
}
