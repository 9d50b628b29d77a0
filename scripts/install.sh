#!/usr/bin/env bash
# Installs estlab with everything its demo, notebooks and tests need (the `dev` extra: all extras, JupyterLab,
# test tools), from this repository's own files. A library user needs less: `pip install estlab` is the core
# (torch, numpy, pandas, pyarrow, tensorboard); `estlab[lab]` adds the notebook lab, `estlab[all]` every extra.
# torch 2.13.0 (a CPU build on this project's machines) is installed first when torch is missing,
# so that pip does not resolve a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  echo "install.sh: installing torch 2.13.0 first" >&2
  "$PY" -m pip install --no-cache-dir "torch==2.13.0"
fi
echo "install.sh: installing estlab[dev] in editable mode (several minutes on a fresh environment)" >&2
"$PY" -m pip install --no-cache-dir --progress-bar off -e ".[dev]"
