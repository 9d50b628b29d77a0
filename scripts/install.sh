#!/usr/bin/env bash
# Installs estlab and everything its tests need, from this repository's own files.
# torch 2.13.0 (a CPU build on this project's machines) is installed first when torch is missing,
# so that pip does not resolve a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  "$PY" -m pip install --no-cache-dir "torch==2.13.0"
fi
"$PY" -m pip install --no-cache-dir -q -e ".[dev]"
