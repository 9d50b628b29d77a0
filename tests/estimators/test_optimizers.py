"""Optimizer names resolve through one dict; errors list the valid names."""

from __future__ import annotations

import pytest
import torch

from estlab.estimators.optimizers import OPTIMIZERS, resolve_optimizer


def _params() -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(torch.zeros(3))]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_name_builds_with_its_default_learning_rate(name: str) -> None:
    opt = resolve_optimizer(name.upper())(_params())
    cls, _, lr = OPTIMIZERS[name]
    assert type(opt) is cls and opt.param_groups[0]["lr"] == lr


def test_ftrl_maps_to_adagrad_with_tf_accumulator() -> None:
    opt = resolve_optimizer("Ftrl", learning_rate=0.2)(_params())
    assert type(opt) is torch.optim.Adagrad
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
    with pytest.raises(ValueError, match=r"optimizer received an optimizer instance \(SGD\)"):
        resolve_optimizer(torch.optim.SGD(_params(), lr=0.1))
