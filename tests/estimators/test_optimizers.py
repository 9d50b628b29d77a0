"""Optimizer names resolve through one dict; errors list the valid names."""

from __future__ import annotations

import copy
import functools

import pytest
import torch

from estlab.estimators.ftrl import Ftrl
from estlab.estimators.optimizers import OPTIMIZERS, resolve_optimizer, tf_default_optimizer
from estlab.training.lr_schedule import STATE_KEY, ExponentialDecay


def _params() -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(torch.zeros(3))]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_name_builds_with_its_default_learning_rate(name: str) -> None:
    opt = resolve_optimizer(name.upper())(_params())
    cls, _, lr = OPTIMIZERS[name]
    assert type(opt) is cls and opt.param_groups[0]["lr"] == lr


def test_ftrl_is_ftrl_proximal_with_tf_accumulator() -> None:
    opt = resolve_optimizer("Ftrl", learning_rate=0.2)(_params())
    assert type(opt) is Ftrl  # was Adagrad before issue 10 (item 8)
    assert opt.param_groups[0]["lr"] == 0.2 and opt.param_groups[0]["initial_accumulator_value"] == 0.1


def test_unknown_name_lists_valid_names_and_suggests() -> None:
    with pytest.raises(ValueError, match=r"optimizer='Adamm' is not a known optimizer name; valid names are .*'Adam'.*Did you mean 'Adam'"):
        resolve_optimizer("Adamm")


def test_factory_class_and_errors() -> None:
    factory = resolve_optimizer(lambda p: torch.optim.SGD(p, lr=0.3))
    assert factory(_params()).param_groups[0]["lr"] == 0.3
    assert resolve_optimizer(torch.optim.RMSprop, 0.5)(_params()).param_groups[0]["lr"] == 0.5
    with pytest.raises(ValueError, match=r"learning_rate=0.1 cannot be combined with a callable optimizer"):
        resolve_optimizer(lambda p: torch.optim.SGD(p, lr=0.3), 0.1)
    with pytest.raises(ValueError, match=r"learning_rate must be a positive number; received -1"):
        resolve_optimizer("SGD", -1)
    # an instance is accepted now, but only for the parameters it holds (see test_instance_*)
    with pytest.raises(ValueError, match=r"optimizer received a SGD instance built on other parameters"):
        resolve_optimizer(torch.optim.SGD(_params(), lr=0.1))(_params())


@pytest.mark.parametrize(("estimator", "n_columns", "expected"), [
    ("LinearClassifier", 4, ("Ftrl", 0.2)),  # min(0.2, 1/sqrt(4) = 0.5)
    ("LinearRegressor", 100, ("Ftrl", 0.1)),  # min(0.2, 1/sqrt(100))
    ("DNNClassifier", 3, ("Adagrad", 0.05)),
    ("DNNLinearCombinedClassifier.linear", 4, ("Ftrl", 0.005)),
    ("DNNLinearCombinedRegressor.dnn", None, ("Adagrad", 0.001)),
    ("BaselineClassifier", None, ("Ftrl", 0.3)),
])
def test_none_means_tf_default(estimator: str, n_columns: int | None, expected: tuple[str, float]) -> None:
    assert tf_default_optimizer(estimator, n_columns) == expected
    opt = resolve_optimizer(None, default=tf_default_optimizer(estimator, n_columns))(_params())
    assert type(opt).__name__ == expected[0] and opt.param_groups[0]["lr"] == expected[1]
    assert resolve_optimizer(None, 0.7, default=expected)(_params()).param_groups[0]["lr"] == 0.7


def test_none_without_a_default_and_unknown_estimator_raise() -> None:
    with pytest.raises(ValueError, match=r"optimizer=None: this estimator has no TF default optimizer"):
        resolve_optimizer(None)
    with pytest.raises(ValueError, match=r"unknown estimator 'LinearClasifier'.*Did you mean 'LinearClassifier'"):
        tf_default_optimizer("LinearClasifier")


def test_partial_of_a_class_takes_the_learning_rate() -> None:
    spec = functools.partial(Ftrl, l1_regularization_strength=0.01)
    opt = resolve_optimizer(spec, 0.3)(_params())
    assert type(opt) is Ftrl and opt.param_groups[0]["lr"] == 0.3
    assert opt.param_groups[0]["l1_regularization_strength"] == 0.01
    assert resolve_optimizer(spec)(_params()).param_groups[0]["lr"] == 0.001  # Ftrl's own (Keras') default


def test_instance_is_used_for_exactly_its_parameters() -> None:
    module = torch.nn.Linear(2, 1)
    instance = torch.optim.SGD(module.parameters(), lr=0.1)
    assert resolve_optimizer(instance)(module.parameters()) is instance
    with pytest.raises(ValueError, match=r"built on other parameters than the 2 this estimator trains \(2 held, "
                                         r"0 in common\).*functools.partial\(torch.optim.SGD"):
        resolve_optimizer(instance)(torch.nn.Linear(2, 1).parameters())
    with pytest.raises(ValueError, match=r"learning_rate=0.5 cannot be combined with an optimizer instance"):
        resolve_optimizer(instance, 0.5)


