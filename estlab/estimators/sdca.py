"""TF's ``tf.estimator.experimental.LinearSDCA``: the regularised optimum of a linear model, solved on the whole input.

TF's SDCA (stochastic dual coordinate ascent) trains ``LinearClassifier`` (binary, logistic loss) and
``LinearRegressor`` (one label, squared loss) towards the minimum over all training examples of

    P(w) = [ sum_i c_i * loss(y_i, x_i . w) + l1 * |w|_1 + l2 / 2 * |w|_2^2 ] / sum_i c_i

where ``c_i`` are the example weights (1 without ``weight_column``), ``w`` holds every weight of the linear model
*including the bias* (SDCA treats the bias as one more dense feature, so it is regularised too), the squared loss is
``(y - z)^2 / 2`` and the logistic loss ``log(1 + exp(z)) - y z`` for labels 0/1 (TF's ``sdca_ops`` regularized_loss;
``l1``/``l2`` are ``symmetric_l1_regularization``/``symmetric_l2_regularization``). Each TF ``train`` step is one SDCA
pass over a batch, its dual variables kept per ``example_id_column`` value, and the duality gap closes as steps go on.

estlab reaches that optimum directly: a model trained with ``optimizer=LinearSDCA(...)`` is a full-batch learner
(like the baselines and boosted trees) whose one ``train`` call builds the model's design matrix (one column per
weight, exactly what the linear layer multiplies) and minimises ``P`` in float64 with L-BFGS-B (scipy); an L1 term is
handled by splitting ``w = u - v`` with ``u, v >= 0``, so weights the L1 term removes are exactly 0. A second ``train``
call solves again from the current weights (the same optimum on the same data). ``num_loss_partitions``,
``num_table_shards`` and ``adaptive`` tune TF's distributed solver and its sampling; they do not change the optimum and
are ignored with an ``IgnoredArgumentWarning``. ``example_id_column`` must be a column of the training input, as in
TF; estlab treats each row as one example (keep ids unique, as TF requires).

Examples
--------
>>> sdca = LinearSDCA("example_id", symmetric_l2_regularization=2.0)
>>> sdca.symmetric_l1_regularization, sdca.symmetric_l2_regularization
(0.0, 2.0)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from estlab._util import warn_ignored_arguments

logger = logging.getLogger(__name__)

#: TF's ``loss_type`` per estlab head task.
LOSS_TYPES: dict[str, str] = {"binary": "logistic_loss", "regression": "squared_loss"}

#: L-BFGS-B stops when every (projected) gradient entry of the normalised objective is below this.
GRADIENT_TOLERANCE = 1e-11
#: the most L-BFGS-B iterations one ``train`` call runs.
MAX_ITERATIONS = 20_000


class LinearSDCA:
    """Stochastic Dual Coordinate Ascent settings for ``LinearClassifier`` / ``LinearRegressor`` (TF's
    ``tf.estimator.experimental.LinearSDCA``), passed as their ``optimizer``.

    estlab minimises the objective SDCA converges to (see :mod:`estlab.estimators.sdca`) on the whole training input
    in one ``train`` call.

    Parameters
    ----------
    example_id_column : str
        The training input's column of example ids (TF keeps one dual variable per id). It must be present when
        training; evaluation and prediction do not read it.
    num_loss_partitions : int
        TF's number of concurrent SDCA workers; ignored (one solver), warns when not 1.
    num_table_shards : int, optional
        Shards of TF's dual-state table; ignored, warns when given.
    symmetric_l1_regularization : float
        ``l1 >= 0``: the L1 penalty on every weight and the bias.
    symmetric_l2_regularization : float
        ``l2 > 0``: the L2 penalty ``l2 / 2 * |w|^2`` on every weight and the bias.
    adaptive : bool
        TF's adaptive example sampling (a speed-up of its solver); ignored, warns when True.

    Examples
    --------
    >>> from estlab import feature_column as fc
    >>> from estlab.estimators.linear import LinearRegressor
    >>> est = LinearRegressor([fc.numeric_column("x")], optimizer=LinearSDCA("id", symmetric_l2_regularization=1.0))
    >>> est.trains_full_batch
    True
    """

    def __init__(
        self,
        example_id_column: str,
        num_loss_partitions: int = 1,
        num_table_shards: int | None = None,
        symmetric_l1_regularization: float = 0.0,
        symmetric_l2_regularization: float = 1.0,
        adaptive: bool = False,
    ) -> None:
        if not isinstance(example_id_column, str) or not example_id_column:
            raise ValueError(
                f"LinearSDCA: example_id_column must be the name of the input column holding example "
                f"ids (a non-empty str); received {example_id_column!r}."
            )
        l1, l2 = symmetric_l1_regularization, symmetric_l2_regularization
        if isinstance(l2, bool) or not isinstance(l2, int | float) or not l2 > 0 or not np.isfinite(l2):
            raise ValueError(
                f"symmetric_l2_regularization should be positive; received {l2!r}. SDCA needs an L2 "
                "term; TF recommends a value of the order of the training examples' average L2 norm."
            )
        if isinstance(l1, bool) or not isinstance(l1, int | float) or not l1 >= 0 or not np.isfinite(l1):
            raise ValueError(f"symmetric_l1_regularization should be non-negative; received {l1!r}.")
        if (
            isinstance(num_loss_partitions, bool)
            or not isinstance(num_loss_partitions, int)
            or num_loss_partitions < 1
        ):
            raise ValueError(
                f"LinearSDCA: num_loss_partitions must be a positive int; received {num_loss_partitions!r}."
            )
        if num_table_shards is not None and (
            isinstance(num_table_shards, bool)
            or not isinstance(num_table_shards, int)
            or num_table_shards < 1
        ):
            raise ValueError(
                f"LinearSDCA: num_table_shards must be None or a positive int; received {num_table_shards!r}."
            )
        if not isinstance(adaptive, bool):
            raise ValueError(f"LinearSDCA: adaptive must be True or False; received {adaptive!r}.")
        warn_ignored_arguments(
            "LinearSDCA",
            {
                "num_loss_partitions": num_loss_partitions if num_loss_partitions != 1 else None,
                "num_table_shards": num_table_shards,
                "adaptive": True if adaptive else None,
            },
            why="it tunes TF's distributed solver; estlab solves for the same optimum on the whole input",
        )
        if l2 <= 1.0:  # as TF's _SDCAModel
            logger.info(
                "symmetric_l2_regularization for SDCA should typically be larger than for online "
                "optimization methods. Recommended value is of the order of the average L2 norm of the "
                "training examples."
            )
        self.example_id_column = example_id_column
        self.num_loss_partitions = num_loss_partitions
        self.num_table_shards = num_table_shards
        self.symmetric_l1_regularization = float(l1)
        self.symmetric_l2_regularization = float(l2)
        self.adaptive = adaptive

    def __repr__(self) -> str:
        return (
            f"LinearSDCA(example_id_column={self.example_id_column!r}, "
            f"symmetric_l1_regularization={self.symmetric_l1_regularization!r}, "
            f"symmetric_l2_regularization={self.symmetric_l2_regularization!r})"
        )


def check_sdca_estimator(
    estimator_name: str, head: Any, columns: list, sparse_combiner: str, learning_rate: Any
) -> None:
    """Raise TF's errors for a linear estimator that cannot use ``LinearSDCA`` (and estlab's, naming the fix).

    ``head`` is the estimator's head: a binary ``BinaryClassHead`` (logistic loss) or a one-label
    ``RegressionHead`` (squared loss) train with SDCA.

    Examples
    --------
    >>> from estlab.estimators.heads import make_head
    >>> check_sdca_estimator("LinearClassifier", make_head(3), [], "sum", None)
    Traceback (most recent call last):
    ...
    ValueError: LinearSDCA cannot be used in a multi-class setting.
    """
    from estlab.estimators.heads import BinaryClassHead, RegressionHead

    if sparse_combiner != "sum":
        raise ValueError('sparse_combiner must be "sum" when optimizer is a LinearSDCA object.')
    if head.task == "multiclass":
        raise ValueError("LinearSDCA cannot be used in a multi-class setting.")
    if type(head) is RegressionHead and head.logits_dimension > 1:
        raise ValueError("LinearSDCA can only be used with one-dimensional label.")
    if type(head) not in (BinaryClassHead, RegressionHead):
        raise ValueError(
            f"Unsupported head type: {type(head).__name__}; LinearSDCA trains a BinaryClassHead (logistic loss) "
            "or a RegressionHead (squared loss). Use a gradient optimizer (e.g. 'Ftrl') with this head."
        )
    if learning_rate is not None:
        raise ValueError(
            f"{estimator_name}: learning_rate={learning_rate!r} cannot be combined with "
            "optimizer=LinearSDCA(...), which has no learning rate; remove learning_rate."
        )
    for column in columns:
        if getattr(column, "layer_role", None) not in ("ids", "values"):
            raise ValueError(
                f"LinearSDCA does not support column type {type(column).__name__} (column "
                f"{getattr(column, 'name', column)!r}); use its categorical column or an "
                "indicator_column instead."
            )


@dataclass
class SDCAResult:
    """What one solve reached: the objective ``P`` (normalised by the weight total), iterations, exact zeros."""

    objective: float
    iterations: int
    converged: bool
    zero_weights: int


def design_matrix(module: nn.Module, encoded: dict[str, torch.Tensor]) -> tuple[Any, list[nn.Parameter]]:
    """The sparse float64 matrix ``X`` with ``module(encoded) == X @ w`` and the parameters ``w`` stacks.

    ``module`` is a single-output ``estlab.features.LinearFeatures`` with a bias; the columns of ``X`` follow its
    weight tables (one per feature column, in its order) then the bias. Negative ids (out of vocabulary, padding)
    get no weight and repeated ids of one row add up, as TF's SDCA prunes and merges them.

    Examples
    --------
    >>> from estlab.features import LinearFeatures, categorical_column_with_identity, numeric_column
    >>> lin = LinearFeatures([numeric_column("x"), categorical_column_with_identity("h", 3)])
    >>> x, params = design_matrix(lin, lin.transformer.transform({"x": [2.0, 5.0], "h": [1, 2]}))
    >>> x.toarray().tolist()  # h's 3 ids (columns sorted by name), x, bias
    [[0.0, 1.0, 0.0, 2.0, 1.0], [0.0, 0.0, 1.0, 5.0, 1.0]]
    """
    from scipy import sparse

    from estlab.features import LinearFeatures

    if not isinstance(module, LinearFeatures) or module.units != 1:
        raise ValueError(f"LinearSDCA trains a single-output linear model; received {type(module).__name__}.")
    transformer = module.transformer
    if transformer is None:
        raise ValueError("LinearSDCA: the linear model has no fitted feature transformer yet.")
    fitted = transformer._fitted
    n = next(iter(encoded.values())).shape[0]
    columns = list(module.feature_columns)
    tables = list(module.weights.values())
    if len(columns) != len(tables) or module.bias is None:
        raise ValueError(
            "LinearSDCA: the linear model must have one weight table per feature column and a bias."
        )
    blocks = []
    params: list[nn.Parameter] = []
    for column, table in zip(columns, tables, strict=True):
        key = transformer.encoded_key(column)
        rows = table.shape[0]
        if column.layer_role == "ids":
            ids = encoded[key] if encoded[key].dim() == 2 else encoded[key].reshape(n, -1)
            ids = column.leaf.tensor_stage(ids, fitted).detach().cpu().numpy().astype(np.int64)
            weights = encoded.get(key + "/weights")
            values = (
                np.ones(ids.shape, dtype=np.float64)
                if weights is None
                else weights.detach().cpu().double().numpy().reshape(ids.shape)
            )
            keep = ids >= 0
            row_of = np.broadcast_to(np.arange(n)[:, None], ids.shape)
            block = sparse.csr_matrix((values[keep], (row_of[keep], ids[keep])), shape=(n, rows))
            block.sum_duplicates()
        else:  # "values": the column's dense values, one weight each
            value = column.leaf.tensor_stage(encoded[key], fitted).reshape(n, -1)
            block = sparse.csr_matrix(value.detach().cpu().double().numpy())
            if block.shape[1] != rows:
                raise ValueError(
                    f"LinearSDCA: column {column.name!r} gives {block.shape[1]} values per row for "
                    f"{rows} weights."
                )
        blocks.append(block)
        params.append(table)
    blocks.append(sparse.csr_matrix(np.ones((n, 1))))
    params.append(module.bias)
    return sparse.hstack(blocks, format="csr"), params


def solve_sdca_objective(
    x: Any, labels: np.ndarray, weights: np.ndarray, loss_type: str, l1: float, l2: float, start: np.ndarray
) -> tuple[np.ndarray, SDCAResult]:
    """Minimise TF's SDCA objective ``P(w)`` (module docstring) over ``w`` for the design matrix ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0], [1.0]])
    >>> w, result = solve_sdca_objective(x, np.array([1.0, 3.0]), np.ones(2), "squared_loss", 0.0, 2.0, np.zeros(1))
    >>> round(float(w[0]), 6)  # (1 + 3) / (2 + 2)
    1.0
    """
    from scipy.optimize import Bounds, minimize

    y = np.asarray(labels, dtype=np.float64)
    c = np.asarray(weights, dtype=np.float64)
    total = float(c.sum())
    p = x.shape[1]

    def smooth(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w
        if loss_type == "logistic_loss":
            loss = np.logaddexp(0.0, z) - y * z
            slope = 0.5 * (1.0 + np.tanh(0.5 * z)) - y  # sigmoid(z) - y, stable for large |z|
        else:
            residual = z - y
            loss = 0.5 * residual * residual
            slope = residual
        value = (float(c @ loss) + 0.5 * l2 * float(w @ w)) / total
        grad = (x.T @ (c * slope) + l2 * w) / total
        return value, grad

    options = {"maxiter": MAX_ITERATIONS, "gtol": GRADIENT_TOLERANCE, "ftol": 0.0, "maxcor": 20}
    if l1 == 0.0:
        result = minimize(smooth, np.asarray(start, np.float64), jac=True, method="L-BFGS-B", options=options)
        w = result.x
    else:

        def split(uv: np.ndarray) -> tuple[float, np.ndarray]:
            u, v = uv[:p], uv[p:]
            value, grad = smooth(u - v)
            penalty = l1 / total
            return value + penalty * float(uv.sum()), np.concatenate([grad + penalty, penalty - grad])

        uv0 = np.concatenate([np.maximum(start, 0.0), np.maximum(-start, 0.0)])
        result = minimize(
            split, uv0, jac=True, method="L-BFGS-B", bounds=Bounds(0.0, np.inf), options=options
        )
        w = result.x[:p] - result.x[p:]
    objective = smooth(w)[0] + l1 * float(np.abs(w).sum()) / total
    return w, SDCAResult(objective, int(result.nit), bool(result.success), int((w == 0.0).sum()))


def fit_linear_sdca(
    module: nn.Module,
    encoded: dict[str, torch.Tensor],
    labels: torch.Tensor,
    weights: torch.Tensor | None,
    task: str,
    sdca: LinearSDCA,
) -> SDCAResult:
    """Set ``module``'s weights (a ``LinearFeatures``) to the minimum of TF's SDCA objective on this input.

    ``task`` is the head's (``"binary"`` or ``"regression"``); ``labels`` are class ids 0/1 or values ``(N, 1)``.

    Examples
    --------
    >>> import torch
    >>> from estlab.features import LinearFeatures, numeric_column
    >>> lin = LinearFeatures([numeric_column("x")])
    >>> encoded = lin.transformer.transform({"x": [1.0, 2.0, 3.0]})
    >>> fit_linear_sdca(lin, encoded, torch.tensor([[2.0], [4.0], [6.0]]), None, "regression",
    ...                 LinearSDCA("id", symmetric_l2_regularization=1e-6)).converged
    True
    >>> round(lin.weights["x"].item(), 3), round(lin.bias.item(), 3)
    (2.0, 0.0)
    """
    try:
        import scipy  # noqa: F401
    except ImportError as error:
        raise ImportError(
            "optimizer=LinearSDCA(...) solves with scipy; install it with "
            "`pip install 'estlab[sdca]'` (or `pip install scipy`)."
        ) from error
    if task not in LOSS_TYPES:
        raise ValueError(
            f"LinearSDCA supports binary classification and one-label regression; this head's task is "
            f"{task!r}."
        )
    x, params = design_matrix(module, encoded)
    n = x.shape[0]
    if n == 0:
        raise ValueError("LinearSDCA: the training input has no rows.")
    y = labels.detach().cpu().double().reshape(n, -1)[:, 0].numpy()
    c = np.ones(n) if weights is None else weights.detach().cpu().double().reshape(-1).numpy()
    if not np.isfinite(c).all() or (c < 0).any():
        raise ValueError(
            "weight_column: LinearSDCA needs finite, non-negative example weights; found "
            f"{int((~np.isfinite(c) | (c < 0)).sum())} that are not."
        )
    if c.sum() <= 0:
        raise ValueError(
            "weight_column: all example weights are 0; LinearSDCA needs a positive total weight."
        )
    start = np.concatenate([p.detach().cpu().double().reshape(-1).numpy() for p in params])
    w, result = solve_sdca_objective(
        x, y, c, LOSS_TYPES[task], sdca.symmetric_l1_regularization, sdca.symmetric_l2_regularization, start
    )
    if not result.converged:
        logger.warning(
            "LinearSDCA: L-BFGS-B stopped after %d iterations before the gradient tolerance %g; the "
            "weights are the best reached (objective %.10g)",
            result.iterations,
            GRADIENT_TOLERANCE,
            result.objective,
        )
    offset = 0
    with torch.no_grad():
        for param in params:
            size = param.numel()
            param.copy_(torch.from_numpy(w[offset : offset + size]).reshape(param.shape).to(param.dtype))
            offset += size
        expected = torch.from_numpy(x @ w)
        got = module(encoded).detach().cpu().double().reshape(-1)
    scale = 1.0 + float(expected.abs().max())
    if not torch.allclose(
        got, expected, rtol=1e-4, atol=1e-4 * scale
    ):  # the matrix must be what the model computes
        raise RuntimeError(
            "LinearSDCA: the design matrix does not reproduce the linear model's outputs (largest "
            f"difference {float((got - expected).abs().max()):.3g}); please report this with the "
            "feature columns used."
        )
    return result
