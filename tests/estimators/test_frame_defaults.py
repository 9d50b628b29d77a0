"""A DataFrame passed to train without any step bound trains exactly one epoch (not forever)."""

from __future__ import annotations

import math


def test_frame_without_step_bound_trains_one_epoch(make_estimator, binary_frame):
    est = make_estimator()
    est.train(binary_frame, label="y", batch_size=16)
    assert est.global_step == math.ceil(len(binary_frame) / 16)


def test_frame_with_num_epochs_trains_that_many(make_estimator, binary_frame):
    est = make_estimator()
    est.train(binary_frame, label="y", batch_size=16, num_epochs=3)
    assert est.global_step == 3 * math.ceil(len(binary_frame) / 16)


def test_custom_model_fn_with_learned_columns_is_bound_after_fitting(tmp_path, tiny_frame):
    """DenseFeatures built in model_fn before any fitting gets the fitted transformer from the estimator."""
    import torch

    from estlab import feature_column as fc
    from estlab.estimators.custom import ModelSpec
    from estlab.estimators.estimator import Estimator
    from estlab.estimators.heads import make_head

    columns = [fc.numeric_column("hours", normalizer="zscore"),
               fc.indicator_column(fc.categorical_column_with_learned_vocabulary("color"))]

    def model_fn(params):
        net = torch.nn.Sequential(fc.DenseFeatures(columns), torch.nn.LazyLinear(1))
        return ModelSpec(module=net, head=make_head(n_classes=2), feature_columns=columns)

    est = Estimator(model_fn, model_dir=str(tmp_path / "run"))
    est.train(tiny_frame, label="label", batch_size=4, steps=3)
    # width 1 (hours) + 3 learned colours + 1 unknown slot; training moved the first layer's weights
    assert est.get_variable_value("1.weight").shape == (1, 5)
    assert est.evaluate(tiny_frame, label="label")["global_step"] == 3.0
    resumed = Estimator(model_fn, model_dir=str(tmp_path / "run"))
    assert resumed.evaluate(tiny_frame, label="label")["global_step"] == 3.0
