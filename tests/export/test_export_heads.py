"""The export's head outputs equal estlab.estimators.heads' predictions exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from estlab.estimators.heads import BinaryClassHead, MultiClassHead, RegressionHead
from estlab.export.heads import HeadOutputs, HeadSpec


@pytest.mark.parametrize(
    "head, width",
    [
        (BinaryClassHead(label_vocabulary=("<=50K", ">50K")), 1),
        (BinaryClassHead(), 1),
        (MultiClassHead(n_classes=3, label_vocabulary=("a", "b", "c")), 3),
        (MultiClassHead(n_classes=4), 4),
        (RegressionHead(label_dimension=2), 2),
    ],
)
def test_head_outputs_equal_the_estimator_heads_predictions(head, width):
    logits = torch.randn(7, width, generator=torch.Generator().manual_seed(1))
    logits[0] = 0.0  # the tie goes the same way (binary: class 0 at logit 0)
    spec = HeadSpec.from_head_dict(head.to_dict())
    outputs = {k: v.numpy() for k, v in HeadOutputs(spec)(logits).items()}
    for lookup in spec.lookups():
        outputs.update(lookup.apply(outputs))
    expected = head.predictions(logits)
    assert list(outputs) == [k for k in expected if k in outputs] or set(outputs) == set(expected)
    assert set(outputs) == set(expected)
    for key, value in expected.items():
        value = value.numpy() if isinstance(value, torch.Tensor) else value
        assert outputs[key].shape == value.shape, key
        assert outputs[key].dtype == value.dtype, key
        np.testing.assert_array_equal(outputs[key], value, err_msg=key)
    assert [s.name for s in spec.predict_outputs()] == list(expected)


def test_signatures_follow_tf_heads():
    binary = HeadSpec("binary", 2).signatures(())
    assert sorted(binary) == ["classification", "predict", "regression", "serving_default"]
    assert binary["classification"][1] == {"classes": "all_classes", "scores": "probabilities"}
    assert binary["regression"][1] == {"outputs": "logistic"}
    assert "regression" not in HeadSpec("multiclass", 3).signatures(())
    assert sorted(HeadSpec("regression", 1).signatures(())) == ["predict", "regression", "serving_default"]


def test_unknown_head_type_names_the_supported_ones():
    with pytest.raises(ValueError, match="head type 'PoissonHead' cannot be exported; supported"):
        HeadSpec.from_head_dict({"type": "PoissonHead"})
