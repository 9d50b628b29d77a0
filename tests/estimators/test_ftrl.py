"""FTRL-Proximal matches TF's update formulas (hand-computed over 3 steps), dense and sparse."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from estlab.estimators.ftrl import Ftrl
from estlab.estimators.optimizers import resolve_optimizer

# lr, learning_rate_power, l1, l2, l2_shrinkage, beta, initial_accumulator_value
CONFIG = {"lr": 0.1, "learning_rate_power": -0.5, "l1_regularization_strength": 0.05,
          "l2_regularization_strength": 0.02, "l2_shrinkage_regularization_strength": 0.03, "beta": 0.4,
          "initial_accumulator_value": 0.1}
GRADS = [[0.5, -0.02], [-0.3, 0.04], [0.2, 0.5]]
# Worked by hand from TF's formulas (n = accumulator, z = linear), coordinate 0 step 1:
#   n = 0.1 + 0.5**2 = 0.35;  z = 0.5 - (sqrt(0.35) - sqrt(0.1)) / 0.1 * 0 = 0.5
#   q = sqrt(0.35) / 0.1 + 2 * (0.02 + 0.4 / (2 * 0.1)) = 9.956...;  w = (0.05 - 0.5) / q = -0.04519851...
# coordinate 1 keeps |z| <= l1 for two steps, so L1 holds it at exactly 0.
EXPECTED_W = [[-0.04519851284878937, 0.0], [-0.01683677460948101, 0.0], [-0.034979198609627185, -0.04712743829709983]]
EXPECTED_Z = [[0.5, -0.02], [0.2297030975411654, 0.02], [0.4336589591825615, 0.52]]
EXPECTED_N = [[0.35, 0.1004], [0.44, 0.102], [0.48, 0.352]]


def _reference(grads: list[list[float]], lr: float, learning_rate_power: float, l1_regularization_strength: float,
               l2_regularization_strength: float, l2_shrinkage_regularization_strength: float, beta: float,
               initial_accumulator_value: float) -> list[list[float]]:
    """TF's FTRL update, written out per coordinate in plain Python floats."""
    power = -learning_rate_power
    w = [0.0] * len(grads[0])
    n = [initial_accumulator_value] * len(w)
    z = [0.0] * len(w)
    out = []
    for g in grads:
        for i, gi in enumerate(g):
            shrunk = gi + 2 * l2_shrinkage_regularization_strength * w[i]
            new_n = n[i] + gi * gi
            z[i] += shrunk - (new_n ** power - n[i] ** power) / lr * w[i]
            quadratic = new_n ** power / lr + 2 * (l2_regularization_strength + beta / (2 * lr))
            clipped = max(-l1_regularization_strength, min(l1_regularization_strength, z[i]))
            w[i] = (clipped - z[i]) / quadratic
            n[i] = new_n
        out.append(list(w))
    return out


def test_three_steps_match_the_hand_computation_exactly() -> None:
    w = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    opt = Ftrl([w], **CONFIG)
    for step, g in enumerate(GRADS):
        w.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        state = opt.state[w]
        assert w.detach().tolist() == pytest.approx(EXPECTED_W[step], rel=1e-14, abs=1e-300)
        assert state["linear"].tolist() == pytest.approx(EXPECTED_Z[step], rel=1e-14)
        assert state["accumulator"].tolist() == pytest.approx(EXPECTED_N[step], rel=1e-14)
    assert w[1].item() == -0.04712743829709983 and _reference(GRADS, **CONFIG)[1] == EXPECTED_W[1]


@pytest.mark.parametrize("overrides", [
    {},  # TF's defaults: no regularisation
    {"learning_rate_power": 0.0},  # fixed rate
    {"learning_rate_power": -0.7, "initial_accumulator_value": 0.0},
    {"l1_regularization_strength": 1.0},
])
def test_matches_the_reference_for_other_settings(overrides: dict) -> None:
    config = {**CONFIG, "l1_regularization_strength": 0.0, "l2_regularization_strength": 0.0,
              "l2_shrinkage_regularization_strength": 0.0, "beta": 0.0, **overrides}
    w = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    opt = Ftrl([w], **config)
    for g in GRADS:
        w.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    assert w.detach().tolist() == pytest.approx(_reference(GRADS, **config)[-1], rel=1e-13, abs=1e-300)


