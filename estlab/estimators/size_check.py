"""The model-size check: refuse, before anything is allocated, a model whose training state can't fit in memory.

A premade estimator describes its parameters as :class:`Block` s before it builds its module: embedding tables
(ids x dimension), linear weights (ids or width x logits), the DNN's layers (an indicator column's width feeds
the first layer), each with the state its optimizer keeps per weight (measured by :func:`optimizer_slots`:
Adam 2, Adagrad 1, SGD 0 ...). :func:`check_blocks` adds them up (weights + gradients + optimizer state at
float32) and compares the total with the memory free where the model trains: the host's available memory, and on
CUDA the device's free memory for the training state (the module is built on the host first, so the host must
hold its weights). A model too big raises ``MemoryError`` naming the part that dominates (a column's
``hash_bucket_size``, an embedding ``dimension``, ``hidden_units``), the estimate, the memory available and the fix.

Examples
--------
>>> blocks = [Block("hidden_units=[8]", "use smaller hidden_units", 100, slots=2)]
>>> check_blocks(blocks, available={"host": 2**20})
>>> training_bytes(blocks)
1600
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

#: bytes of one float32 value
FLOAT_BYTES = 4
#: optimizer state values per weight assumed when the optimizer can't be measured (Adam's two moments)
ASSUMED_SLOTS = 2
#: bytes per parameter while training with two optimizer slots: weights, gradients, Adam's two moments
TRAINING_BYTES_PER_PARAMETER = FLOAT_BYTES * (2 + ASSUMED_SLOTS)
#: elements of the throwaway parameter :func:`optimizer_slots` steps once (odd, so no scalar state matches it)
_PROBE_NUMEL = 7


@dataclass(frozen=True)
class Block:
    """One part of a model's parameters: what it is, how to make it smaller, and its size.

    ``what`` names the parameter or column that makes the part (``"hidden_units=[64]"``,
    ``"embedding table 'c_embedding' (hash_bucket_size=1,000 x dimension 8)"``); ``fix`` says what to change;
    ``slots`` is the optimizer state kept per weight (0 for weights no optimizer updates).

    Examples
    --------
    >>> Block("bias", "", 3, slots=2).bytes
    48
    """

    what: str
    fix: str
    parameters: int
    trainable: bool = True
    slots: int = ASSUMED_SLOTS

    @property
    def bytes(self) -> int:
        """Bytes to train it: weights, plus gradients and optimizer state when trainable."""
        per = FLOAT_BYTES * (2 + self.slots) if self.trainable else FLOAT_BYTES
        return int(self.parameters) * per


def training_bytes(blocks: Iterable[Block]) -> int:
    """Bytes the blocks need while training (weights, gradients and optimizer state at float32).

    Examples
    --------
    >>> training_bytes([Block("a", "", 10, slots=0), Block("b", "", 10, trainable=False)])
    120
    """
    return sum(b.bytes for b in blocks)


def available_memory() -> int | None:
    """Bytes of host memory this process can still allocate (Linux ``MemAvailable``, else psutil), or None.

    Examples
    --------
    >>> available_memory() is None or available_memory() > 0
    True
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        psutil = importlib.import_module("psutil")  # optional (no stubs): other platforms
    except ImportError:
        return None
    return int(psutil.virtual_memory().available)


def device_free_memory(device: torch.device) -> int | None:
    """Free bytes on a CUDA ``device`` (``torch.cuda.mem_get_info``), None for other devices or when unknown.

    Examples
    --------
    >>> device_free_memory(torch.device("cpu")) is None
    True
    """
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    try:
        free, _total = torch.cuda.mem_get_info(device)
    except (RuntimeError, AssertionError):
        return None
    return int(free)


