"""evaluate / predict from whole tensors: the same values as per-batch computation, built column-wise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from estlab.estimators import inference
from estlab.estimators import metrics as m
from estlab.estimators.custom import ModeKeys


def _stable_curve(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The curve as computed before (stable sort), to compare the fast path with."""
    order = np.argsort(scores, kind="mergesort")[::-1]
    scores, labels, weights = scores[order], labels[order], weights[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), labels.size - 1]
    return np.cumsum(labels * weights)[last], np.cumsum((1.0 - labels) * weights)[last]


@pytest.mark.parametrize("weights", ["ones", "integers", "fractions"])
def test_auc_and_average_precision_equal_the_stable_sort_exactly(weights: str) -> None:
    rng = np.random.default_rng(3)
    n = 5000
    labels = (rng.random(n) < 0.3).astype(np.float64)
    scores = np.round(rng.random(n), 2)  # many ties
    w = {
        "ones": np.ones(n),
        "integers": rng.integers(0, 4, n).astype(np.float64),
        "fractions": rng.random(n),
    }[weights]
    tps, fps = _stable_curve(labels > 0, scores, w)
    auc = float(
        np.sum(
            np.diff(np.r_[0.0, fps / fps[-1]])
            * (np.r_[0.0, tps / tps[-1]][1:] + np.r_[0.0, tps / tps[-1]][:-1])
        )
        / 2.0
    )
    assert m.roc_auc_score(labels, scores, w) == auc
    out = m.binary_metrics(scores, labels, w, loss_total=1.0, weight_total=float(w.sum()), loss=1.0)
    assert out["auc"] == auc
    assert out["auc_precision_recall"] == m.average_precision_score(labels, scores, w)
    from sklearn.metrics import average_precision_score, roc_auc_score

    assert out["auc"] == pytest.approx(roc_auc_score(labels, scores, sample_weight=w), abs=1e-12)
    assert out["auc_precision_recall"] == pytest.approx(
        average_precision_score(labels, scores, sample_weight=w), abs=1e-12
    )


def test_one_class_gives_nan_areas() -> None:
    out = m.binary_metrics(
        np.array([0.2, 0.7]), np.array([1.0, 1.0]), np.ones(2), loss_total=1.0, weight_total=2.0, loss=0.5
    )
    assert np.isnan(out["auc"]) and np.isnan(out["auc_precision_recall"])
    # a zero-weight example of the other class does not count
    out = m.binary_metrics(
        np.array([0.2, 0.7]),
        np.array([0.0, 1.0]),
        np.array([0.0, 1.0]),
        loss_total=1.0,
        weight_total=1.0,
        loss=0.5,
    )
    assert np.isnan(out["auc"])


@pytest.fixture
def trained(make_estimator, binary_frame):
    est = make_estimator()
    est.train(binary_frame, label="y", steps=3)
    return est


def _assert_same(got: np.ndarray, want: np.ndarray) -> None:
    """Equal; floats to float32 rounding (torch's vectorised sigmoid rounds the tail of a vector differently, so
    the per-batch values themselves depend on a row's position in its batch)."""
    assert got.dtype == want.dtype and got.shape == want.shape
    if got.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=2.5e-7, atol=2.5e-7)
    else:
        np.testing.assert_array_equal(got, want)


def _per_batch_reference(est, frame: pd.DataFrame, batch_size: int) -> list[dict[str, np.ndarray]]:
    """Predictions computed one batch at a time, as before."""
    state = est._models.at(est.model_dir, est.config, None)
    part = next(iter(inference.prediction_source(state, frame, batch_size).one_pass()))
    encoded, _, _ = state.encode(part, with_labels=False)
    forward = state.forward_fn(ModeKeys.PREDICT)
    out = []
    state.module.eval()
    with torch.no_grad():
        for start in range(0, len(frame), batch_size):
            batch = {k: v[start : start + batch_size] for k, v in encoded.items()}
            predictions = state.head.predictions(forward(batch).float())
            out.append(
                {
                    k: v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
                    for k, v in predictions.items()
                }
            )
    state.module.train()
    return out


