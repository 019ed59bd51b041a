#!/bin/sh
# A throwaway PostgreSQL cluster for the store tests.
#
#   pg-test-cluster.sh start URL_FILE   initdb a cluster in a fresh /tmp/mopay-pg.* folder, start it
#                                       listening on a unix socket only, create database
#                                       mopay_test, and write its libpq URL into URL_FILE
#   pg-test-cluster.sh stop URL_FILE    stop the cluster URL_FILE names, delete its folder and
#                                       URL_FILE; a missing URL_FILE is a successful no-op
#
# CTest runs these as the setup and cleanup fixtures of store_postgres. initdb and pg_ctl refuse
# to run as root, so as root the cluster belongs to the unprivileged `postgres` user. start first
# stops a cluster a previous, killed run left behind in URL_FILE. Exits non-zero with the server
# log on stderr when the cluster cannot be started: the store suite must fail, not skip.
set -eu

usage() {
    echo "usage: $0 start|stop URL_FILE" >&2
    exit 2
}

[ $# -eq 2 ] || usage
action=$1
url_file=$2
dir_prefix=/tmp/mopay-pg.

# Runs a command as the cluster's owner: `postgres` when we are root, ourselves otherwise.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_bindir() {
    initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$initdb" ]; then
        echo "pg-test-cluster: no /usr/lib/postgresql/*/bin/initdb; install postgresql (scripts/deps.sh)" >&2
        exit 1
    fi
    dirname "$initdb"
}

# The cluster folder is the URL's host= parameter; anything not made by `start` is left alone.
cluster_dir_of() {
    dir=$(sed -n 's/.*[?&]host=\([^&]*\).*/\1/p' "$1" | head -n 1)
    case "$dir" in
        "$dir_prefix"*) case "$dir" in *..*) ;; *) echo "$dir" ;; esac ;;
    esac
}

stop_cluster() {
    [ -f "$url_file" ] || return 0
    dir=$(cluster_dir_of "$url_file")
    if [ -n "$dir" ] && [ -d "$dir" ]; then
        bindir=$(pg_bindir)
        if [ -f "$dir/data/postmaster.pid" ]; then
            as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
                as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
        fi
        rm -rf "$dir"
    fi
    rm -f "$url_file"
}

start_cluster() {
    stop_cluster
    bindir=$(pg_bindir)
    dir=$(mktemp -d "${dir_prefix}XXXXXXXX")
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$dir"
        user=postgres
    else
        user=$(id -un)
    fi
    # Write the URL first so that `stop` can clean up whatever the steps below leave behind.
    mkdir -p "$(dirname "$url_file")"
    printf 'postgresql:///mopay_test?host=%s&user=%s\n' "$dir" "$user" >"$url_file.tmp"
    mv "$url_file.tmp" "$url_file"

    if ! as_owner "$bindir/initdb" -D "$dir/data" --auth=trust --username="$user" \
        --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        echo "pg-test-cluster: initdb failed" >&2
        stop_cluster
        exit 1
    fi
    cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$dir'
fsync = on
synchronous_commit = on
max_connections = 50
EOF
    if ! as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null; then
        cat "$dir/server.log" >&2 || true
        echo "pg-test-cluster: the server did not start" >&2
        stop_cluster
        exit 1
    fi
    if ! "$bindir/createdb" -h "$dir" -U "$user" mopay_test; then
        echo "pg-test-cluster: createdb mopay_test failed" >&2
        stop_cluster
        exit 1
    fi
    echo "pg-test-cluster: $(cat "$url_file")"
}

case "$action" in
    start) start_cluster ;;
    stop) stop_cluster ;;
    *) usage ;;
esac
