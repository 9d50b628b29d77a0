"""Small real datasets shipped inside the package, loadable offline.

Each loader returns a :class:`Dataset` (train and test DataFrames plus the label
name and task), which also unpacks as ``train, test = load_adult()``.

Sources and licences are listed in ``estlab/datasets/data/SOURCES.md``.
"""

from estlab.datasets._loaders import Dataset, list_datasets, load, load_adult, load_diamonds, load_penguins

__all__ = ["Dataset", "list_datasets", "load", "load_adult", "load_diamonds", "load_penguins"]
