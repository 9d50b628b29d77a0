#!/usr/bin/env bash
# Run every CPU benchmark and print their tables; GPU check only where CUDA is visible.
# (bench_lab.py and bench_ui.py drive the lab and a JupyterLab page: run them on their own.)
#   bash benchmarks/run_all.sh                 # 1,000,000 rows (several minutes on 2 cores)
#   ROWS=200000 bash benchmarks/run_all.sh     # smaller, for a quick look
#   THREADS=1 bash benchmarks/run_all.sh       # one intra-op thread (stable figures on a shared machine)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${ROWS:-1000000}"
THREADS_ARG=()
if [[ -n "${THREADS:-}" ]]; then THREADS_ARG=(--threads "${THREADS}"); fi
echo "== training loop, evaluate, predict, memory (${ROWS} rows) =="
python benchmarks/bench_training.py --rows "${ROWS}" "${THREADS_ARG[@]}" --json "${JSON_OUT:-/dev/null}"
echo
echo "== parquet streaming (${ROWS} rows) =="
python benchmarks/bench_parquet.py --rows "${ROWS}" "${THREADS_ARG[@]}"
echo
echo "== against an independent hand-written model (${ROWS} rows) =="
python benchmarks/bench_floor.py --rows "${ROWS}"
echo
echo "== the TF user's Adult program (estlab; TF's reference figure from benchmarks/tf_reference.json) =="
python benchmarks/bench_tf_twin.py
echo
echo "== serving against a bare Starlette floor =="
python benchmarks/bench_serving.py
if python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo
  echo "== GPU check =="
  python benchmarks/gpu_check.py
fi
