#!/usr/bin/env bash
# The main job: set up, generate sample data, run the whole pipeline locally, show what analysts see.
# It works in a directory of its own, ./demo/ (DEMO_DIR), which it empties first; it never
# touches ./lake or any other lake.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ORDER_LINES="${ORDER_LINES:-50000}"
DEMO_DIR="${DEMO_DIR:-demo}"
LAKE="$DEMO_DIR/lake"
echo "demo: working in $DEMO_DIR/ (sample data in $DEMO_DIR/sample, lake in $LAKE); emptying it first"
rm -rf "$DEMO_DIR"
.venv/bin/medallion generate --out "$DEMO_DIR/sample/landing" --order-lines "$ORDER_LINES" --seed 42
.venv/bin/medallion run --landing "$DEMO_DIR/sample/landing" --lake "$LAKE"
.venv/bin/medallion report --lake "$LAKE"
