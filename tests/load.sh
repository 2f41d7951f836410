#!/usr/bin/env bash
# Load test of `yiwang serve` (issue 6): logins per second and latency
# percentiles on SQLite and on PostgreSQL, beside a trivial axum route measured
# with the same client and concurrency. Loopback only; release builds.
# Results and analysis: docs/performance.md, "Server load: logins".
#
#   bash tests/load.sh
#
# Environment: LOGINS (default 3000, logins per run), CONCURRENCY (default
# "8 32 64"), TRIVIAL_REQUESTS (default 10 × LOGINS: GETs per run of the
# trivial route and of /healthz, which answer 40-50 times faster than a login;
# 3,000 of them last 60 ms, too short to measure), REPEAT (default 3: rounds
# per configuration, the median one reported), YIWANG_LOAD_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/postgres: a database yiwang_load_<hex> is
# created there and dropped at the end; PostgreSQL is skipped, with a message,
# when psql or the server is missing). Not part of CI: it takes minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

LOGINS=${LOGINS:-3000}
TRIVIAL_REQUESTS=${TRIVIAL_REQUESTS:-$((LOGINS * 10))}
REPEAT=${REPEAT:-3}
CONCURRENCY=${CONCURRENCY:-"8 32 64"}
PG_ADMIN_URL=${YIWANG_LOAD_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}

cargo build --release -p yiwang-server --bin yiwang
cargo build --release -p yiwang-e2e --bin yiwang-load
target_dir=$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
YIWANG=$target_dir/release/yiwang
LOAD=$target_dir/release/yiwang-load

work=$(mktemp -d)
results=$work/results.jsonl
server_pid=""
pg_db=""

stop_server() {
    if [[ -n $server_pid ]]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}

drop_pg_db() {
    if [[ -n $pg_db ]]; then
        psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null || true
        pg_db=""
    fi
}

cleanup() {
    stop_server
    drop_pg_db
    rm -rf "$work"
}
trap cleanup EXIT

# start_server NAME [VAR=VALUE...]: sets server_pid and server_url.
start_server() {
    local name=$1
    shift
    local log=$work/server-$name.log
    env "$@" YIWANG_LOG=info NO_COLOR=1 \
        YIWANG_RATE_LIMIT_BURST=1000000 YIWANG_RATE_LIMIT_PER_SECOND=1000000 \
        "$YIWANG" serve --bind 127.0.0.1:0 --data-dir "$work/data-$name" 2>"$log" &
    server_pid=$!
    local address=""
    for _ in $(seq 600); do
        address=$(sed -n 's/.*yiwang listening address=\([^ ]*\).*/\1/p' "$log" | head -n 1)
        [[ -n $address ]] && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [[ -z $address ]]; then
        cat "$log" >&2
        echo "load.sh: yiwang serve ($name) did not start" >&2
        exit 2
    fi
    server_url=http://$address
}

# load_runs LABEL: logins, then GET /healthz (the middleware stack, no database), per concurrency.
load_runs() {
    local label=$1 c
    for c in $CONCURRENCY; do
        "$LOAD" --server "$server_url" --logins "$LOGINS" --concurrency "$c" \
            --label "$label" --server-pid "$server_pid" --repeat "$REPEAT" --json >>"$results"
    done
    for c in $CONCURRENCY; do
        "$LOAD" --trivial --server "$server_url" --path /healthz --requests "$TRIVIAL_REQUESTS" \
            --concurrency "$c" --label "$label" --server-pid "$server_pid" --repeat "$REPEAT" --json >>"$results"
    done
}

echo "machine: $(nproc) cores; $(uptime)"

# The framework's ceiling: a trivial axum route in its own process.
for c in $CONCURRENCY; do
    "$LOAD" --trivial --requests "$TRIVIAL_REQUESTS" --concurrency "$c" --repeat "$REPEAT" --json >>"$results"
done

start_server sqlite
load_runs SQLite
stop_server

pg_url=""
if command -v psql >/dev/null && psql -q "$PG_ADMIN_URL" -c 'SELECT 1' >/dev/null 2>&1; then
    pg_db=yiwang_load_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
    psql -q "$PG_ADMIN_URL" -c "CREATE DATABASE $pg_db" >/dev/null
    pg_url=${PG_ADMIN_URL%/*}/$pg_db
    start_server postgres YIWANG_DATABASE_URL="$pg_url"
    load_runs PostgreSQL
    stop_server
else
    echo "SKIPPED PostgreSQL: no psql, or no server at the admin URL" >&2
fi

echo
echo "machine after the runs: $(uptime)"
echo
"$LOAD" table "$results"
echo
# Where a login's time goes: each piece alone, one after the other, idle machine.
"$LOAD" breakdown --iterations 1000
if [[ -n $pg_url ]]; then
    "$LOAD" breakdown --iterations 1000 --database-url "$pg_url" | grep '^| PostgreSQL'
fi
