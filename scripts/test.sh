#!/usr/bin/env bash
# The test command: set up everything the tests need, then run the whole suite.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test || exit 1
export PATH="$(pwd)/node_modules/.bin:$(pwd)/.tools/checkov/bin:$PATH"
# Two workers (this machine has two cores): each test file runs on one of them, and the tests
# that read the session's pipeline lake share one (tests/conftest.py). MEDALLION_TEST_WORKERS=0
# runs everything in one process.
.venv/bin/python -m pytest -n "${MEDALLION_TEST_WORKERS:-2}" --dist loadgroup --no-loadscope-reorder "$@"
status=$?
if [[ $status -eq 5 ]]; then
  echo "ERROR: pytest collected no tests" >&2
  exit 1
fi
exit $status
