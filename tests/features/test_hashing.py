"""Hashing is stable: pinned values, and identical in a subprocess with another PYTHONHASHSEED."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from estlab import feature_column as fc
from estlab.features import FeatureTransformer
from estlab.features.hashing import hash_strings

SCRIPT = """
import json
from estlab import feature_column as fc
from estlab.features import FeatureTransformer
cols = [fc.categorical_column_with_hash_bucket("a", 1000), fc.crossed_column(["a", "b"], 1000),
        fc.categorical_column_with_vocabulary_list("a", ["q"], num_oov_buckets=50)]
data = {"a": ["x", "y", "education"], "b": [1, 2, 3]}
print(json.dumps({k: v.tolist() for k, v in FeatureTransformer(cols[:2]).transform(data).items()}
                 | {"oov": FeatureTransformer(cols[2:]).transform(data)["a"].tolist()}))
"""


def run(seed: str) -> dict:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_pinned_hash_values():
    # changing these changes every hashed id of every saved model: never update them casually
    assert hash_strings(np.array(["a", "education", "7"], dtype=object)).tolist() == [
        650189517118765984, 14787920989858782317, 16840401867684938922]
    assert hash_strings(np.array([7])).tolist() == [16840401867684938922]  # ints hash as decimal strings
    ft = FeatureTransformer([fc.crossed_column(["a", "b"], 1000), fc.categorical_column_with_hash_bucket("a", 1000)])
    out = ft.transform({"a": ["x", "y"], "b": [1, 2]})
    assert out["a_X_b"].ravel().tolist() == [713, 992]
    assert out["a"].ravel().tolist() == [481, 737]


@pytest.mark.slow
def test_same_ids_in_a_subprocess_with_another_hash_seed():
    here: dict = {}
    exec(SCRIPT.replace("print(", "here['out'] = ("), {"here": here})  # the same code in this process
    assert run("987654") == json.loads(here["out"])
