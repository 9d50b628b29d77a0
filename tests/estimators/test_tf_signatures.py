"""TF's parameter order (TF 2.15) in every public constructor and function that mirrors a TF one.

For each: the positional parameters are exactly TF's, in TF's order (a positional TF call binds the same
parameters); estlab's own parameters are keyword-only; TF parameters with no PyTorch meaning are accepted
and ignored with one warning naming them.
"""

from __future__ import annotations

import inspect
import warnings

import pytest

from estlab import feature_column as fc
from estlab._util import IgnoredArgumentWarning
from estlab.estimators import (
    BaselineClassifier,
    BaselineRegressor,
    DNNClassifier,
    DNNLinearCombinedClassifier,
    DNNLinearCombinedRegressor,
    DNNRegressor,
    LinearClassifier,
    LinearRegressor,
)
from estlab.training.config import RunConfig

COLS = [fc.numeric_column("x")]
RED = "sum_over_batch_size"

#: TF 2.15's (tensorflow_estimator 2.15) positional parameters, in order.
TF_SIGNATURES = {
    LinearClassifier: ["feature_columns", "model_dir", "n_classes", "weight_column", "label_vocabulary", "optimizer",
                       "config", "warm_start_from", "loss_reduction", "sparse_combiner"],
    LinearRegressor: ["feature_columns", "model_dir", "label_dimension", "weight_column", "optimizer", "config",
                      "warm_start_from", "loss_reduction", "sparse_combiner"],
    DNNClassifier: ["hidden_units", "feature_columns", "model_dir", "n_classes", "weight_column", "label_vocabulary",
                    "optimizer", "activation_fn", "dropout", "config", "warm_start_from", "loss_reduction",
                    "batch_norm"],
    DNNRegressor: ["hidden_units", "feature_columns", "model_dir", "label_dimension", "weight_column", "optimizer",
                   "activation_fn", "dropout", "config", "warm_start_from", "loss_reduction", "batch_norm"],
    DNNLinearCombinedClassifier: ["model_dir", "linear_feature_columns", "linear_optimizer", "dnn_feature_columns",
                                  "dnn_optimizer", "dnn_hidden_units", "dnn_activation_fn", "dnn_dropout",
                                  "n_classes", "weight_column", "label_vocabulary", "config", "warm_start_from",
                                  "loss_reduction", "batch_norm", "linear_sparse_combiner"],
    DNNLinearCombinedRegressor: ["model_dir", "linear_feature_columns", "linear_optimizer", "dnn_feature_columns",
                                 "dnn_optimizer", "dnn_hidden_units", "dnn_activation_fn", "dnn_dropout",
                                 "label_dimension", "weight_column", "config", "warm_start_from", "loss_reduction",
                                 "batch_norm", "linear_sparse_combiner"],
    BaselineClassifier: ["model_dir", "n_classes", "weight_column", "label_vocabulary", "optimizer", "config",
                         "loss_reduction"],
    BaselineRegressor: ["model_dir", "label_dimension", "weight_column", "optimizer", "config", "loss_reduction"],
}

#: estlab's parameters, keyword-only.
ESTLAB_ONLY = {
    LinearClassifier: ["learning_rate", "class_weight"],
    LinearRegressor: ["learning_rate", "normalize_labels"],
    DNNClassifier: ["learning_rate", "class_weight"],
    DNNRegressor: ["learning_rate", "normalize_labels"],
    DNNLinearCombinedClassifier: ["linear_learning_rate", "dnn_learning_rate", "class_weight"],
    DNNLinearCombinedRegressor: ["linear_learning_rate", "dnn_learning_rate", "normalize_labels"],
    BaselineClassifier: ["learning_rate", "warm_start_from", "class_weight"],  # TF's baselines have no warm_start_from
    BaselineRegressor: ["learning_rate", "warm_start_from"],
}


