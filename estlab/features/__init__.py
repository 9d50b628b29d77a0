"""Feature columns (TF names) and the :class:`FeatureTransformer` that fits and encodes them.

Examples
--------
>>> from estlab import feature_column as fc
>>> cols = [fc.numeric_column("age", normalizer="zscore"),
...         fc.indicator_column(fc.categorical_column_with_learned_vocabulary("education"))]
>>> [c.name for c in cols]
['age', 'education_indicator']

Column specs, ``infer_columns`` and ``FeatureTransformer`` import without torch (``transform`` imports it
when it makes tensors); the torch layers (``DenseFeatures``, ``LinearFeatures``, ...) load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from estlab.features._base import CategoricalColumn, DenseColumn, FeatureColumn
from estlab.features.categorical import (
    HashedColumn,
    IdentityColumn,
    LearnedVocabularyColumn,
    VocabularyFileColumn,
    VocabularyListColumn,
    WeightedCategoricalColumn,
    categorical_column_with_hash_bucket,
    categorical_column_with_identity,
    categorical_column_with_learned_vocabulary,
    categorical_column_with_vocabulary_file,
    categorical_column_with_vocabulary_list,
    weighted_categorical_column,
)
from estlab.features.crossed import CrossedColumn, crossed_column
from estlab.features.dense import (
    EmbeddingColumn,
    IndicatorColumn,
    SharedEmbeddingColumn,
    embedding_column,
    indicator_column,
    shared_embeddings,
)
from estlab.features.errors import FeatureColumnError, MissingColumnError, NotFittedError
from estlab.features.infer import ColumnChoice, InferredColumns, infer_columns
from estlab.features.numeric import BucketizedColumn, NumericColumn, bucketized_column, numeric_column
from estlab.features.shorthands import SHORTHANDS
from estlab.features.transformer import FeatureTransformer

if TYPE_CHECKING:  # type checkers see the lazy names as plain imports
    from estlab.features.layers import (
        DenseFeatures,
        LinearFeatures,
        bind_feature_layers,
        combine_embeddings,
        input_layer,
    )

#: names served lazily from modules that import torch (PEP 562)
_LAZY = {name: "estlab.features.layers" for name in (
    "DenseFeatures", "LinearFeatures", "bind_feature_layers", "combine_embeddings", "input_layer")}

__all__ = [
    "SHORTHANDS",
    "BucketizedColumn",
    "ColumnChoice",
    "InferredColumns",
    "CategoricalColumn",
    "CrossedColumn",
    "DenseColumn",
    "DenseFeatures",
    "EmbeddingColumn",
    "FeatureColumn",
    "FeatureColumnError",
    "FeatureTransformer",
    "HashedColumn",
    "IdentityColumn",
    "IndicatorColumn",
    "LearnedVocabularyColumn",
    "LinearFeatures",
    "bind_feature_layers",
    "MissingColumnError",
    "NotFittedError",
    "NumericColumn",
    "SharedEmbeddingColumn",
    "VocabularyFileColumn",
    "VocabularyListColumn",
    "WeightedCategoricalColumn",
    "bucketized_column",
    "categorical_column_with_hash_bucket",
    "categorical_column_with_identity",
    "categorical_column_with_learned_vocabulary",
    "categorical_column_with_vocabulary_file",
    "categorical_column_with_vocabulary_list",
    "combine_embeddings",
    "crossed_column",
    "embedding_column",
    "indicator_column",
    "infer_columns",
    "input_layer",
    "numeric_column",
    "shared_embeddings",
    "weighted_categorical_column",
]


#: TF's ``tf.feature_column`` names estlab does not have: they feed RNNs through ``SequenceFeatures``, which no
#: premade estimator reads. Asking for one raises an AttributeError saying so and what to use instead.
NOT_IN_ESTLAB = (
    "sequence_categorical_column_with_hash_bucket",
    "sequence_categorical_column_with_identity",
    "sequence_categorical_column_with_vocabulary_file",
    "sequence_categorical_column_with_vocabulary_list",
    "sequence_numeric_column",
)


def missing_name_error(module: str, name: str) -> AttributeError:
    """The AttributeError for ``module.name``, explaining TF's names that estlab does not have.

    Examples
    --------
    >>> str(missing_name_error("estlab.feature_column", "sequence_numeric_column")).split(":")[0]
    "module 'estlab.feature_column' has no attribute 'sequence_numeric_column'"
    """
    if name in NOT_IN_ESTLAB:
        return AttributeError(
            f"module {module!r} has no attribute {name!r}: estlab has no sequence feature columns (TF's "
            "sequence_* columns feed tf.keras.experimental.SequenceFeatures, for RNNs, which no premade estimator "
            "reads). For a fixed number of values per row use numeric_column(key, shape=T); for a list of ids "
            "per row, a categorical column over the list-valued column (multi-valued rows) with indicator_column "
            "or embedding_column (combined per row); or feed the padded sequences to your own module "
            "(Estimator(model_fn=...))."
        )
    return AttributeError(f"module {module!r} has no attribute {name!r}")


def __getattr__(name: str) -> Any:
    """Load the torch layers on first use, so the column specs import without torch."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise missing_name_error("estlab.features", name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