def optimizer_slots(factory: Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer] | None) -> int:
    """State values an optimizer keeps per weight (Adam 2, Adagrad 1, plain SGD 0), measured on a throwaway weight.

    The factory builds an optimizer over one small parameter that takes one step with a zero gradient; the
    state tensors it then holds, per element, are the count. ``None`` (no optimizer) is 0; an optimizer that
    can't be stepped this way counts as :data:`ASSUMED_SLOTS`.

    Examples
    --------
    >>> optimizer_slots(lambda p: torch.optim.Adam(p)), optimizer_slots(lambda p: torch.optim.SGD(p, lr=0.1))
    (2, 0)
    """
    if factory is None:
        return 0
    weight = torch.nn.Parameter(torch.zeros(_PROBE_NUMEL))
    try:
        optimizer = factory([weight])
        weight.grad = torch.zeros_like(weight)
        optimizer.step()
    except Exception:  # noqa: BLE001 - any optimizer that needs more (a closure, param groups) is assumed Adam-like
        return ASSUMED_SLOTS
    state = optimizer.state.get(weight, {})
    return sum(
        t.numel() // _PROBE_NUMEL
        for t in state.values()
        if isinstance(t, torch.Tensor) and t.numel() >= _PROBE_NUMEL and t.numel() % _PROBE_NUMEL == 0
    )


# ------------------------------------------------------------------ describing columns


def _categorical_leaf(column: Any) -> Any:
    """The categorical column whose ids a dense or weighted column reads (itself for a plain one)."""
    while hasattr(column, "categorical_column"):
        column = column.categorical_column
    return column


def _ids(column: Any, n: int) -> tuple[str, str]:
    """``(what makes the ids, the parameter to lower)`` of a categorical column with ``n`` ids."""
    leaf = _categorical_leaf(column)
    if hasattr(leaf, "hash_bucket_size"):
        return f"hash_bucket_size={n:,}", "hash_bucket_size"
    if hasattr(leaf, "num_buckets"):
        return f"num_buckets={n:,}", "num_buckets"
    if hasattr(leaf, "num_oov_buckets"):
        return f"a vocabulary of {n:,} ids", "vocabulary (max_tokens, num_oov_buckets)"
    if hasattr(leaf, "boundaries"):
        return f"{n:,} buckets", "number of boundaries"
    return f"{n:,} ids", "number of ids"


def _key(column: Any) -> str:
    leaf = _categorical_leaf(column)
    return str(getattr(leaf, "key", None) or leaf.name)


def embedding_blocks(columns: Sequence[Any], transformer: Any, slots: int) -> list[Block]:
    """One block per embedding table the columns create (a shared table once): ids x dimension.

    Examples
    --------
    >>> from estlab.features import FeatureTransformer, categorical_column_with_hash_bucket, embedding_column
    >>> col = embedding_column(categorical_column_with_hash_bucket("c", 1000), 8)
    >>> [(b.what, b.parameters) for b in embedding_blocks([col], FeatureTransformer([col]), 2)]
    [("embedding table 'c_embedding' (hash_bucket_size=1,000 x dimension 8)", 8000)]
    """
    blocks, seen = [], set()
    for c in columns:
        if getattr(c, "layer_role", None) != "table" or c.table_name in seen:
            continue
        seen.add(c.table_name)
        n = int(transformer.num_buckets(c.leaf))
        ids, parameter = _ids(c, n)
        trainable = bool(getattr(c, "trainable", True))
        blocks.append(
            Block(
                f"embedding table {c.table_name!r} ({ids} x dimension {c.dimension})",
                f"use a smaller {parameter} for {_key(c)!r} or a smaller embedding dimension",
                n * int(c.dimension),
                trainable=trainable,
                slots=slots if trainable else 0,
            )
        )
    return blocks


