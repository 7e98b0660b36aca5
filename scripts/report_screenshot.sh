#!/usr/bin/env bash
# Screenshots for the README: a replay report of the shared dataset and the scan table at the
# same time, rendered by headless Chromium:
#   scripts/report_screenshot.sh [DATA_DIR] [AT] [SCAN_AT]
# Needs Debian's chromium (apt-get install -y chromium). Writes docs/report.png and
# docs/scan.png; the report itself goes to a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-${LEVERCAST_DATA:-../shared/data}}"
AT="${2:-2026-02-05T12:00Z}"       # realised liquidations in the heatmap's week
SCAN_AT="${3:-2025-11-10T12:00Z}"  # many markets still open
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  echo "report_screenshot: $CHROMIUM not found (apt-get install -y chromium)" >&2
  exit 2
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export LEVERCAST_HOME="$WORK/home"
mkdir -p docs
shoot() {  # shoot URL OUT WIDTH HEIGHT
  "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$WORK/profile" --hide-scrollbars --window-size="$3,$4" \
    --screenshot="$2" "$1" 2>/dev/null
}
PAGE="$(.venv/bin/python -m levercast.experiments report --data "$DATA" --at "$AT" --model gbm \
  --out "$WORK/reports" --json -q | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["html"])')"
shoot "file://$PAGE" docs/report.png 1280 2000
# The scan table as the terminal shows it (rich's own HTML export of the same table).
.venv/bin/python - "$DATA" "$SCAN_AT" "$WORK/scan.html" <<'PY'
import dataclasses
import sys

from rich.console import Console
from rich.terminal_theme import DEFAULT_TERMINAL_THEME

from levercast.experiments.cli.commands.scan import render_scan
from levercast.experiments.scanning.scan import scan
from levercast.features.dataset.store import Store
from levercast.features.timeutil import parse_utc

data, at, out = sys.argv[1:]
result = scan(Store(data), at=parse_utc(at), model="gbm")
# The rows still open at T (decided and closed windows stay in the full output).
result = dataclasses.replace(result, rows=tuple(r for r in result.rows if r.decided is None)[:24])
console = Console(record=True, width=150, file=open("/dev/null", "w"), highlight=False)
for part in render_scan(result):
    console.out(part) if isinstance(part, str) else console.print(part)
page = (
    '<!DOCTYPE html><html><head><meta charset="UTF-8"><style>{stylesheet}'
    "body{{color:{foreground};background-color:{background};margin:12px}}"
    "pre{{font-family:'DejaVu Sans Mono',monospace;font-size:10.5px}}</style></head>"
    "<body><pre><code>{code}</code></pre></body></html>"
)
console.save_html(out, theme=DEFAULT_TERMINAL_THEME, code_format=page)
PY
shoot "file://$WORK/scan.html" docs/scan.png 1280 760
echo "wrote docs/report.png and docs/scan.png"
