"""Models without feature columns (``model_to_estimator``, raw tensors) refuse non-finite float inputs by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from estlab.estimators.from_module import model_to_estimator
from estlab.training.config import RunConfig

CONFIG = RunConfig(random_seed=0, tensorboard=False, device="cpu")


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3, 1)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.linear(pixels)


def _data(n: int = 16) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(0)
    return {"pixels": rng.normal(size=(n, 3))}, rng.integers(0, 2, n)


def _estimator(tmp_path):
    return model_to_estimator(Net(), n_classes=2, model_dir=str(tmp_path), config=CONFIG)


def _train(est, x, y):
    from estlab.inputs import numpy_input_fn

    est.train(numpy_input_fn(x, y, batch_size=4, num_epochs=1, shuffle=False))


@pytest.mark.parametrize(
    ("bad", "shown"), [(np.inf, "inf"), (-np.inf, "-inf"), (np.nan, "nan"), (1e39, r"1e\+39")]
)
def test_training_refuses_a_non_finite_input_naming_it_and_the_row(tmp_path, bad, shown):
    x, y = _data()
    x["pixels"][5, 2] = bad
    est = _estimator(tmp_path)
    with pytest.raises(
        ValueError,
        match=rf"model input 'pixels' holds 1 non-finite value\(s\) \(first: {shown} at row "
        r"5\): NaN, inf, -inf or a magnitude beyond float32's 3\.403e\+38.*fix or "
        r"drop those rows",
    ):
        _train(est, x, y)
    assert not list(tmp_path.glob("model.ckpt-*"))


def test_prediction_refuses_a_non_finite_input(tmp_path):
    x, y = _data()
    est = _estimator(tmp_path)
    _train(est, x, y)
    bad = {"pixels": np.array([[0.0, 1.0, 2.0], [np.inf, 0.0, -np.inf]])}
    with pytest.raises(
        ValueError, match=r"model input 'pixels' holds 2 non-finite value\(s\) \(first: inf at row 1\)"
    ):
        list(est.predict(bad))
    with pytest.raises(ValueError, match=r"model input 'pixels'"):
        est.evaluate({"pixels": bad["pixels"], "label": np.array([0, 1])}, label="label")


def test_finite_inputs_are_unchanged(tmp_path):
    x, y = _data()
    est = _estimator(tmp_path)
    _train(est, x, y)
    big = np.array([[3.0e38, -3.0e38, 0.0]])  # within float32: accepted
    logits = next(est.predict({"pixels": big}))["logits"]
    module = est.serving_model().module
    with torch.no_grad():
        expected = module(torch.tensor(big, dtype=torch.float32))[0].numpy()
    np.testing.assert_array_equal(logits, expected)


def test_integer_inputs_are_not_checked(tmp_path):
    class Ids(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.table = torch.nn.Embedding(10, 1)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.table(ids).sum(dim=1)

    est = model_to_estimator(Ids(), n_classes=2, model_dir=str(tmp_path), config=CONFIG)
    from estlab.inputs import numpy_input_fn

    ids = np.arange(16).reshape(8, 2) % 10
    est.train(numpy_input_fn({"ids": ids}, np.arange(8) % 2, batch_size=4, num_epochs=1, shuffle=False))
    assert est.global_step == 2