def test_predict_dicts_and_batches_equal_per_batch_predictions(trained, binary_frame) -> None:
    features = binary_frame.drop(columns=["y"])
    reference = _per_batch_reference(trained, features, 10)
    batches = list(trained.predict(features, yield_single_examples=False, batch_size=10))
    assert [len(b["logistic"]) for b in batches] == [10] * 6 + [4]
    assert len(batches) == len(reference)
    for got, want in zip(batches, reference, strict=True):
        assert list(got) == list(want)
        for key in want:
            _assert_same(got[key], want[key])
    rows = list(trained.predict(features, batch_size=10))
    assert len(rows) == 64 and all(type(r) is dict for r in rows)
    flat = {k: np.concatenate([b[k] for b in reference]) for k in reference[0]}
    for i, row in enumerate(rows):
        assert list(row) == list(flat)
        for key, values in flat.items():
            _assert_same(np.asarray(row[key]), values[i])


def test_predict_frame_equals_the_dicts(trained, binary_frame) -> None:
    features = binary_frame.drop(columns=["y"])
    frame = trained.predict_frame(features, batch_size=7)
    rows = list(trained.predict(features, batch_size=7))
    np.testing.assert_array_equal(
        frame["logistic"].to_numpy(), np.array([float(r["logistic"][0]) for r in rows], dtype=np.float32)
    )
    assert frame["classes"].tolist() == [str(r["classes"][0]) for r in rows]
    assert list(frame.index) == list(features.index)


def test_unknown_predict_key_names_the_valid_ones(trained, binary_frame) -> None:
    with pytest.raises(ValueError, match=r"predict_keys: \['nope'\] are not predictions of this model"):
        next(trained.predict(binary_frame.drop(columns=["y"]), predict_keys="nope"))


def test_blocks_cover_every_row_in_whole_batches(monkeypatch) -> None:
    monkeypatch.setattr(inference, "PREDICTION_BLOCK_ROWS", 25)
    blocks = list(inference._blocks(103, 10, row_wise=True))
    assert blocks == [
        slice(0, 20),
        slice(20, 40),
        slice(40, 60),
        slice(60, 80),
        slice(80, 100),
        slice(100, 103),
    ]
    assert list(inference._blocks(25, 10, row_wise=False)) == [slice(0, 10), slice(10, 20), slice(20, 25)]


def test_single_examples_are_row_values_in_order() -> None:
    batches = [
        {"p": np.array([[0.1, 0.9], [0.3, 0.7]]), "c": np.array([1, 0])},
        {},
        {"p": np.array([[0.5, 0.5]]), "c": np.array([1])},
    ]
    rows = list(inference.single_examples(iter(batches)))
    assert [list(r) for r in rows] == [["p", "c"]] * 3
    assert [r["c"] for r in rows] == [1, 0, 1]
    np.testing.assert_array_equal(rows[1]["p"], [0.3, 0.7])


def test_a_custom_predictions_fn_is_called_once_per_batch(tmp_path, binary_frame) -> None:
    from estlab.estimators.custom import ModelSpec
    from estlab.estimators.estimator import Estimator
    from estlab.training.config import RunConfig

    seen: list[int] = []

    def predictions_fn(logits: torch.Tensor) -> dict:
        seen.append(len(logits))
        return {"score": logits * 2, "n": torch.full((len(logits),), len(logits))}

    def model_fn(params: dict) -> ModelSpec:
        return ModelSpec(
            module=torch.nn.Linear(2, 1),
            input_names=("x",),
            optimizer="SGD",
            learning_rate=0.1,
            loss_fn=lambda z, y: ((z.reshape(-1) - y.reshape(-1)) ** 2).mean(),
            predictions_fn=predictions_fn,
        )

    est = Estimator(model_fn, model_dir=str(tmp_path / "custom"), config=RunConfig(random_seed=0))
    x = binary_frame[["a", "b"]].to_numpy()
    est.train({"x": x, "y": binary_frame["y"].to_numpy().astype("float32")}, label="y", steps=2)
    seen.clear()
    rows = list(est.predict({"x": x}, batch_size=30))
    assert seen == [30, 30, 4]
    assert [int(r["n"]) for r in rows] == [30] * 60 + [4] * 4