def test_tf_default_without_regularisation_is_the_adagrad_like_closed_form() -> None:
    w = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = Ftrl([w], lr=0.2)
    w.grad = torch.tensor([1.0], dtype=torch.float64)
    opt.step()
    assert w.item() == pytest.approx(-1.0 / (math.sqrt(1.1) / 0.2), rel=1e-15)


@pytest.mark.filterwarnings("ignore:Sparse invariant checks")
def test_sparse_gradient_updates_only_its_rows_with_duplicates_summed() -> None:
    dense = torch.nn.Parameter(torch.zeros(4, 2, dtype=torch.float64))
    sparse = torch.nn.Parameter(torch.zeros(4, 2, dtype=torch.float64))
    opt_dense, opt_sparse = Ftrl([dense], **CONFIG), Ftrl([sparse], **CONFIG)
    for g in GRADS:
        # row 1 gets g split in two duplicate entries; rows 0, 2, 3 get nothing
        sparse.grad = torch.sparse_coo_tensor([[1, 1]], torch.tensor([[g[0] / 2, g[1] / 2]] * 2, dtype=torch.float64),
                                              (4, 2))
        full = torch.zeros(4, 2, dtype=torch.float64)
        full[1] = torch.tensor(g, dtype=torch.float64)
        dense.grad = full
        opt_sparse.step()
        opt_dense.step()
    assert sparse[1].tolist() == pytest.approx(EXPECTED_W[-1], rel=1e-14)
    assert sparse[[0, 2, 3]].abs().sum().item() == 0.0
    assert opt_sparse.state[sparse]["accumulator"][0].tolist() == [0.1, 0.1]  # untouched rows keep the initial value
    assert dense[1].tolist() == pytest.approx(EXPECTED_W[-1], rel=1e-14)


def test_embedding_bag_dense_and_sparse_gradients_train_alike() -> None:
    weights = []
    for sparse in (False, True):
        bag = torch.nn.EmbeddingBag(5, 1, mode="sum", sparse=sparse).double()
        torch.nn.init.zeros_(bag.weight)
        opt = Ftrl(bag.parameters(), lr=0.5, l1_regularization_strength=0.01)
        ids, offsets = torch.tensor([0, 1, 2, 0]), torch.tensor([0, 2, 3])
        y = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
        for _ in range(3):
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(bag(ids, offsets).squeeze(1), y)
            loss.backward()
            opt.step()
        weights.append(bag.weight.detach().reshape(-1).tolist())
    assert weights[0] == pytest.approx(weights[1], rel=1e-14, abs=1e-300)
    assert weights[0][3] == weights[0][4] == 0.0  # ids never seen stay at exactly zero
    assert weights[0][0] > 0 > weights[0][2]  # id 2 only in the negative example


def test_state_dict_round_trip_continues_identically() -> None:
    a = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    opt_a = Ftrl([a], **CONFIG)
    for g in GRADS[:2]:
        a.grad = torch.tensor(g, dtype=torch.float64)
        opt_a.step()
    b = torch.nn.Parameter(a.detach().clone())
    opt_b = Ftrl([b], **CONFIG)
    opt_b.load_state_dict(copy.deepcopy(opt_a.state_dict()))  # as a checkpoint holds it: not shared
    a.grad = b.grad = torch.tensor(GRADS[2], dtype=torch.float64)
    opt_a.step()
    opt_b.step()
    assert b.tolist() == a.tolist() == pytest.approx(EXPECTED_W[2], rel=1e-14)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"lr": 0.0}, r"Ftrl: lr must be > 0; received 0.0"),
    ({"learning_rate_power": 0.5}, r"Ftrl: learning_rate_power must be <= 0; received 0.5"),
    ({"l1_regularization_strength": -1}, r"Ftrl: l1_regularization_strength must be >= 0; received -1"),
    ({"beta": -0.1}, r"Ftrl: beta must be >= 0; received -0.1"),
])
def test_invalid_arguments_name_the_parameter(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Ftrl([torch.nn.Parameter(torch.zeros(1))], **kwargs)


def test_name_ftrl_is_ftrl_proximal_at_the_linear_default_rate() -> None:
    opt = resolve_optimizer("Ftrl")([torch.nn.Parameter(torch.zeros(1))])
    assert type(opt) is Ftrl
    assert opt.param_groups[0]["lr"] == 0.2 and opt.param_groups[0]["initial_accumulator_value"] == 0.1
    assert opt.param_groups[0]["learning_rate_power"] == -0.5 and opt.param_groups[0]["l1_regularization_strength"] == 0.0


@pytest.mark.parametrize("config", [CONFIG, {"lr": 0.05}, {"learning_rate_power": 0.0, "l1_regularization_strength": 0.3}])
def test_many_dense_parameters_update_as_each_one_alone_bit_for_bit(config: dict) -> None:
    # the optimizer updates all dense parameters of a dtype together; each must get exactly the
    # per-parameter formula (`_proximal`), float32 and float64 mixed, shapes of every rank
    from estlab.estimators.ftrl import _proximal

    gen = torch.Generator().manual_seed(3)
    shapes = [(5, 1), (3,), (2, 4), (1,)]
    params = [torch.nn.Parameter(torch.randn(s, generator=gen, dtype=dt)) for s in shapes
              for dt in (torch.float32, torch.float64)]
    opt = Ftrl(params, **config)
    group = opt.param_groups[0]
    expected = [(p.detach().clone(), torch.full_like(p, group["initial_accumulator_value"]), torch.zeros_like(p))
                for p in params]
    for _ in range(3):
        grads = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params]
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        opt.step()
        expected = [_proximal(g, w, n, z, group) for g, (w, n, z) in zip(grads, expected, strict=True)]
    for p, (w, n, z) in zip(params, expected, strict=True):
        assert torch.equal(p.detach(), w)
        assert torch.equal(opt.state[p]["accumulator"], n) and torch.equal(opt.state[p]["linear"], z)
    assert any(bool((p == 0).any()) for p in params) == (group["l1_regularization_strength"] > 0)