def split(fn) -> tuple[list[str], list[str]]:
    params = [p for p in inspect.signature(fn).parameters.values() if p.name != "self"]
    positional = [p.name for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    keyword_only = [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert len(positional) + len(keyword_only) == len(params)  # no *args / **kwargs
    return positional, keyword_only


@pytest.mark.parametrize("cls", list(TF_SIGNATURES), ids=lambda c: c.__name__)
def test_premade_positional_parameters_are_tfs_and_estlabs_are_keyword_only(cls):
    assert split(cls.__init__) == (TF_SIGNATURES[cls], ESTLAB_ONLY[cls])


def test_linear_positional_calls_bind_as_in_tf(tmp_path):
    config = RunConfig()
    est = LinearClassifier(COLS, str(tmp_path / "m"), 3, "w", ["a", "b", "c"], "SGD", config, None, "sum", "mean")
    assert (est.model_dir, est.n_classes, est.weight_column, est.label_vocabulary, est.optimizer) == (
        str(tmp_path / "m"), 3, "w", ["a", "b", "c"], "SGD")
    assert (est.get_params()["config"] is config, est.loss_reduction, est.sparse_combiner, est.learning_rate) == (
        True, "sum", "mean", None)
    assert LinearClassifier(COLS, str(tmp_path / "m"), 3).n_classes == 3
    est = LinearRegressor(COLS, str(tmp_path / "r"), 2, "w", "SGD", None, str(tmp_path / "ws"), RED, "sqrtn")
    assert (est.label_dimension, est.optimizer, est.sparse_combiner) == (2, "SGD", "sqrtn")
    assert est.get_params()["warm_start_from"] == str(tmp_path / "ws")
    with pytest.raises(TypeError):
        LinearClassifier(COLS, None, 2, None, None, "Ftrl", None, None, RED, "sum", 0.1)  # learning_rate
    assert LinearClassifier(COLS, learning_rate=0.1).learning_rate == 0.1


def test_dnn_positional_calls_bind_as_in_tf(tmp_path):
    config = RunConfig()
    est = DNNClassifier([8], COLS, str(tmp_path / "m"), 3, "w", None, "SGD", "tanh", 0.25, config, None, "sum", True)
    assert (est.hidden_units, est.n_classes, est.optimizer, est.activation_fn, est.dropout) == (
        [8], 3, "SGD", "tanh", 0.25)
    assert (est.get_params()["config"] is config, est.loss_reduction, est.batch_norm) == (True, "sum", True)
    est = DNNRegressor([8], COLS, None, 2, "w", "SGD", "tanh", 0.25, None, None, "sum", True)
    assert (est.label_dimension, est.weight_column, est.activation_fn, est.batch_norm) == (2, "w", "tanh", True)
    with pytest.raises(TypeError):
        DNNRegressor([8], COLS, None, 1, None, "Adam", "relu", None, None, None, RED, False, 0.01)


def test_combined_and_baseline_positional_calls_bind_as_in_tf():
    lin, dnn = [fc.numeric_column("a")], [fc.numeric_column("b")]
    est = DNNLinearCombinedClassifier(None, lin, "SGD", dnn, "Adagrad", [4], "tanh", 0.5, 3, "w", ["x", "y", "z"],
                                      None, None, "sum", True, "mean")
    assert (est.linear_feature_columns, est.linear_optimizer, est.dnn_feature_columns, est.dnn_optimizer) == (
        lin, "SGD", dnn, "Adagrad")
    assert (est.dnn_hidden_units, est.dnn_activation_fn, est.dnn_dropout, est.n_classes, est.label_vocabulary) == (
        [4], "tanh", 0.5, 3, ["x", "y", "z"])
    assert (est.loss_reduction, est.batch_norm, est.linear_sparse_combiner) == ("sum", True, "mean")
    est = DNNLinearCombinedRegressor(None, lin, "SGD", dnn, "Adagrad", [4], "tanh", 0.5, 2, "w")
    assert (est.label_dimension, est.weight_column) == (2, "w")
    est = BaselineClassifier(None, 3, "w", ["a", "b", "c"], "SGD", None, "sum")
    assert (est.n_classes, est.weight_column, est.optimizer, est.loss_reduction) == (3, "w", "SGD", "sum")
    est = BaselineRegressor(None, 2, "w", "SGD", None, "sum")
    assert (est.label_dimension, est.optimizer, est.loss_reduction) == (2, "SGD", "sum")
    with pytest.raises(TypeError):
        BaselineRegressor(None, 1, None, "Adam", None, RED, 0.1)  # learning_rate is keyword-only


TF_RUN_CONFIG = ["model_dir", "tf_random_seed", "save_summary_steps", "save_checkpoints_steps",
                 "save_checkpoints_secs", "session_config", "keep_checkpoint_max", "keep_checkpoint_every_n_hours",
                 "log_step_count_steps", "train_distribute", "device_fn", "protocol", "eval_distribute",
                 "experimental_distribute", "experimental_max_worker_delay_secs", "session_creation_timeout_secs",
                 "checkpoint_save_graph_def"]


def test_run_config_takes_tfs_order_and_seed_name():
    assert split(RunConfig) == (TF_RUN_CONFIG, ["random_seed", "device", "mixed_precision", "compile", "tensorboard", "num_threads",
                                                 "clip_gradients"])
    config = RunConfig("/x", 42)  # issue 10: this set save_checkpoints_steps
    assert (config.model_dir, config.random_seed, config.tf_random_seed) == ("/x", 42, 42)
    assert (config.save_checkpoints_steps, config.save_checkpoints_secs) == (None, 600)
    config = RunConfig("/x", None, 10, 20, None, None, 3)
    assert (config.save_summary_steps, config.save_checkpoints_steps, config.keep_checkpoint_max) == (10, 20, 3)
    assert RunConfig(random_seed=7).tf_random_seed == 7 and RunConfig(tf_random_seed=7).random_seed == 7


def test_run_config_ignores_tfs_session_arguments_with_one_warning():
    with pytest.warns(IgnoredArgumentWarning) as caught:
        config = RunConfig("/x", 1, 100, None, None, object(), 5, 10000, 100, None, None, "grpc",
                           session_creation_timeout_secs=7200, checkpoint_save_graph_def=True)
    assert [str(w.message) for w in caught] == [
        "RunConfig: ignoring session_config, keep_checkpoint_every_n_hours, protocol, session_creation_timeout_secs, "
        "checkpoint_save_graph_def (it has no meaning in PyTorch); remove it to silence this warning"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert config.replace(save_checkpoints_steps=5).save_checkpoints_steps == 5  # not warned again
        RunConfig("/x", 1)


def test_functions_take_tfs_order():
    from estlab.estimator import export
    from estlab.inputs import numpy_input_fn, pandas_input_fn
    from estlab.training import early_stopping as es
    from estlab.training.train_and_evaluate import EvalSpec, TrainSpec, train_and_evaluate

    hook_tail = ["eval_dir", "min_steps", "run_every_secs", "run_every_steps"]
    assert split(es.stop_if_no_decrease_hook) == (
        ["estimator", "metric_name", "max_steps_without_decrease", *hook_tail], ["eval_name"])
    assert split(es.stop_if_no_increase_hook) == (
        ["estimator", "metric_name", "max_steps_without_increase", *hook_tail], ["eval_name"])
    assert split(es.stop_if_higher_hook) == (["estimator", "metric_name", "threshold", *hook_tail], ["eval_name"])
    assert split(es.stop_if_lower_hook) == (["estimator", "metric_name", "threshold", *hook_tail], ["eval_name"])
    assert split(es.make_early_stopping_hook) == (
        ["estimator", "should_stop_fn", "run_every_secs", "run_every_steps"], [])
    assert split(train_and_evaluate) == (["estimator", "train_spec", "eval_spec"], [])
    assert split(TrainSpec) == (["input_fn", "max_steps", "hooks", "saving_listeners"], ["label"])
    assert split(EvalSpec) == (["input_fn", "steps", "name", "hooks", "exporters", "start_delay_secs",
                                "throttle_secs"], ["every_n_steps", "label"])
    io = ["x", "y", "batch_size", "num_epochs", "shuffle", "queue_capacity", "num_threads"]
    assert split(numpy_input_fn) == (io, ["seed"])
    assert split(pandas_input_fn) == ([*io, "target_column"], ["seed"])
    assert split(export.build_raw_serving_input_receiver_fn) == (["features", "default_batch_size"], ["defaults"])
    assert split(export.build_parsing_serving_input_receiver_fn) == (
        ["feature_spec", "default_batch_size"], ["defaults"])
    assert split(export.classifier_parse_example_spec) == (
        ["feature_columns", "label_key", "label_dtype", "label_default", "weight_column"], [])
    assert split(export.regressor_parse_example_spec) == (
        ["feature_columns", "label_key", "label_dtype", "label_default", "label_dimension", "weight_column"], [])


def test_stop_hook_binds_eval_dir_positionally(tmp_path):
    from types import SimpleNamespace

    from estlab.training.early_stopping import stop_if_no_decrease_hook
    from estlab.training.history import History

    history = History()
    for step, loss in ((1, 0.5), (2, 0.6), (3, 0.7)):
        history.dispatch({"type": "evaluate", "global_step": step, "time": 0.0, "name": "val",
                          "metrics": {"loss": loss}})
    est = SimpleNamespace(history=history, model_dir=str(tmp_path))
    hook = stop_if_no_decrease_hook(est, "loss", 2, str(tmp_path / "eval_val"))  # issue 10: this failed
    assert hook.should_stop() is True and hook.run_every_secs == 60
    assert stop_if_no_decrease_hook(est, "loss", 2, str(tmp_path / "eval")).should_stop() is False


def test_receiver_fns_ignore_default_batch_size_with_one_warning():
    from estlab.estimator.export import (
        build_parsing_serving_input_receiver_fn,
        build_raw_serving_input_receiver_fn,
    )

    with pytest.warns(IgnoredArgumentWarning, match=r"build_raw_serving_input_receiver_fn: ignoring "
                                                    r"default_batch_size \(the batch dimension of an export is "
                                                    r"dynamic\)") as caught:
        receiver = build_raw_serving_input_receiver_fn({"x": "float32"}, 32)()
    assert len(caught) == 1 and [s.name for s in receiver.inputs] == ["x"]
    with pytest.warns(IgnoredArgumentWarning, match="build_parsing_serving_input_receiver_fn: ignoring "
                                                    "default_batch_size"):
        build_parsing_serving_input_receiver_fn({"x": "float32"}, 32)


def test_heads_take_tfs_positional_order():
    from estlab.estimators.heads import BinaryClassHead, MultiClassHead, RegressionHead

    binary = BinaryClassHead("w", None, ["no", "yes"], "sum")
    assert (binary.weight_column, binary.label_vocabulary, binary.loss_reduction) == ("w", ("no", "yes"), "sum")
    multi = MultiClassHead(4, "w", ["a", "b", "c", "d"], "sum")
    assert (multi.n_classes, multi.weight_column, multi.label_vocabulary) == (4, "w", ("a", "b", "c", "d"))
    regression = RegressionHead(2, "w", "sum")
    assert (regression.label_dimension, regression.weight_column, regression.loss_reduction) == (2, "w", "sum")
    thresholded = BinaryClassHead(thresholds=[0.3], name="h")  # TF's threshold metrics (tests/estimators/
    assert (thresholded.thresholds, thresholded.name) == ((0.3,), "h")  # test_heads_tf_args.py)
    with pytest.raises(ValueError, match="loss_fn is not supported by estlab's premade heads"):
        RegressionHead(loss_fn=lambda labels, logits: 0.0)
