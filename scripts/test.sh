#!/usr/bin/env bash
# The test command: set up everything the tests need, then run the whole suite.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test || exit 1
export PATH="$(pwd)/node_modules/.bin:$(pwd)/.tools/checkov/bin:$PATH"
.venv/bin/python -m pytest "$@"
status=$?
if [[ $status -eq 5 ]]; then
  echo "ERROR: pytest collected no tests" >&2
  exit 1
fi
exit $status