def test_a_linear_model_trains_resumes_and_predicts_without_importing_torch_dynamo(tmp_path) -> None:
    # torch's optimizers import torch._dynamo (~1 s, ~800 modules) on first use; FTRL (the linear and baseline
    # default) avoids it, in a fresh interpreter
    import subprocess
    import sys

    program = f"""
import sys
import numpy as np, pandas as pd
import estlab.estimator as est
from estlab import feature_column as fc
frame = pd.DataFrame({{"x": np.arange(64.0), "c": ["a", "b"] * 32, "y": np.arange(64) % 2}})
columns = [fc.numeric_column("x"), fc.categorical_column_with_vocabulary_list("c", ["a", "b"])]
model = est.LinearClassifier(columns, model_dir={str(tmp_path / "linear")!r})
model.train(frame, label="y", steps=4)
est.LinearClassifier(columns, model_dir={str(tmp_path / "linear")!r}).train(frame, label="y", steps=2)
model.evaluate(frame, label="y")
rows = list(model.predict(frame.drop(columns="y")))
print(len(rows), model.global_step, "torch._dynamo" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["64", "6", "False"]


def test_many_parameters_round_trip_through_a_saved_state_and_continue_identically() -> None:
    # the dense state is kept flat with per-parameter views; a saved and loaded state (new tensors) must be
    # picked up, also by an optimizer that had already stepped with its own state
    import io

    gen = torch.Generator().manual_seed(5)
    shapes = [(4, 1), (1,), (3, 2)]
    start = [torch.randn(s, generator=gen) for s in shapes]
    grads = [[torch.randn(s, generator=gen) for s in shapes] for _ in range(4)]

    def stepped(params: list, opt: Ftrl, steps: list) -> None:
        for step in steps:
            for p, g in zip(params, step, strict=True):
                p.grad = g.clone()
            opt.step()

    a = [torch.nn.Parameter(t.clone()) for t in start]
    opt_a = Ftrl(a, **CONFIG)
    stepped(a, opt_a, grads[:2])
    buffer = io.BytesIO()
    torch.save(opt_a.state_dict(), buffer)
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    opt_b = Ftrl(b, **CONFIG)
    stepped(b, opt_b, grads[2:3])  # its own flat state first: the load must replace it
    for p, q in zip(b, a, strict=True):
        p.data.copy_(q.detach())
    opt_b.load_state_dict(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True))
    stepped(a, opt_a, grads[2:])
    stepped(b, opt_b, grads[2:])
    for p, q in zip(a, b, strict=True):
        assert torch.equal(p.detach(), q.detach())
    for p, q in zip(a, b, strict=True):
        assert torch.equal(opt_a.state[p]["accumulator"], opt_b.state[q]["accumulator"])
        assert opt_a.state[p]["linear"].shape == p.shape