def linear_blocks(
    columns: Sequence[Any], transformer: Any, units: int, slots: int, parameter: str = "feature_columns"
) -> list[Block]:
    """Blocks of TF's ``linear_model`` (``LinearFeatures``): a weight row per id or per input value, x ``units``.

    Examples
    --------
    >>> from estlab.features import FeatureTransformer, categorical_column_with_identity, numeric_column
    >>> cols = [numeric_column("x"), categorical_column_with_identity("h", 100)]
    >>> [b.parameters for b in linear_blocks(cols, FeatureTransformer(cols), 1, 0)]
    [1, 100, 1]
    """
    blocks = embedding_blocks(columns, transformer, slots)
    for c in columns:
        if c.layer_role == "ids":
            n = int(transformer.num_buckets(c))
            ids, what = _ids(c, n)
            blocks.append(
                Block(
                    f"linear weights of {c.name!r} ({ids} x {units} output(s))",
                    f"use a smaller {what} for {_key(c)!r}",
                    n * units,
                    slots=slots,
                )
            )
        else:
            width = int(transformer.column_width(c))
            blocks.append(
                Block(
                    f"linear weights of {c.name!r} (width {width:,} x {units} output(s))",
                    f"use fewer values in {c.name!r}",
                    width * units,
                    slots=slots,
                )
            )
    blocks.append(Block("the linear bias", f"use fewer {parameter}", units, slots=slots))
    return blocks


def dnn_blocks(
    columns: Sequence[Any],
    transformer: Any,
    hidden_units: Sequence[int],
    logits_dimension: int,
    batch_norm: bool,
    slots: int,
    parameter: str = "hidden_units",
) -> list[Block]:
    """Blocks of a ``DenseFeatures`` + MLP network: embedding tables, the first layer's weights per input column
    that is wider than the layer (an indicator column's width is its number of ids), and the layers.

    The first layer's weights of a column wider than ``hidden_units[0]`` are that column's block (its width is
    the problem); all other layer weights are ``parameter``'s.

    Examples
    --------
    >>> from estlab.features import FeatureTransformer, numeric_column
    >>> cols = [numeric_column("x", shape=3)]
    >>> [(b.what, b.parameters) for b in dnn_blocks(cols, FeatureTransformer(cols), [4], 1, False, 2)]
    [('hidden_units=[4]', 21)]
    """
    from estlab.features import DenseColumn

    units = [int(u) for u in hidden_units]
    columns = [c for c in columns if isinstance(c, DenseColumn)]  # DenseFeatures refuses the others, by name
    blocks = embedding_blocks(columns, transformer, slots)
    first = units[0]
    rest = 0
    for c in columns:
        width = int(transformer.column_width(c))
        if width <= first:
            rest += width * first
            continue
        if c.layer_role == "ids":
            ids, what = _ids(c, int(transformer.num_buckets(c)))
            blocks.append(
                Block(
                    f"indicator column {c.name!r} ({ids}: one input per id) into {parameter}[0]={first}",
                    f"use a smaller {what} for {_key(c)!r}, or embedding_column(..., dimension=8) "
                    "instead of indicator_column",
                    width * first,
                    slots=slots,
                )
            )
        elif c.layer_role == "table":
            blocks.append(
                Block(
                    f"the embedding {c.name!r} (dimension {width:,}) into {parameter}[0]={first}",
                    f"use a smaller dimension for {c.name!r}",
                    width * first,
                    slots=slots,
                )
            )
        else:
            blocks.append(
                Block(
                    f"the input {c.name!r} (width {width:,}) into {parameter}[0]={first}",
                    f"use fewer values in {c.name!r} or smaller {parameter}",
                    width * first,
                    slots=slots,
                )
            )
    widths = [*units, int(logits_dimension)]
    rest += first + sum(
        (a + 1) * b for a, b in zip(widths, widths[1:])
    )  # the first layer's bias, later layers
    norm = 2 * sum(units) if batch_norm else 0
    blocks.append(Block(f"{parameter}={units!r}", f"use smaller {parameter}", rest + norm, slots=slots))
    if norm:  # batch norm's running mean and variance: buffers, not trained
        blocks.append(Block(f"{parameter}={units!r}", f"use smaller {parameter}", norm, trainable=False))
    return blocks


# ------------------------------------------------------------------ the check


