from __future__ import annotations

import pytest
import torch

from estlab.training.config import RunConfig, resolve_device


def test_defaults_follow_tf():
    config = RunConfig()
    assert (config.save_checkpoints_secs, config.save_checkpoints_steps) == (600, None)
    assert (config.keep_checkpoint_max, config.save_summary_steps, config.log_step_count_steps) == (5, 100, 100)
    assert config.device == "auto" and config.mixed_precision is None and config.compile is False


def test_both_checkpoint_cadences_is_an_error():
    with pytest.raises(ValueError, match="save_checkpoints_steps=10 and save_checkpoints_secs=5"):
        RunConfig(save_checkpoints_steps=10, save_checkpoints_secs=5)


def test_replace_switches_cadence_and_rejects_unknown_names():
    config = RunConfig().replace(save_checkpoints_steps=10)
    assert (config.save_checkpoints_steps, config.save_checkpoints_secs) == (10, None)
    assert config.replace(save_checkpoints_secs=30).save_checkpoints_steps is None
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['learning_rate'\]"):
        RunConfig().replace(learning_rate=0.1)


def test_bad_values_name_the_parameter():
    with pytest.raises(ValueError, match="save_summary_steps must be a positive int, got 0"):
        RunConfig(save_summary_steps=0)
    with pytest.raises(ValueError, match="mixed_precision must be None or one of"):
        RunConfig(mixed_precision="fp8")


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type in (expected, "mps")
    with pytest.raises(ValueError, match="device 'gpu0' is not a torch device"):
        resolve_device("gpu0")


def test_tf_random_seed_is_an_alias():
    assert RunConfig(tf_random_seed=3).random_seed == 3
    assert RunConfig(random_seed=3).tf_random_seed == 3
    assert RunConfig(random_seed=3).replace(random_seed=4).tf_random_seed == 4
    with pytest.raises(ValueError, match="random_seed=1 and tf_random_seed=2 disagree"):
        RunConfig(random_seed=1, tf_random_seed=2)


@pytest.mark.parametrize("mode", [True, False, "reduce-overhead", "max-autotune", "default"])
def test_compile_takes_a_bool_or_a_torch_compile_mode(mode) -> None:
    assert RunConfig(compile=mode).compile == mode


@pytest.mark.parametrize("bad", ["reduce_overhead", "fast", 1, None])
def test_an_unknown_compile_mode_is_refused_naming_the_modes(bad) -> None:
    with pytest.raises(ValueError, match=r"compile must be True, False or a torch.compile mode in \['default', "
                                         r"'reduce-overhead'"):
        RunConfig(compile=bad)


def test_default_batch_size_is_tfs_on_the_cpu_and_larger_on_cuda(tmp_path) -> None:
    import numpy as np
    import pandas as pd

    from estlab.estimators import LinearClassifier
    from estlab.features import numeric_column
    from estlab.training.config import default_batch_size

    assert default_batch_size(torch.device("cpu")) == 128
    assert default_batch_size(torch.device("mps")) == 128
    assert default_batch_size(torch.device("cuda")) == 1024
    frame = pd.DataFrame({"x": np.arange(300, dtype="float32"), "y": np.arange(300) % 2})
    est = LinearClassifier([numeric_column("x")], model_dir=str(tmp_path), config=RunConfig(device="cpu"))
    est.train(frame, label="y")  # one epoch of 300 rows in batches of 128: 3 steps
    assert est.global_step == 3


def test_tf_cluster_properties_alone_are_tfs_single_worker_values():
    config = RunConfig()
    assert (config.task_type, config.task_id, config.global_id_in_cluster, config.is_chief) == ("worker", 0, 0, True)
    assert (config.num_worker_replicas, config.num_ps_replicas, config.cluster_spec) == (1, 0, {})
    assert (config.master, config.evaluation_master, config.service) == ("", "", None)


def test_tf_cluster_properties_follow_torchruns_environment_when_read(monkeypatch):
    config = RunConfig(save_checkpoints_steps=5)  # made before the job's environment is there: read when asked
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert (config.task_id, config.global_id_in_cluster, config.is_chief, config.num_worker_replicas) == (2, 2, False, 4)
    monkeypatch.setenv("RANK", "0")
    assert config.is_chief and config.task_id == 0
