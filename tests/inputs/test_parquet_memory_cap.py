"""Training streams a parquet file larger than the memory the process is allowed (RLIMIT_AS)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

HERE = Path(__file__).parent
ROWS_PER_GROUP = 100_000
ROW_GROUPS = 48  # 4.8M rows x 11 float64 columns: ~460 MiB on disk, ~403 MiB as a DataFrame
HEADROOM_MB = 200  # room for the reader's transient buffers on a loaded machine; far below the frame


def write_big_parquet(path: Path) -> int:
    """Row group by row group (bounded memory): label = 1 when f0 + f1 > 0."""
    rng = np.random.default_rng(0)
    writer = None
    for _ in range(ROW_GROUPS):
        values = rng.normal(size=(ROWS_PER_GROUP, 10))
        table = pa.table({**{f"f{i}": values[:, i] for i in range(10)},
                          "label": (values[:, 0] + values[:, 1] > 0).astype(np.float64)})
        writer = writer or pq.ParquetWriter(path, table.schema, compression="snappy")
        writer.write_table(table, row_group_size=ROWS_PER_GROUP)
    writer.close()
    return path.stat().st_size


@pytest.mark.slow
def test_trains_from_parquet_larger_than_the_memory_cap(tmp_path):
    path = tmp_path / "big.parquet"
    size = write_big_parquet(path)
    assert size > 2 * HEADROOM_MB * 2**20
    env = dict(os.environ, OMP_NUM_THREADS="1", MALLOC_ARENA_MAX="2", ARROW_DEFAULT_MEMORY_POOL="system",
               CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, str(HERE / "memcap_worker.py"), str(path), str(tmp_path / "model"),
                           str(HEADROOM_MB)], capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["num_rows"] == ROWS_PER_GROUP * ROW_GROUPS
    assert result["global_step"] == result["steps_per_epoch"] == -(-ROWS_PER_GROUP * ROW_GROUPS // 8192)
    assert result["accuracy"] > 0.95  # the label is a linear function of f0, f1
    # the cap binds: the same process cannot hold the file as one DataFrame
    assert result["whole_read"].startswith("MemoryError"), result
