#!/usr/bin/env bash
# Render a replay report of the shared dataset and save a screenshot of it for the README:
#   scripts/report_screenshot.sh [DATA_DIR] [AT]
# Needs Debian's chromium (apt-get install -y chromium). Writes
# experiments/reports/report_screenshot.png; the report itself goes to a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-${LEVERCAST_DATA:-../shared/data}}"
AT="${2:-2025-11-10T12:00Z}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  echo "report_screenshot: $CHROMIUM not found (apt-get install -y chromium)" >&2
  exit 2
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export LEVERCAST_HOME="$WORK/home"
PAGE="$(.venv/bin/python -m levercast.experiments report --data "$DATA" --at "$AT" --out "$WORK/reports" \
  --json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["html"])')"
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$WORK/profile" --hide-scrollbars --window-size=1200,1800 \
  --screenshot="experiments/reports/report_screenshot.png" "file://$PAGE" 2>/dev/null
echo "wrote experiments/reports/report_screenshot.png"
