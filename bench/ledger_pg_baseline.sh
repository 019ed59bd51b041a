#!/usr/bin/env bash
# The baseline for mopay's ledger benchmarks: a conventional PostgreSQL ledger, one SQL
# transaction with row locks per transfer (SELECT ... FOR UPDATE both accounts in id order,
# UPDATE each, INSERT the transfer, COMMIT), driven by pgbench with 16 client connections over
# the unix socket of a throwaway cluster (scripts/pg-test-cluster.sh; fsync and synchronous_commit
# on). Two cases over 100,000 accounts: uniform (debit and credit random and distinct) and hot
# (every transfer credits account 1). Prints one line per case on stdout and nothing else:
#
#   bench: ledger uniform postgres-baseline N transfers/s
#   bench: ledger hot postgres-baseline N transfers/s
#
# N is pgbench's tps without initial connection time. Progress, the pgbench report and its
# latency average go to stderr. After each case the ledger must balance (every account's posted
# debits and credits equal the sums of its transfers, total debits equal total credits, and the
# transfer count equals pgbench's transaction count), or the script fails.
#
#   bench/ledger_pg_baseline.sh [BUILD_DIR]   BUILD_DIR is accepted for run-all.sh and unused
#   SECONDS=N (default 15) run length of each case
set -euo pipefail

# SECONDS is bash's own seconds-since-start counter: it is always set (0 when the environment
# has no SECONDS), so `${SECONDS:-15}` would never default. Only an exported SECONDS came from
# the caller; read it before anything runs.
if [[ ${SECONDS@a} == *x* ]]; then duration=$SECONDS; else duration=15; fi
[[ $duration =~ ^[1-9][0-9]*$ ]] || { echo "ledger_pg_baseline: SECONDS must be a positive integer, got '$duration'" >&2; exit 2; }

cd "$(dirname "$0")/.."
clients=16 threads=2 accounts=100000
url_file=/tmp/mopay-bench-pg.url

log() { echo "ledger_pg_baseline: $*" >&2; }
die() { log "FAIL: $*"; exit 1; }

pgbench=$(ls -d /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -n 1)  # newest
pgbin=$(dirname "${pgbench:-/nonexistent/x}")
[ -x "$pgbin/pgbench" ] || die "no /usr/lib/postgresql/*/bin/pgbench; install postgresql (scripts/deps.sh)"

# One run at a time: a second one would stop the first one's cluster through the shared URL file.
# Children get the lock's fd closed (9>&-): a postmaster or pgbench that outlives a killed run
# must not hold the lock, or the next run could not take over and clean up.
exec 9>"$url_file.lock"
flock -n 9 || die "another ledger_pg_baseline run holds $url_file.lock"

