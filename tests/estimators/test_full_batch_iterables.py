"""Full-batch learners (baselines, boosted trees) on an iterable input: which batches the one fit reads.

An iterable is read for one whole pass, except where TF's semantics bound it: a baseline reads the batches its
steps would (``steps``/``max_steps``), boosted trees one layer's ``n_batches_per_layer`` batches. Either way an
endless generator (TF's ``.repeat()``) ends there instead of never.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from estlab.estimators import BaselineClassifier, BaselineRegressor
from estlab.feature_column import numeric_column
from estlab.training.config import RunConfig

CONFIG = RunConfig(random_seed=0, tensorboard=False, device="cpu")


def _endless(read: list[int], positives_of_batch):
    """A generator function yielding batch i (10 rows, ``positives_of_batch(i)`` of them labelled 1) forever."""

    def input_fn():
        for i in itertools.count():
            read.append(i)
            labels = np.zeros(10, dtype=np.int64)
            labels[:positives_of_batch(i)] = 1
            yield {"x": np.arange(10, dtype=np.float32)}, labels

    return input_fn


@pytest.mark.parametrize(("call", "steps_read"), [({"max_steps": 3}, 3), ({"steps": 2}, 2)])
def test_a_baseline_on_an_endless_generator_fits_on_the_batches_its_steps_read(tmp_path, call, steps_read):
    read: list[int] = []
    est = BaselineClassifier(model_dir=str(tmp_path), config=CONFIG)
    est.train(_endless(read, lambda i: i + 1), **call)  # batch i: (i + 1) of 10 positive
    assert read == list(range(steps_read))
    positives = sum(i + 1 for i in range(steps_read))
    expected = math.log(positives / (10 * steps_read - positives))
    assert est.get_variable_value("bias").tolist() == pytest.approx([expected], rel=1e-6)
    assert est.global_step == 1


def test_a_baseline_on_a_finite_iterable_without_steps_fits_on_one_whole_pass(tmp_path):
    batches = [({"x": np.zeros(4)}, np.array([1.0, 2.0, 3.0, 4.0])), ({"x": np.zeros(2)}, np.array([5.0, 9.0]))]
    est = BaselineRegressor(model_dir=str(tmp_path), config=CONFIG)
    est.train(batches)
    assert est.get_variable_value("bias").tolist() == pytest.approx([4.0])  # mean of all six labels


def test_boosted_trees_on_an_endless_generator_fit_on_n_batches_per_layer_batches(tmp_path):
    pytest.importorskip("lightgbm")
    from estlab.estimators import BoostedTreesClassifier

    read: list[int] = []
    est = BoostedTreesClassifier([numeric_column("x")], n_batches_per_layer=2, n_trees=3, max_depth=2,
                                 model_dir=str(tmp_path), config=CONFIG)
    est.train(_endless(read, lambda i: 5), max_steps=100)  # TF's boosted trees tutorial: .repeat(), max_steps
    assert read == [0, 1]
    assert est.global_step == 1
