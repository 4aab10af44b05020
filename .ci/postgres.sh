# shellcheck shell=bash
# A throwaway PostgreSQL for the store's tests (sourced by .ci/run; runs standalone too:
# `source .ci/postgres.sh && start_test_postgres && echo "$PTC_TEST_POSTGRES_URL"`).
# The server runs from a temp dir on a free loopback port with fsync off, and is stopped on exit, pass or fail.

ptc_pg_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# As root, PostgreSQL's tools must run as the postgres user: the server refuses to run as root.
ptc_as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop_test_postgres() {
  if [ -n "${PTC_PG_DIR:-}" ] && [ -d "$PTC_PG_DIR/data" ]; then
    ptc_as_postgres "$(ptc_pg_bin)/pg_ctl" -D "$PTC_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  [ -n "${PTC_PG_DIR:-}" ] && rm -rf "$PTC_PG_DIR"
  PTC_PG_DIR=
}

start_test_postgres() {
  local bin port
  bin=$(ptc_pg_bin)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    (apt-get update -qq && { apt-get install -y -qq postgresql-15 || apt-get install -y -qq postgresql; }) >/dev/null 2>&1 ||
      echo "ci: could not install PostgreSQL"
    bin=$(ptc_pg_bin)
  fi
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "ci: PostgreSQL unavailable (no /usr/lib/postgresql/*/bin/initdb)" >&2
    return 1
  fi
  PTC_PG_DIR=$(mktemp -d /tmp/ptc-ci-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres "$PTC_PG_DIR"
  trap stop_test_postgres EXIT
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  ptc_as_postgres "$bin/initdb" -D "$PTC_PG_DIR/data" -A trust -U postgres --no-sync >/dev/null
  ptc_as_postgres "$bin/pg_ctl" -D "$PTC_PG_DIR/data" -l "$PTC_PG_DIR/log" -w start \
    -o "-p $port -k $PTC_PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" >/dev/null
  export PTC_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "ci: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') at $PTC_TEST_POSTGRES_URL"
}