# Scratch files in a fixed folder (safe under the lock), so a killed run leaves nothing to pile up.
work=/tmp/mopay-bench-ledger
rm -rf "$work"
mkdir -m 700 "$work"
pgbench_pid=
cleanup() {
    [ -z "$pgbench_pid" ] || kill "$pgbench_pid" 2>/dev/null || true
    scripts/pg-test-cluster.sh stop "$url_file" >&2 9>&- || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start also stops and deletes a cluster a previous, killed run left behind in $url_file.
scripts/pg-test-cluster.sh start "$url_file" >&2 9>&-
url=$(cat "$url_file")
host=$(sed -n 's/.*[?&]host=\([^&]*\).*/\1/p' <<<"$url")
user=$(sed -n 's/.*[?&]user=\([^&]*\).*/\1/p' <<<"$url")
[ -n "$host" ] && [ -n "$user" ] || die "cannot parse host and user from $url"

psql() { "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 "$url" "$@" 9>&-; }

# A fresh ledger for each case, so both start from the same state.
reset_ledger() {
    psql >&2 <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS transfers, accounts;
CREATE TABLE accounts (
    id bigint PRIMARY KEY,
    debits_posted bigint NOT NULL DEFAULT 0,
    credits_posted bigint NOT NULL DEFAULT 0
);
CREATE TABLE transfers (
    id bigserial PRIMARY KEY,
    debit_account_id bigint,
    credit_account_id bigint,
    amount bigint,
    created_at timestamptz DEFAULT now()
);
INSERT INTO accounts (id) SELECT generate_series(1, $accounts);
VACUUM ANALYZE accounts;
VACUUM ANALYZE transfers;
CHECKPOINT;
SQL
}

# One transfer. The SELECT locks both rows in id order (ORDER BY is applied before FOR UPDATE),
# so concurrent transfers between the same accounts queue instead of deadlocking.
transfer_sql='
\set amount random(1, 1000)
\set lo least(:debit, :credit)
\set hi greatest(:debit, :credit)
BEGIN;
SELECT id FROM accounts WHERE id IN (:lo, :hi) ORDER BY id FOR UPDATE;
UPDATE accounts SET debits_posted = debits_posted + :amount WHERE id = :debit;
UPDATE accounts SET credits_posted = credits_posted + :amount WHERE id = :credit;
INSERT INTO transfers (debit_account_id, credit_account_id, amount) VALUES (:debit, :credit, :amount);
COMMIT;
'
# uniform: debit and credit uniform over all accounts and distinct
cat >"$work/uniform.sql" <<EOF
\set debit random(1, $accounts)
\set other random(1, $accounts - 1)
\set credit CASE WHEN :other >= :debit THEN :other + 1 ELSE :other END
$transfer_sql
EOF
# hot: every transfer credits account 1, from a uniform debit account other than 1
cat >"$work/hot.sql" <<EOF
\set debit random(2, $accounts)
\set credit 1
$transfer_sql
EOF

# The ledger must balance and hold exactly the transfers pgbench counted (reports on stderr only).
verify() {
    local case=$1 expected=$2 hot_predicate row
    if [ "$case" = hot ]; then hot_predicate='credit_account_id <> 1'; else hot_predicate='false'; fi
    row=$(psql -At -F ' ' <<SQL
WITH d AS (SELECT debit_account_id AS id, sum(amount) AS s FROM transfers GROUP BY 1),
     c AS (SELECT credit_account_id AS id, sum(amount) AS s FROM transfers GROUP BY 1)
SELECT (SELECT sum(debits_posted) FROM accounts),
       (SELECT sum(credits_posted) FROM accounts),
       (SELECT coalesce(sum(amount), 0) FROM transfers),
       (SELECT count(*) FROM transfers),
       (SELECT count(*) FROM accounts a LEFT JOIN d USING (id) LEFT JOIN c USING (id)
         WHERE a.debits_posted <> coalesce(d.s, 0) OR a.credits_posted <> coalesce(c.s, 0)),
       (SELECT count(*) FROM transfers
         WHERE debit_account_id = credit_account_id OR amount <= 0 OR $hot_predicate
            OR debit_account_id NOT BETWEEN 1 AND $accounts OR credit_account_id NOT BETWEEN 1 AND $accounts);
SQL
    )
    read -r debits credits amounts count mismatched bad <<<"$row"
    log "$case: verify: debits $debits, credits $credits, transfer amounts $amounts, transfers $count (pgbench $expected), unbalanced accounts $mismatched, malformed transfers $bad"
    [ "$debits" = "$credits" ] || die "$case: sum(debits_posted) $debits != sum(credits_posted) $credits"
    [ "$debits" = "$amounts" ] || die "$case: sum(debits_posted) $debits != sum(transfers.amount) $amounts"
    [ "$count" = "$expected" ] || die "$case: $count transfers in the table but pgbench counted $expected transactions"
    [ "$mismatched" = 0 ] || die "$case: $mismatched accounts whose posted totals differ from their transfers"
    [ "$bad" = 0 ] || die "$case: $bad malformed transfers"
    [ "$count" -gt 0 ] || die "$case: no transfers"
}

run_case() {
    local case=$1 out=$work/$1.out tps latency count failed
    log "$case: resetting the ledger ($accounts accounts)"
    reset_ledger
    log "$case: pgbench -c $clients -j $threads -T $duration -M prepared"
    # pgbench runs as root too: it is only a client, and the cluster trusts local connections.
    # In the background and waited for, so that a signal stops the run at once, not after -T.
    "$pgbin/pgbench" -n -M prepared -c "$clients" -j "$threads" -T "$duration" -P 5 \
        -h "$host" -U "$user" -f "$work/$case.sql" mopay_test >"$out" 2>"$work/$case.err" 9>&- &
    pgbench_pid=$!
    if ! wait "$pgbench_pid"; then
        pgbench_pid=
        cat "$work/$case.err" "$out" >&2
        die "$case: pgbench failed"
    fi
    pgbench_pid=
    cat "$work/$case.err" "$out" >&2
    grep -q '^pgbench: error' "$work/$case.err" && die "$case: pgbench reported errors"
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$out")
    latency=$(sed -n 's/^latency average = \(.*\)$/\1/p' "$out")
    count=$(sed -n 's/^number of transactions actually processed: \([0-9]*\)$/\1/p' "$out")
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*$/\1/p' "$out")
    [ -n "$tps" ] && [ -n "$count" ] || die "$case: cannot parse the pgbench report"
    [ "${failed:-0}" = 0 ] || die "$case: pgbench counted $failed failed transactions"
    log "$case: latency average = $latency"
    verify "$case" "$count"
    printf 'bench: ledger %s postgres-baseline %.0f transfers/s\n' "$case" "$tps"
}

run_case uniform
run_case hot
