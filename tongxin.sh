#!/usr/bin/env bash
# Tongxin's two commands (see README):
#   ./tongxin.sh start   set everything up and start Tongxin with the demo street on http://127.0.0.1:8000
#   ./tongxin.sh test    set everything up and run all tests (SQLite, and PostgreSQL when reachable)
# and a few for operators: setup, worker [default|long] (a background task worker: one queue,
# or all of them without an argument), scheduler (queues the
# deadline sweep every minute), backup [--output DIR_OR_FILE], restore FILE [--yes].
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
VENV=${TONGXIN_VENV:-$ROOT/.venv}
PY=$VENV/bin/python
PG_URL_DEFAULT="postgres://postgres@127.0.0.1:5432/tongxin"

say() { printf '\033[1m== %s\033[0m\n' "$*"; }

need_apt() {
  # Debian packages Tongxin needs: Chromium for the browser tests, CJK fonts for
  # screenshots and PDFs, gettext to compile the message catalogues.
  local missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  [ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || missing+=(fonts-noto-cjk)
  command -v msgfmt >/dev/null 2>&1 || missing+=(gettext)
  # WeasyPrint (the briefing PDF) draws text with Pango and subsets fonts with HarfBuzz.
  local lib
  for lib in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0; do
    dpkg -s "$lib" >/dev/null 2>&1 || missing+=("$lib")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ -n "$sudo" ] && ! command -v sudo >/dev/null 2>&1; then
    echo "Please install these Debian packages as root: ${missing[*]}" >&2
    return 1
  fi
  say "Installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

setup_python() {
  if [ ! -x "$PY" ]; then
    say "Creating the Python environment in $VENV"
    python3.11 -m venv "$VENV" 2>/dev/null || python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.requirements.sha"
  local want
  want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "Installing Python packages"
    # (Some machines' pip configuration names local mirrors that may not exist; its
    # "Location ... is ignored" warnings are noise, not errors.)
    "$PY" -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
    "$PY" -m pip install -q --disable-pip-version-check -r requirements-dev.txt 2>&1 \
      | grep -v "^WARNING: Location" || true
    "$PY" -c "import django, openpyxl, playwright, pytest_django" # fail here if the install did
    echo "$want" > "$stamp"
  fi
}

setup() {
  need_apt
  setup_python
  "$PY" manage.py compilemessages -v0 --ignore=.venv --ignore=node_modules
}

prepare_db() {
  "$PY" manage.py migrate -v0
  "$PY" manage.py createcachetable -v0 2>/dev/null || true
}

# The processes started beside the web server; stopped (SIGTERM, then waited for) when
# the script ends, however it ends.
BACKGROUND=()
stop_background() {
  [ ${#BACKGROUND[@]} -eq 0 ] && return 0
  kill -TERM "${BACKGROUND[@]}" 2>/dev/null || true
  wait "${BACKGROUND[@]}" 2>/dev/null || true
  BACKGROUND=()
}

cmd_start() {
  setup
  prepare_db
  "$PY" manage.py collectstatic --noinput -v0
  say "Building the demo street (only on an empty database)"
  "$PY" manage.py seed_demo --if-empty
  say "Starting the background worker, the deadline scheduler and the web server on http://127.0.0.1:${TONGXIN_PORT:-8000}"
  trap stop_background EXIT
  trap 'stop_background; exit 130' INT
  trap 'stop_background; exit 143' TERM
  # Two workers run the queued tasks: one the short ones (the deadline sweep, hot
  # topics, messages), one the long ones (imports, large exports), so that a long one
  # never holds the others back. The scheduler queues the sweep every minute, so
  # overdue demands escalate without anyone remembering.
  "$PY" manage.py db_worker --queue-name default &
  BACKGROUND+=("$!")
  "$PY" manage.py db_worker --queue-name long &
  BACKGROUND+=("$!")
  "$PY" manage.py run_scheduler &
  BACKGROUND+=("$!")
  # In the background too, and waited for: a shell runs its traps only between commands,
  # so a SIGTERM sent to this script would otherwise wait for the web server to end.
  "$VENV/bin/gunicorn" tongxin.wsgi --bind 127.0.0.1:${TONGXIN_PORT:-8000} --workers 2 \
    --timeout 120 --access-logfile - --graceful-timeout 10 &
  local web=$!
  BACKGROUND+=("$web")
  wait "$web"
}

need_pg_client() {
  # pg_dump and pg_restore, for the backup tests on PostgreSQL (Debian's postgresql-client).
  command -v pg_dump >/dev/null 2>&1 && command -v pg_restore >/dev/null 2>&1 && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ -n "$sudo" ] && ! command -v sudo >/dev/null 2>&1; then
    echo "Please install this Debian package as root: postgresql-client" >&2
    return 1
  fi
  say "Installing Debian packages: postgresql-client"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql-client >/dev/null
}

pg_reachable() {
  "$PY" - "$1" <<'PYEOF'
import sys, psycopg
try:
    psycopg.connect(sys.argv[1].replace("/tongxin", "/postgres"), connect_timeout=3).close()
except Exception as e:
    print(f"  ({e.__class__.__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''})")
    sys.exit(1)
PYEOF
}

cmd_test() {
  setup
  local status=0
  export TONGXIN_DATA_DIR=${TONGXIN_TEST_DATA_DIR:-$ROOT/data/test}
  say "Tests on SQLite"
  env -u DATABASE_URL "$PY" -m pytest "$@" || status=$?
  local pg_url=${TONGXIN_TEST_PG_URL:-$PG_URL_DEFAULT}
  if pg_reachable "$pg_url"; then
    need_pg_client || echo "   pg_dump/pg_restore are missing: the backup tests will fail." >&2
    say "Tests on PostgreSQL ($pg_url)"
    DATABASE_URL=$pg_url "$PY" -m pytest "$@" || status=$?
  elif [ "${TONGXIN_REQUIRE_PG:-0}" = "1" ]; then
    echo "FAILED: PostgreSQL is required here (TONGXIN_REQUIRE_PG=1) but $pg_url is not reachable." >&2
    status=1
  else
    say "SKIPPED: the PostgreSQL suite — no server at $pg_url."
    echo "   Only the SQLite suite ran. Start PostgreSQL (or set TONGXIN_TEST_PG_URL) to run both."
  fi
  return $status
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  test) shift; cmd_test "$@" ;;
  setup) setup; prepare_db ;;
  worker) setup_python; exec "$PY" manage.py db_worker --queue-name "${2:-*}" ;;
  scheduler) shift; setup_python; exec "$PY" manage.py run_scheduler "$@" ;;
  backup) shift; setup_python; exec "$PY" manage.py backup "$@" ;;
  restore) shift; setup_python; exec "$PY" manage.py restore "$@" ;;
  *) echo "usage: $0 start | test [pytest args] | setup | worker [default | long] | scheduler [--interval N | --once] | backup [--output DIR_OR_FILE] | restore FILE [--yes]" >&2; exit 2 ;;
esac
