#!/usr/bin/env bash
# The command line: version, --help everywhere, init's output contract, bad flags.
. "$(dirname "$0")/lib.sh"

"$MOPAY" version | grep -qx "mopay [0-9]*\.[0-9]*\.[0-9]*" || fail "mopay version"
"$MOPAY" --help | grep -q "Commands:" || fail "mopay --help"
for cmd in init serve errors version bench; do
    "$MOPAY" "$cmd" --help >"$WORK/help" || fail "mopay $cmd --help exited non-zero"
    grep -q "Usage: mopay $cmd" "$WORK/help" || fail "mopay $cmd --help has no usage line"
done
"$MOPAY" serve --help | grep -q -- "--listen" || fail "serve --help lists --listen"
"$MOPAY" init --help | grep -q -- "--db" || fail "init --help lists --db"

set +e
"$MOPAY" frobnicate 2>/dev/null; [ $? -eq 2 ] || fail "unknown command must exit 2"
"$MOPAY" init --no-such-flag 2>/dev/null; [ $? -eq 2 ] || fail "unknown option must exit 2"
"$MOPAY" serve --threads lots 2>/dev/null; [ $? -eq 2 ] || fail "a bad number must exit 2"
set -e

# init: the admin key is the only line on stdout; the rest goes to stderr
"$MOPAY" init --db "sqlite:$WORK/a/mopay.db" --master-key-file "$WORK/a/master.key" >"$WORK/out" 2>"$WORK/err" ||
    fail "init failed: $(cat "$WORK/err")"
[ "$(wc -l <"$WORK/out")" -eq 1 ] || fail "init printed more than one line on stdout"
grep -Eqx 'ak_[0-9a-f]{64}' "$WORK/out" || fail "init's stdout is not an admin key: $(cat "$WORK/out")"
[ -s "$WORK/err" ] || fail "init said nothing on stderr"
[ -f "$WORK/a/mopay.db" ] || fail "init did not create the database"
[ "$(stat -c %a "$WORK/a/master.key")" = 600 ] || fail "master key file is not 0600"
! grep -q "$(cat "$WORK/out")" "$WORK/a/mopay.db" || fail "the admin key is stored in clear"

# a second init refuses and prints no key
set +e
"$MOPAY" init --db "sqlite:$WORK/a/mopay.db" --master-key-file "$WORK/a/master.key" >"$WORK/out2" 2>/dev/null
rc=$?
set -e
[ $rc -eq 1 ] || fail "second init must exit 1, got $rc"
[ ! -s "$WORK/out2" ] || fail "second init printed a key"

# a database that cannot be opened is a clear error
set +e
"$MOPAY" init --db "mysql://nope" --master-key-file "$WORK/a/master.key" >/dev/null 2>"$WORK/err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "bad --db must exit 1"
grep -q "cannot open the database" "$WORK/err" || fail "bad --db message: $(cat "$WORK/err")"

# a PostgreSQL URL's password is never printed: errors name its scheme and host only
set +e
"$MOPAY" init --db "postgres://alice:s3cretpw@127.0.0.1:1/mopay?password=qu3rypw" \
    --master-key-file "$WORK/a/master.key" >/dev/null 2>"$WORK/err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "an unreachable postgres must exit 1"
grep -q 'db="postgres://127.0.0.1:1"' "$WORK/err" || fail "the error names no host: $(cat "$WORK/err")"
! grep -q -e s3cretpw -e qu3rypw -e alice "$WORK/err" || fail "a password was printed: $(cat "$WORK/err")"

# a master-key file that others may read is refused, saying how to fix it
chmod 644 "$WORK/a/master.key"
set +e
"$MOPAY" serve --db "sqlite:$WORK/a/mopay.db" --master-key-file "$WORK/a/master.key" \
    --listen 127.0.0.1:0 >/dev/null 2>"$WORK/err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "a 0644 master key must stop the start, got $rc"
grep -q "chmod 600 $WORK/a/master.key" "$WORK/err" || fail "no chmod advice: $(cat "$WORK/err")"
chmod 600 "$WORK/a/master.key"

# MOPAY_MASTER_KEY leaves the process's environment once read (/proc shows what exec gave it)
hexkey=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
export MOPAY_MASTER_KEY=$hexkey
start_server
unset MOPAY_MASTER_KEY
tr '\0' '\n' <"/proc/$SERVER_PID/environ" >"$WORK/environ"
! grep -q "$hexkey" "$WORK/environ" || fail "MOPAY_MASTER_KEY is still in the server's environment"
stop_server
rm -f "$WORK/mopay.db" "$WORK/mopay.db-wal" "$WORK/mopay.db-shm" "$WORK/admin.key"

# serve's first start on a new database prints the admin key, a restart does not
start_server
grep -Eqx 'ak_[0-9a-f]{64}' "$WORK/stdout" || fail "first serve did not print the admin key"
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || fail "healthz"
stop_server
start_server
[ ! -s "$WORK/stdout" ] || fail "a restart printed an admin key again"
stop_server
echo "1 passed, 0 failed"