def _run(opt: torch.optim.Optimizer, param: torch.nn.Parameter, steps: int) -> list[float]:
    """Step ``opt`` with gradient 1 and return the learning rate each step used."""
    used = []
    for _ in range(steps):
        before = param.item()
        param.grad = torch.ones_like(param)
        opt.step()
        used.append(round(before - param.item(), 12))  # SGD: the step is lr * 1
    return used


def test_callable_schedule_sets_the_rate_of_every_step_as_tf() -> None:
    param = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))
    schedule = ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)  # TF: 0.1 * 0.5 ** (step / 2)
    opt = resolve_optimizer("SGD", schedule)([param])
    assert _run(opt, param, 3) == [0.1, round(0.1 * 0.5 ** 0.5, 12), 0.05]
    stair = resolve_optimizer("SGD", ExponentialDecay(0.1, 2, 0.5, staircase=True))([param])
    assert _run(stair, param, 4) == [0.1, 0.1, 0.05, 0.05]
    lam = resolve_optimizer(lambda p: torch.optim.SGD(p, lr=9.0), lambda step: 1.0 / (step + 1))([param])
    assert _run(lam, param, 3) == [1.0, 0.5, round(1 / 3, 12)]  # a schedule may combine with a factory


def test_torch_scheduler_factory_steps_after_each_step() -> None:
    param = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))
    gamma = functools.partial(torch.optim.lr_scheduler.ExponentialLR, gamma=0.5)
    opt = resolve_optimizer(functools.partial(torch.optim.SGD, lr=0.4), gamma)([param])
    assert _run(opt, param, 3) == [0.4, 0.2, 0.1]
    assert opt.param_groups[0]["lr"] == 0.05  # the next step's


@pytest.mark.parametrize("schedule", [ExponentialDecay(0.1, 1, 0.5),
                                      functools.partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5)])
def test_schedule_position_survives_a_checkpoint(schedule) -> None:
    first = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))
    sgd = functools.partial(torch.optim.SGD, lr=0.1)
    opt = resolve_optimizer(sgd, schedule)([first])
    _run(opt, first, 2)
    saved = copy.deepcopy(opt.state_dict())
    assert STATE_KEY in saved
    torch.save(saved, buffer := __import__("io").BytesIO())
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)  # checkpoints load with weights_only=True
    second = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))
    resumed = resolve_optimizer(sgd, schedule)([second])
    resumed.load_state_dict(loaded)
    assert _run(resumed, second, 2) == [0.025, 0.0125]  # steps 3 and 4 of 0.1 * 0.5 ** step
    plain = torch.optim.SGD([torch.nn.Parameter(torch.zeros(()))], lr=1.0)
    plain.load_state_dict(copy.deepcopy(saved))  # an optimizer without a schedule ignores the position


def test_bad_schedules_are_refused() -> None:
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau needs a metric"):
        resolve_optimizer("SGD", torch.optim.lr_scheduler.ReduceLROnPlateau)
    with pytest.raises(ValueError, match=r"the schedule gave -1.0 at step 0"):
        resolve_optimizer("SGD", lambda step: -1.0)


@pytest.mark.parametrize("name, fused", [("Adam", True), ("AdamW", True), ("Adagrad", True), ("SGD", True),
                                         ("Momentum", True), ("RMSProp", None), ("Ftrl", None)])
def test_names_build_torchs_fused_implementation_where_it_has_one(name: str, fused) -> None:
    opt = resolve_optimizer(name)(_params())
    assert opt.param_groups[0].get("fused") is fused


def test_fused_is_off_for_user_classes_sparse_modules_and_integer_parameters() -> None:
    assert resolve_optimizer(torch.optim.Adam, 0.1)(_params()).param_groups[0]["fused"] is None  # as the user built it
    assert resolve_optimizer("Adam", fused=False)(_params()).param_groups[0]["fused"] is None
    from estlab.estimators.optimizers import has_sparse_gradients

    sparse = torch.nn.Sequential(torch.nn.Embedding(4, 2, sparse=True), torch.nn.Linear(2, 1))
    assert has_sparse_gradients(sparse) and not has_sparse_gradients(torch.nn.Embedding(4, 2))


def test_a_fused_adam_trains_as_the_per_tensor_one_to_float_rounding() -> None:
    torch.manual_seed(0)
    start = [torch.randn(5, 3), torch.randn(3)]
    runs = []
    for fused in (True, False):
        params = [torch.nn.Parameter(t.clone()) for t in start]
        opt = resolve_optimizer("Adam", 0.01, fused=fused)(params)
        gen = torch.Generator().manual_seed(1)
        for _ in range(20):
            for p in params:
                p.grad = torch.randn(p.shape, generator=gen)
            opt.step()
        runs.append(params)
    for a, b, before in zip(*runs, start, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
        assert (a - before).abs().min() > 1e-3  # every weight moved (random gradients partly cancel)