def _size(n: float) -> str:
    """Bytes in words: GB from 1 GB on (one decimal), else MB or kB.

    Examples
    --------
    >>> _size(2.5e10), _size(3.2e7), _size(16000)
    ('25.0 GB', '32.0 MB', '16.0 kB')
    """
    for unit, scale in (("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n / 1e3:.1f} kB"


def memory_available(device: torch.device) -> dict[str, int]:
    """Memory to check against: ``{"host": bytes}`` and, on CUDA, ``{str(device): free bytes}`` (unknown: absent).

    Examples
    --------
    >>> set(memory_available(torch.device("cpu"))) <= {"host"}
    True
    """
    out: dict[str, int] = {}
    host = available_memory()
    if host is not None:
        out["host"] = host
    free = device_free_memory(device)
    if free is not None:
        out[str(device)] = free
    return out


def check_blocks(
    blocks: Sequence[Block],
    available: Mapping[str, int] | None = None,
    device: torch.device | None = None,
    who: str = "",
) -> None:
    """Raise ``MemoryError`` when the blocks can't train in ``available`` memory (default: what is free now).

    On the host the whole training state is needed unless ``available`` also names the device the model
    trains on (``"cuda:0"``): then that device needs the training state and the host the weights (the module
    is built there first). The error names the largest block (what dominates), the estimate, the memory
    available and the fix.

    Examples
    --------
    >>> check_blocks([Block("hidden_units=[10]", "use smaller hidden_units", 10**9, slots=2)],
    ...              available={"host": 2**30})
    Traceback (most recent call last):
    ...
    MemoryError: hidden_units=[10] makes a model of 1,000,000,000 parameters, which needs about 16.0 GB to train on the host (weights, gradients and 2 optimizer state value(s) per weight at float32) but only 1.1 GB of memory is available; use smaller hidden_units.
    """
    device = device if device is not None else torch.device("cpu")
    available = memory_available(device) if available is None else dict(available)
    total = sum(int(b.parameters) for b in blocks)
    weights = total * FLOAT_BYTES
    needed = training_bytes(blocks)
    where = str(device) if str(device) in available and device.type == "cuda" else "host"
    checks = [(where, needed)] + ([("host", weights)] if where != "host" else [])
    for place, need in checks:
        have = available.get(place)
        if have is None or need <= have:
            continue
        top = max(blocks, key=lambda b: b.bytes)
        share = 100.0 * top.bytes / max(needed, 1)
        slots = sorted({b.slots for b in blocks if b.trainable})
        state = "/".join(str(s) for s in slots) if slots else "0"
        cost = (
            "weights, gradients and " + f"{state} optimizer state value(s) per weight at float32"
            if place != "host" or where == "host"
            else "its weights, built here before moving to " + where
        )
        part = "" if len(blocks) == 1 else f"; that part is {share:.0f}% of it"
        prefix = f"{who}: " if who else ""
        raise MemoryError(
            f"{prefix}{top.what} makes a model of {total:,} parameters, which needs about {_size(need)} to train on "
            f"the {place if place == 'host' else 'device ' + place} ({cost}{part}) but only {_size(have)} of memory "
            f"is available; {top.fix}."
        )


def check_model_size(n_parameters: int, parameter: str, value: Any, available: int | None = None) -> None:
    """Refuse a model of ``n_parameters`` (all from ``parameter=value``) that can't train in host memory.

    The estimate is ``n_parameters * TRAINING_BYTES_PER_PARAMETER`` (weights, gradients, two optimizer slots).

    Examples
    --------
    >>> check_model_size(10**6, "hidden_units", [1000], available=2**30)
    >>> check_model_size(10**9, "hidden_units", [10**9], available=2**30)
    Traceback (most recent call last):
    ...
    MemoryError: hidden_units=[1000000000] makes a model of 1,000,000,000 parameters, which needs about 16.0 GB to train on the host (weights, gradients and 2 optimizer state value(s) per weight at float32) but only 1.1 GB of memory is available; use smaller hidden_units.
    """
    host = available_memory() if available is None else available
    check_blocks(
        [Block(f"{parameter}={value!r}", f"use smaller {parameter}", int(n_parameters))],
        available={} if host is None else {"host": host},
    )


__all__ = [
    "ASSUMED_SLOTS",
    "TRAINING_BYTES_PER_PARAMETER",
    "Block",
    "available_memory",
    "check_blocks",
    "check_model_size",
    "dnn_blocks",
    "embedding_blocks",
    "linear_blocks",
    "memory_available",
    "optimizer_slots",
    "training_bytes",
]
