"""Search spaces and trial generation for sweeps: grid and random search (torch-free, no extra dependency).

In a sweep every keyword is a search dimension: a list gives the values to try (a value that is itself a list,
such as ``hidden_units``, is written as a list of lists), a distribution (:func:`loguniform`, :func:`uniform`,
:func:`randint`) is sampled, and anything else is fixed. A space with only lists and fixed values is searched
as a grid (every combination, or ``trials`` of them drawn at random); a space with a distribution is searched
at random, ``trials`` draws.

Examples
--------
>>> space = {"hidden_units": [[64, 32], [128, 64]], "learning_rate": loguniform(1e-4, 1e-2)}
>>> trials = sample(space, trials=3, seed=0)
>>> len(trials), sorted(trials[0])
(3, ['hidden_units', 'learning_rate'])
>>> grid({"dropout": [0.0, 0.1], "optimizer": "Adam"})
[{'dropout': 0.0, 'optimizer': 'Adam'}, {'dropout': 0.1, 'optimizer': 'Adam'}]
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Distribution:
    """A sampled dimension: ``kind`` is ``"loguniform"``, ``"uniform"`` or ``"randint"`` over ``[low, high]``.

    Examples
    --------
    >>> Distribution("uniform", 0.0, 1.0).sample(random.Random(0)) < 1.0
    True
    """

    kind: str
    low: float
    high: float

    def sample(self, rng: random.Random) -> Any:
        """One value drawn with ``rng``."""
        if self.kind == "loguniform":
            return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        if self.kind == "randint":
            return rng.randint(int(self.low), int(self.high))
        return rng.uniform(self.low, self.high)


def loguniform(low: float, high: float) -> Distribution:
    """Values between ``low`` and ``high`` (both > 0), uniform in log scale (learning rates, regularisation).

    Examples
    --------
    >>> loguniform(1e-4, 1e-2).kind
    'loguniform'
    """
    if not 0 < low < high:
        raise ValueError(f"loguniform: need 0 < low < high, got low={low!r}, high={high!r}")
    return Distribution("loguniform", float(low), float(high))


def uniform(low: float, high: float) -> Distribution:
    """Values between ``low`` and ``high``, uniform.

    Examples
    --------
    >>> uniform(0.0, 0.5).high
    0.5
    """
    if not low < high:
        raise ValueError(f"uniform: need low < high, got low={low!r}, high={high!r}")
    return Distribution("uniform", float(low), float(high))


def randint(low: int, high: int) -> Distribution:
    """Integers from ``low`` to ``high`` inclusive.

    Examples
    --------
    >>> randint(1, 3).sample(random.Random(0)) in (1, 2, 3)
    True
    """
    if not low <= high:
        raise ValueError(f"randint: need low <= high, got low={low!r}, high={high!r}")
    return Distribution("randint", int(low), int(high))


def grid(space: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every combination of the space's lists (fixed values kept), in the order of the keywords.

    Examples
    --------
    >>> grid({"a": [1, 2], "b": [3, 4]})
    [{'a': 1, 'b': 3}, {'a': 1, 'b': 4}, {'a': 2, 'b': 3}, {'a': 2, 'b': 4}]
    """
    sampled = [k for k, v in space.items() if isinstance(v, Distribution)]
    if sampled:
        raise ValueError(f"grid: {sampled} are distributions; a grid needs lists (or use random search)")
    keys = list(space)
    choices = [_choices(k, space[k]) for k in keys]
    return [dict(zip(keys, combo)) for combo in itertools.product(*choices)]


def sample(space: Mapping[str, Any], trials: int, seed: int = 0) -> list[dict[str, Any]]:
    """``trials`` parameter sets drawn at random (lists: a uniform choice; distributions: a draw), no repeats
    while the space has fewer combinations than asked.

    Examples
    --------
    >>> sample({"a": [1, 2]}, trials=2, seed=1) in ([{'a': 1}, {'a': 2}], [{'a': 2}, {'a': 1}])
    True
    """
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials: must be a positive int, got {trials!r}")
    rng = random.Random(seed)
    if not any(isinstance(v, Distribution) for v in space.values()):
        combos = grid(space)
        if trials >= len(combos):
            return combos
        return rng.sample(combos, trials)
    out = []
    for _ in range(trials):
        out.append({k: v.sample(rng) if isinstance(v, Distribution) else rng.choice(_choices(k, v))
                    for k, v in space.items()})
    return out


def trials_of(space: Mapping[str, Any], trials: int | None = None, search: str = "auto",
              seed: int = 0) -> list[dict[str, Any]]:
    """The parameter sets of a sweep: ``search`` is ``"grid"``, ``"random"`` or ``"auto"`` (grid unless the
    space has a distribution or ``trials`` is smaller than the grid).

    Examples
    --------
    >>> len(trials_of({"a": [1, 2, 3], "b": [4, 5]})), len(trials_of({"a": [1, 2, 3], "b": [4, 5]}, trials=4))
    (6, 4)
    """
    if search not in ("auto", "grid", "random"):
        raise ValueError(f"search: must be 'auto', 'grid' or 'random', got {search!r}")
    has_distribution = any(isinstance(v, Distribution) for v in space.values())
    if search == "grid" or (search == "auto" and not has_distribution and trials is None):
        combos = grid(space)
        return combos if trials is None else combos[:trials]
    return sample(space, trials if trials is not None else 10, seed=seed)


def _choices(key: str, value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        if not value:
            raise ValueError(f"{key}: an empty list leaves nothing to try")
        return list(value)
    return [value]
