#!/usr/bin/env bash
# The main job: set up, generate sample data, run the whole pipeline locally, show what analysts see.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ORDER_LINES="${ORDER_LINES:-50000}"
LAKE="${LAKE:-lake}"
rm -rf sample "$LAKE"
.venv/bin/medallion generate --out sample/landing --order-lines "$ORDER_LINES" --seed 42
.venv/bin/medallion run --landing sample/landing --lake "$LAKE"
.venv/bin/medallion report --lake "$LAKE"
