#!/usr/bin/env bash
# gpu-log.sh <log> <test files...>: runs GPU tests and writes their log with the command and the
# device at the top (the form evaluation/results/<gpu>/gpu-tests-*.log are stored in).
set -o pipefail
log=$1
shift
{
  echo "\$ deno test --allow-all $*"
  echo "# $(date -u +%FT%TZ) on $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
} >"$log"
deno test --allow-all --no-check "$@" 2>&1 | sed -u 's/\x1b\[[0-9;]*m//g' | tee -a "$log"
