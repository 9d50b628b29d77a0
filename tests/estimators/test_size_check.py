"""The model-size check: embedding tables, indicator widths, hash and crossed buckets, linear weights and the
optimizer's state are counted before anything is allocated, against the host's and the CUDA device's memory."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from estlab import feature_column as fc
from estlab.estimators import (
    BaselineClassifier,
    DNNClassifier,
    DNNLinearCombinedClassifier,
    DNNRegressor,
    LinearClassifier,
    size_check,
)
from estlab.estimators.optimizers import resolve_optimizer
from estlab.estimators.size_check import Block, check_blocks, dnn_blocks, linear_blocks, optimizer_slots
from estlab.features import FeatureTransformer
from estlab.training.config import RunConfig

CPU = RunConfig(random_seed=0, tensorboard=False, device="cpu")
HUGE = 10**11  # ids: any table over them is terabytes


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": rng.normal(size=24),
            "c": rng.choice(["a", "b", "c"], 24),
            "d": rng.choice(["u", "v"], 24),
            "y": rng.integers(0, 2, 24),
        }
    )


def _hashed(size: int, key: str = "c"):
    return fc.categorical_column_with_hash_bucket(key, size)


def _no_checkpoint(model_dir: Path) -> bool:
    return not list(model_dir.glob("model.ckpt-*"))


def _refused(est, frame, tmp_path, pattern: str) -> str:
    before = torch.cuda.memory_allocated() if torch.cuda.is_available() else 0
    with pytest.raises(MemoryError, match=pattern) as info:
        est.train(frame, label="y", steps=1)
    assert _no_checkpoint(tmp_path)
    assert (torch.cuda.memory_allocated() if torch.cuda.is_available() else 0) == before
    return str(info.value)


# ------------------------------------------------------------------ refused before allocation, by name


def test_a_huge_embedding_table_is_refused_naming_its_hash_bucket_size(tmp_path, frame):
    est = DNNClassifier(
        [8],
        [fc.numeric_column("x"), fc.embedding_column(_hashed(HUGE), 16)],
        model_dir=str(tmp_path),
        config=CPU,
    )
    message = _refused(
        est,
        frame,
        tmp_path,
        re.escape(
            "DNNClassifier: embedding table 'c_embedding' (hash_bucket_size=100,000,000,000 x dimension 16) makes a "
            "model of 1,600,000,000,"
        ),
    )
    assert re.search(
        r"which needs about 25600\.0 GB to train on the host \(weights, gradients and 2 optimizer "
        r"state value\(s\) per weight at float32; that part is 100% of it\) but only [\d.]+ [GMk]B of "
        r"memory is available; use a smaller hash_bucket_size for 'c' or a smaller embedding "
        r"dimension\.$",
        message,
    ), message


def test_a_huge_embedding_dimension_is_refused(tmp_path, frame):
    vocab = fc.categorical_column_with_vocabulary_list("c", ["a", "b", "c"])
    est = DNNClassifier([8], [fc.embedding_column(vocab, 10**12)], model_dir=str(tmp_path), config=CPU)
    _refused(
        est,
        frame,
        tmp_path,
        re.escape(
            "the embedding 'c_embedding' (dimension 1,000,000,000,000) into "
            "hidden_units[0]=8 makes a model of 11,000,000,000,"
        )
        + r".*use a smaller dimension for 'c_embedding'\.$",
    )


def test_a_wide_indicator_column_is_refused_naming_its_width_and_the_fix(tmp_path, frame):
    est = DNNClassifier([64], [fc.indicator_column(_hashed(HUGE))], model_dir=str(tmp_path), config=CPU)
    _refused(
        est,
        frame,
        tmp_path,
        re.escape(
            "indicator column 'c_indicator' (hash_bucket_size=100,000,000,000: one input per id) into "
            "hidden_units[0]=64 makes a model of"
        )
        + r".*use a smaller hash_bucket_size for 'c', or "
        r"embedding_column\(\.\.\., dimension=8\) instead of indicator_column\.$",
    )


def test_a_crossed_column_in_a_linear_model_is_refused_naming_its_buckets(tmp_path, frame):
    crossed = fc.crossed_column(["c", "d"], HUGE)
    est = LinearClassifier([crossed, fc.numeric_column("x")], model_dir=str(tmp_path), config=CPU)
    _refused(
        est,
        frame,
        tmp_path,
        re.escape(
            "LinearClassifier: linear weights of 'c_X_d' (hash_bucket_size=100,000,000,000 x 1 output(s)) makes a "
            "model of 100,000,000,002 parameters"
        )
        + r".*use a smaller hash_bucket_size for 'c_X_d'\.$",
    )


def test_wide_and_deep_counts_both_parts(tmp_path, frame):
    est = DNNLinearCombinedClassifier(
        linear_feature_columns=[fc.crossed_column(["c", "d"], HUGE)],
        dnn_feature_columns=[fc.numeric_column("x")],
        dnn_hidden_units=[4],
        model_dir=str(tmp_path),
        config=CPU,
    )
    _refused(est, frame, tmp_path, r"DNNLinearCombinedClassifier: linear weights of 'c_X_d'")
    est = DNNLinearCombinedClassifier(
        linear_feature_columns=[fc.numeric_column("x")],
        dnn_feature_columns=[fc.embedding_column(_hashed(HUGE), 4)],
        model_dir=str(tmp_path),
        config=CPU,
    )
    _refused(est, frame, tmp_path, r"DNNLinearCombinedClassifier: embedding table 'c_embedding'")


def test_hidden_units_keep_their_name(tmp_path, frame):
    est = DNNRegressor([10**9], [fc.numeric_column("x")], model_dir=str(tmp_path), config=CPU)
    _refused(
        est,
        frame,
        tmp_path,
        r"^DNNRegressor: hidden_units=\[1000000000\] makes a model of 3,000,000,001 "
        r"parameters, which needs about 48\.0 GB.*use smaller hidden_units\.$",
    )


# ------------------------------------------------------------------ normal models pass, unchanged


@pytest.mark.parametrize(
    "make",
    [
        lambda d: DNNClassifier(
            [8],
            [fc.embedding_column(_hashed(1000), 4), fc.indicator_column(_hashed(50, "d"))],
            model_dir=d,
            config=CPU,
        ),
        lambda d: LinearClassifier(
            [fc.crossed_column(["c", "d"], 1000), fc.numeric_column("x")], model_dir=d, config=CPU
        ),
        lambda d: DNNLinearCombinedClassifier(
            linear_feature_columns=[_hashed(100)],
            dnn_feature_columns=[fc.numeric_column("x")],
            dnn_hidden_units=[4],
            model_dir=d,
            config=CPU,
        ),
        lambda d: BaselineClassifier(model_dir=d, config=CPU),
    ],
)
def test_normal_models_pass_the_check_and_train(tmp_path, frame, make):
    est = make(str(tmp_path))
    est.train(frame, label="y", steps=2)
    assert est.global_step >= 1 and not _no_checkpoint(tmp_path)


def test_the_check_leaves_the_random_state_alone(tmp_path, frame):
    """Measuring the optimizer draws no random numbers: the same seed gives the same weights as without the check."""
    from estlab.estimators.dnn import build_dnn_module

    cols = [fc.embedding_column(_hashed(50), 3), fc.numeric_column("x")]
    transformer = FeatureTransformer(cols).fit(frame)
    torch.manual_seed(7)
    checked = DNNClassifier([4], cols, model_dir=str(tmp_path), config=CPU)._build_module(transformer)
    torch.manual_seed(7)
    unchecked = build_dnn_module(cols, transformer, [4], 1, "relu", None, False)
    assert checked.state_dict().keys() == unchecked.state_dict().keys()
    assert all(torch.equal(v, unchecked.state_dict()[k]) for k, v in checked.state_dict().items())


# ------------------------------------------------------------------ the estimate


@pytest.mark.parametrize(
    ("optimizer", "slots"),
    [
        ("Adam", 2),
        ("Adagrad", 1),
        ("SGD", 0),
        ("RMSProp", 1),
        ("Ftrl", 2),
        (functools.partial(torch.optim.SGD, momentum=0.9), 1),
        (functools.partial(torch.optim.Adam, amsgrad=True), 3),
    ],
)
def test_optimizer_state_is_measured_per_weight(optimizer, slots):
    assert optimizer_slots(resolve_optimizer(optimizer, 0.1)) == slots


def test_an_optimizer_that_cannot_be_measured_counts_as_adam():
    assert optimizer_slots(lambda params: torch.optim.LBFGS(params)) == 2  # its step needs a closure
    assert optimizer_slots(None) == 0


def test_the_optimizer_decides_whether_a_model_fits(tmp_path, frame, monkeypatch):
    cols = [fc.embedding_column(_hashed(250_000), 8)]  # 2,000,000 weights
    monkeypatch.setattr(size_check, "available_memory", lambda: 24_000_000)  # 12 bytes per weight
    adam = DNNClassifier([1], cols, optimizer="Adam", model_dir=str(tmp_path / "adam"), config=CPU)
    with pytest.raises(
        MemoryError,
        match=r"needs about 32\.0 MB to train on the host \(weights, gradients and 2 "
        r"optimizer state value\(s\) per weight.* but only 24\.0 MB",
    ):
        adam.train(frame, label="y", steps=1)
    sgd = DNNClassifier(
        [1], cols, optimizer="SGD", learning_rate=0.1, model_dir=str(tmp_path / "sgd"), config=CPU
    )
    sgd.train(frame, label="y", steps=1)  # weights + gradients: 16 MB
    assert sgd.global_step == 1


def test_blocks_count_every_weight():
    cols = [
        fc.numeric_column("x", shape=2),
        fc.indicator_column(_hashed(10)),
        fc.embedding_column(_hashed(7, "d"), 3),
    ]
    t = FeatureTransformer(cols)
    blocks = dnn_blocks(cols, t, [4, 2], 3, batch_norm=False, slots=1)
    module = DNNClassifier([4, 2], cols, n_classes=3, config=CPU)._build_module(t)
    assert sum(b.parameters for b in blocks) == sum(p.numel() for p in module.parameters())
    assert [b.what for b in blocks] == [
        "embedding table 'd_embedding' (hash_bucket_size=7 x dimension 3)",
        "indicator column 'c_indicator' (hash_bucket_size=10: one input per id) into hidden_units[0]=4",
        "hidden_units=[4, 2]",
    ]
    linear = linear_blocks(cols, t, 3, slots=2)
    module = LinearClassifier(cols, n_classes=3, config=CPU)._build_module(t)
    assert sum(b.parameters for b in linear) == sum(p.numel() for p in module.parameters())


def test_batch_norm_buffers_count_as_weights_only():
    cols = [fc.numeric_column("x")]
    blocks = dnn_blocks(cols, FeatureTransformer(cols), [4], 1, batch_norm=True, slots=2)
    module = DNNClassifier([4], cols, batch_norm=True, config=CPU)._build_module(FeatureTransformer(cols))
    trained = [b for b in blocks if b.trainable]
    assert sum(b.parameters for b in trained) == sum(p.numel() for p in module.parameters())
    assert [b.parameters for b in blocks if not b.trainable] == [8]  # running mean and variance


def test_non_trainable_tables_need_their_weights_only():
    assert Block("t", "", 100, trainable=False).bytes == 400
    assert Block("t", "", 100, slots=2).bytes == 1600
    assert Block("t", "", 100, slots=0).bytes == 800


# ------------------------------------------------------------------ host and CUDA device


def test_on_cuda_the_device_holds_the_training_state_and_the_host_the_weights():
    blocks = [
        Block("hidden_units=[8]", "use smaller hidden_units", 1000, slots=2)
    ]  # 16 kB to train, 4 kB weights
    cuda = torch.device("cuda:0")
    check_blocks(blocks, available={"host": 4000, "cuda:0": 16000}, device=cuda)
    with pytest.raises(
        MemoryError, match=r"needs about 16\.0 kB to train on the device cuda:0 \(weights, gradients"
    ):
        check_blocks(blocks, available={"host": 10**9, "cuda:0": 15999}, device=cuda)
    with pytest.raises(
        MemoryError, match=r"to train on the host \(its weights, built here before moving to cuda:0\)"
    ):
        check_blocks(blocks, available={"host": 3999, "cuda:0": 10**9}, device=cuda)
    with pytest.raises(
        MemoryError, match=r"to train on the host \(weights, gradients"
    ):  # device memory unknown
        check_blocks(blocks, available={"host": 15999}, device=cuda)
    check_blocks(blocks, available={}, device=cuda)  # nothing known: nothing refused


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_model_too_big_for_the_gpu_is_refused_before_allocation(tmp_path, frame):
    free, _ = torch.cuda.mem_get_info()
    ids = int(
        free // 4 // 16 // 2
    )  # training state 2x the free memory; its weights (free / 2) fit on the host
    host = size_check.available_memory()
    if host is None or ids * 16 * 4 > host:
        pytest.skip("the host can't hold the weights of a model bigger than the GPU")
    est = DNNClassifier(
        [4],
        [fc.embedding_column(_hashed(ids), 16)],
        model_dir=str(tmp_path),
        config=RunConfig(random_seed=0, tensorboard=False, device="cuda"),
    )
    _refused(est, frame, tmp_path, r"embedding table 'c_embedding' .* to train on the device cuda")
