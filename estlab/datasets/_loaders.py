"""Loaders for the bundled datasets (offline, deterministic splits)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Dataset:
    """A bundled dataset: train/test frames, the label column and the task.

    Examples
    --------
    >>> from estlab.datasets import load_adult
    >>> train, test = load_adult()
    >>> len(train), len(test)
    (32561, 16281)
    """

    name: str
    train: pd.DataFrame
    test: pd.DataFrame
    label: str
    task: str  # "binary" | "multiclass" | "regression"
    description: str
    source: str
    licence: str

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return iter((self.train, self.test))

    @property
    def label_vocabulary(self) -> list[str] | None:
        """Sorted label values for classification sets (``None`` for regression)."""
        if self.task == "regression":
            return None
        return sorted(pd.concat([self.train[self.label], self.test[self.label]]).dropna().unique().tolist())


def _read(filename: str) -> pd.DataFrame:
    with resources.files("estlab.datasets").joinpath("data").joinpath(filename).open("rb") as handle:
        return pd.read_csv(handle, compression="gzip")


def _split(frame: pd.DataFrame, test_fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    n_test = int(round(len(frame) * test_fraction))
    test = frame.iloc[np.sort(order[:n_test])].reset_index(drop=True)
    train = frame.iloc[np.sort(order[n_test:])].reset_index(drop=True)
    return train, test


def load_adult() -> Dataset:
    """UCI Adult census income: the set of TensorFlow's wide-and-deep tutorial.

    32,561 train / 16,281 test rows (the canonical split), 6 numeric and 8 categorical
    columns; label ``income_bracket`` is ``"<=50K"`` or ``">50K"``. Missing values
    (``?`` in the raw files) are NaN.

    Examples
    --------
    >>> ds = load_adult()
    >>> ds.label, ds.label_vocabulary
    ('income_bracket', ['<=50K', '>50K'])
    """
    return Dataset(
        name="adult",
        train=_read("adult_train.csv.gz"),
        test=_read("adult_test.csv.gz"),
        label="income_bracket",
        task="binary",
        description="UCI Adult census income (1994 census): predict income above 50K.",
        source="UCI Machine Learning Repository, Becker & Kohavi (1996); raw adult.data/adult.test",
        licence="CC BY 4.0",
    )


def load_penguins() -> Dataset:
    """Palmer penguins: 3-class species classification (344 rows, 80/20 split, seed 0).

    Examples
    --------
    >>> ds = load_penguins()
    >>> ds.task, ds.label_vocabulary
    ('multiclass', ['Adelie', 'Chinstrap', 'Gentoo'])
    """
    train, test = _split(_read("penguins.csv.gz"), 0.2, seed=0)
    return Dataset(
        name="penguins",
        train=train,
        test=test,
        label="species",
        task="multiclass",
        description="Palmer Archipelago penguins: species from bill, flipper, mass, island and sex.",
        source="palmerpenguins 0.1.6 (Horst, Hill & Gorman 2020; Gorman, Williams & Fraser 2014)",
        licence="CC0 1.0",
    )


def load_diamonds() -> Dataset:
    """Diamonds: regression of ``price`` with categorical cut, color, clarity (53,940 rows, 80/20, seed 0).

    Examples
    --------
    >>> ds = load_diamonds()
    >>> ds.task, ds.label
    ('regression', 'price')
    """
    train, test = _split(_read("diamonds.csv.gz"), 0.2, seed=0)
    return Dataset(
        name="diamonds",
        train=train,
        test=test,
        label="price",
        task="regression",
        description="Prices and attributes of 53,940 round-cut diamonds (ggplot2's diamonds).",
        source="ggplot2 (Wickham), as redistributed in pydataset 0.2.0",
        licence="MIT (ggplot2)",
    )


_LOADERS: dict[str, Callable[[], Dataset]] = {
    "adult": load_adult,
    "penguins": load_penguins,
    "diamonds": load_diamonds,
}


def list_datasets() -> list[str]:
    """Names accepted by :func:`load`.

    Examples
    --------
    >>> list_datasets()
    ['adult', 'diamonds', 'penguins']
    """
    return sorted(_LOADERS)


def load(name: str) -> Dataset:
    """Load a bundled dataset by name (``"adult"``, ``"penguins"``, ``"diamonds"``).

    Examples
    --------
    >>> load("penguins").task
    'multiclass'
    """
    try:
        return _LOADERS[name]()
    except KeyError:
        close = difflib.get_close_matches(str(name), list(_LOADERS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"Unknown dataset name={name!r}; valid names are {list_datasets()}.{hint}"
        ) from None
