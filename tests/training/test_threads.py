"""The intra-op thread policy while training (estlab/training/threads.py): what a run uses, not how fast."""

from __future__ import annotations

import pytest
import torch

from estlab.training import threads
from estlab.training.config import RunConfig
from estlab.training.events import Listener


class ThreadProbe(Listener):
    """Records ``torch.get_num_threads()`` at every step."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_step_end(self, event: dict) -> None:
        self.seen.append(torch.get_num_threads())


@pytest.fixture
def torch_default_threads(monkeypatch):
    """A process as torch starts it: no thread variables in the environment, one thread per core."""
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(key, raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(threads.available_cores())
    yield threads.available_cores()
    torch.set_num_threads(before)


def _train(make_estimator, frame, **config) -> list[int]:
    probe = ThreadProbe()
    make_estimator(**config).train(frame, label="y", steps=4, hooks=[probe])
    return probe.seen


def test_a_small_model_trains_on_one_thread_and_the_setting_comes_back(
    make_estimator, binary_frame, torch_default_threads
) -> None:
    assert _train(make_estimator, binary_frame) == [1, 1, 1, 1]
    assert torch.get_num_threads() == torch_default_threads


def test_a_large_step_gets_the_free_cores(
    make_estimator, binary_frame, torch_default_threads, monkeypatch
) -> None:
    monkeypatch.setattr(threads, "PARALLEL_WORK", 1)  # every step counts as large
    monkeypatch.setattr(threads, "other_load", lambda: 0.0)  # a quiet machine
    monkeypatch.setattr(threads, "available_cores", lambda: 3)
    torch.set_num_threads(3)  # torch's default on such a machine (one thread per core)
    assert _train(make_estimator, binary_frame) == [3, 3, 3, 3]
    monkeypatch.setattr(threads, "other_load", lambda: 2.0)  # two cores busy with other work: one left
    assert _train(make_estimator, binary_frame) == [1, 1, 1, 1]


def test_run_config_num_threads_wins(make_estimator, binary_frame, torch_default_threads) -> None:
    assert _train(make_estimator, binary_frame, num_threads=3) == [3, 3, 3, 3]
    assert torch.get_num_threads() == torch_default_threads


def test_the_users_own_setting_is_left_alone(
    make_estimator, binary_frame, torch_default_threads, monkeypatch
) -> None:
    torch.set_num_threads(torch_default_threads + 2)  # torch.set_num_threads before train: the user's choice
    assert _train(make_estimator, binary_frame) == [torch_default_threads + 2] * 4
    torch.set_num_threads(torch_default_threads)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the environment decides: estlab leaves torch as it is
    assert _train(make_estimator, binary_frame) == [torch_default_threads] * 4


@pytest.mark.parametrize(
    ("work", "cores", "load", "expected"),
    [
        (threads.PARALLEL_WORK - 1, 8, 0.0, 1),  # small step: one thread whatever the machine
        (threads.PARALLEL_WORK, 8, 0.0, 8),
        (threads.PARALLEL_WORK, 8, 2.6, 5),  # three cores taken by others
        (threads.PARALLEL_WORK, 2, 1.2, 1),  # one of two cores busy: never spin against it
        (threads.PARALLEL_WORK, 2, 7.0, 1),
    ],
)
def test_choose_threads(work, cores, load, expected) -> None:
    assert threads.choose_threads(work, cores, load) == expected


def test_model_work_counts_matrices_times_rows_without_embeddings() -> None:
    module = torch.nn.ModuleDict({"embedding": torch.nn.Embedding(1000, 8), "dense": torch.nn.Linear(8, 4)})
    assert threads.model_work(module, {"x": torch.zeros(16, 8)}) == 8 * 4 * 16


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_bad_num_threads_is_refused_with_the_value(bad) -> None:
    with pytest.raises(ValueError, match=r"RunConfig: num_threads must be a positive int or None, got"):
        threads.user_threads(bad)
    with pytest.raises(ValueError, match=r"num_threads must be a positive int or None"):
        with threads.training_threads(RunConfig(num_threads=bad)):
            pass


def test_a_compiled_run_stays_on_one_thread_without_a_global_hook(torch_default_threads, monkeypatch) -> None:
    monkeypatch.setattr(threads, "PARALLEL_WORK", 1)
    hooks: list = []
    monkeypatch.setattr(
        torch.nn.modules.module, "register_module_forward_pre_hook", lambda hook: hooks.append(hook)
    )
    with threads.training_threads(RunConfig(compile=True)):
        assert torch.get_num_threads() == 1
    assert hooks == [] and torch.get_num_threads() == torch_default_threads
