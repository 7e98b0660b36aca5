#!/usr/bin/env bash
# The main job: find the dataset, then check it and run what levercast can run on it.
# Data: $LEVERCAST_DATA, else ../shared/data when it exists, else ./data (filled first with
# `levercast fetch all` when empty and the feeds are reachable).
set -euo pipefail
if [ -n "${LEVERCAST_DATA:-}" ]; then
  data="$LEVERCAST_DATA"
elif [ -d ../shared/data ]; then
  data=../shared/data
else
  data=./data
fi
export LEVERCAST_DATA="$data"
export LEVERCAST_HOME="${LEVERCAST_HOME:-.levercast}"

has_tables() { compgen -G "$1/*.parquet" >/dev/null 2>&1 || compgen -G "$1/*/*.parquet" >/dev/null 2>&1; }

if ! has_tables "$data"; then
  echo "levercast: no dataset in $data; fetching a recent window first" >&2
  if ! levercast fetch all --data "$data" --json > "$LEVERCAST_HOME.fetch.json" 2>/dev/null \
      || ! has_tables "$data"; then
    echo "levercast: no data in $data and the feeds are unreachable: set LEVERCAST_DATA to a dataset directory (see ../shared/data/README.md) or run 'levercast fetch all --data DIR' with network access" >&2
    exit 2
  fi
fi

echo "== data check ($data)"
levercast data check --data "$data"
for step in scripts/demo.d/*.sh; do
  [ -e "$step" ] || continue
  echo "== $(basename "$step" .sh)"
  bash "$step" "$data"
done
