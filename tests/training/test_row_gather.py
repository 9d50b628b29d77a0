"""Batches gathered from packed tensors equal per-tensor gathers, and training with them is bit-identical."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from estlab.training import loop
from estlab.training.row_gather import RowGather


def _tensors() -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    n = 50
    return [
        torch.randn(n, generator=gen),                                 # a numeric column
        torch.randint(-1, 9, (n, 1), generator=gen),                   # ids, one per row
        torch.randn(n, 3, generator=gen),                              # a wide column
        torch.randint(0, 5, (n, 2, 2), generator=gen),                 # ids with two trailing dims
        torch.randn(n, 1, generator=gen),
        torch.randint(0, 2, (n,), generator=gen).bool(),               # alone: the only bool
        torch.randint(0, 2, (n,), generator=gen).float(),              # labels
        torch.randn(n, dtype=torch.float64, generator=gen),            # alone: the only float64
        torch.randn(n + 1, 2, generator=gen),                          # another length: gathered alone
    ]


def test_every_tensor_comes_back_as_a_plain_gather_would_give_it() -> None:
    tensors = _tensors()
    gather = RowGather(tensors)
    rows = torch.tensor([7, 0, 49, 7, 13])
    before = gather(rows)  # not packed yet: tensor by tensor
    assert not gather.packed and gather.pack() is gather and gather.packed
    got = gather(rows)
    for a, b in zip(before, got, strict=True):
        assert a.dtype == b.dtype and torch.equal(a, b)
    assert len(got) == len(tensors)
    for original, taken in zip(tensors, got, strict=True):
        expected = original[rows]
        assert taken.dtype == expected.dtype and taken.shape == expected.shape
        assert torch.equal(taken, expected)
    # float32 (4 tensors) and int64 (2 tensors) are packed; bool, float64 and the longer one alone
    assert gather.index_ops == 5
    assert got[2].is_contiguous() and got[3].is_contiguous()  # wider than one value: contiguous copies


def test_the_originals_are_not_changed_and_the_batch_does_not_alias_them() -> None:
    tensors = _tensors()[:3]
    copies = [t.clone() for t in tensors]
    got = RowGather(tensors).pack()(torch.tensor([1, 2]))
    got[0].add_(100.0)
    for before, after in zip(copies, tensors, strict=True):
        assert torch.equal(before, after)


def test_short_runs_are_not_packed_and_long_ones_are() -> None:
    n = 3000
    features = {"a": torch.zeros(n), "b": torch.ones(n), "c": torch.zeros(n, dtype=torch.int64)}

    class Batches:
        batch_size = 10

    def task(target_step: int | None) -> loop.LoopTask:
        return loop.LoopTask(torch.nn.Linear(1, 1), [], lambda *a: a[0], features, torch.zeros(n), None,
                             Batches(), 0, target_step, torch.device("cpu"))  # type: ignore[arg-type]

    assert loop.batch_rows(task(5)).__name__ == "one_by_one"  # 50 rows of 3,000: packing would not pay
    assert loop.batch_rows(task(100)).__name__ == "packed"  # 1,000 rows: a third of the input
    assert loop.batch_rows(task(None)).__name__ == "packed"  # until the input ends
    features_b, labels, weights = loop.batch_rows(task(None))(torch.tensor([4, 2]))
    assert sorted(features_b) == ["a", "b", "c"] and features_b["b"].tolist() == [1.0, 1.0]
    assert labels.tolist() == [0.0, 0.0] and weights is None


@pytest.mark.parametrize("kind", ["dnn", "linear"])
def test_training_with_packed_batches_is_bit_identical(kind: str, tmp_path, monkeypatch) -> None:
    import estlab.estimator as est
    from estlab import feature_column as fc

    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({"x": rng.normal(size=n).astype("float32"), "z": rng.normal(size=n),
                          "c": rng.choice(["a", "b", "c"], size=n), "w": rng.uniform(0.5, 2.0, size=n),
                          "y": rng.integers(0, 2, size=n)})
    numeric = [fc.numeric_column("x"), fc.numeric_column("z")]
    cat = fc.categorical_column_with_vocabulary_list("c", ["a", "b", "c"])

    def train(model_dir: str) -> dict[str, np.ndarray]:
        config = est.RunConfig(random_seed=0, tensorboard=False)
        if kind == "dnn":
            model = est.DNNClassifier(hidden_units=[4], feature_columns=[*numeric, fc.embedding_column(cat, 2)],
                                      model_dir=model_dir, config=config, weight_column="w")
        else:
            model = est.LinearClassifier(feature_columns=[*numeric, cat], model_dir=model_dir, config=config,
                                         weight_column="w")
        model.train(frame, label="y", batch_size=32, num_epochs=2, shuffle=True)
        return {name: model.get_variable_value(name) for name in model.get_variable_names()}

    packed = train(str(tmp_path / "packed"))
    monkeypatch.setattr(loop, "PACK_AFTER_EPOCH_FRACTION", 1e-12)  # never pays: one gather per tensor
    plain = train(str(tmp_path / "plain"))
    assert sorted(packed) == sorted(plain) and len(packed) >= 3
    for name in packed:
        np.testing.assert_array_equal(packed[name], plain[name], err_msg=name)
