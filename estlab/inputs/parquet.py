"""Stream training data larger than memory from parquet, one row group at a time.

:func:`parquet_input_fn` returns a :class:`StreamingInput`. Unlike ``pandas_input_fn`` it is never
materialised: it reads one parquet row group (a "piece") at a time through ``pyarrow.dataset``, so
memory is bounded by the largest row group plus one batch, whatever the size of the files.

* Calling it yields raw ``(features DataFrame, labels Series)`` batches, as TF's ``input_fn`` did.
* :meth:`StreamingInput.chunks` yields whole row groups cut at batch boundaries, so a training loop
  transforms each chunk once (vectorised) and then batches it by index.
* :meth:`StreamingInput.iter_frames` (one pass, for ``FeatureTransformer.fit_stream``) and
  :meth:`StreamingInput.sample` (a uniform row sample, for ``fit``) feed the transformer;
  :func:`fit_transformer` picks one of the two.
* :meth:`StreamingInput.shard` gives each torchrun rank its own row groups, with the same number of
  steps per epoch on every rank (DDP requires it).
* Shuffling permutes the order of row groups and the rows inside each one, per epoch, from
  ``(seed, epoch)`` only; a position ``(epoch, batch)`` can be resumed without reading skipped groups.

Examples
--------
>>> import pandas as pd, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "d.parquet")
>>> pd.DataFrame({"x": range(10), "y": [0, 1] * 5}).to_parquet(path, row_group_size=4)
>>> source = parquet_input_fn(path, label="y", batch_size=3)
>>> [len(x) for x, y in source()]
[3, 3, 3, 1]
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from estlab._util import frame_column
from estlab.inputs._checks import check_batch_size, check_num_epochs, check_seed, check_shuffle

__all__ = ["Chunk", "StreamingInput", "TensorStream", "fit_transformer", "parquet_input_fn"]

PathLike = str | os.PathLike

#: how a transformer is fitted on streamed data (see :func:`fit_transformer`).
FIT_MODES = ("stream", "sample")


@dataclass(frozen=True)
class Chunk:
    """Rows of one or more row groups, cut at batch boundaries.

    ``features`` holds ``num_batches * batch_size`` rows (fewer only in the last chunk of an
    epoch); batch ``first_batch + j`` of ``epoch`` is rows ``[j * batch_size, (j + 1) * batch_size)``.

    Examples
    --------
    >>> c = Chunk(pd.DataFrame({"x": [1, 2, 3]}), None, epoch=0, first_batch=4, batch_size=2)
    >>> c.num_batches
    2
    """

    features: pd.DataFrame
    labels: pd.Series | None
    epoch: int
    first_batch: int
    batch_size: int

    @property
    def num_batches(self) -> int:
        """Batches in this chunk (the last may be partial)."""
        return -(-len(self.features) // self.batch_size)

    @property
    def num_rows(self) -> int:
        """Rows in this chunk."""
        return len(self.features)

    @property
    def feature_names(self) -> list[str]:
        """Column names of ``features`` (so a chunk reads like an ``InputFn`` when encoding it)."""
        return list(self.features.columns)


@dataclass(frozen=True)
class _Piece:
    """One row group of one parquet file."""

    index: int
    path: str
    row_group: int
    num_rows: int


def _mix_seed(*values: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(v) & 0xFFFFFFFFFFFFFFFF for v in values]))


def _expand_paths(paths: Sequence[str]) -> list[str]:
    """Files as given; directories replaced by their parquet files (sorted, hidden ones skipped)."""
    files = []
    for path in paths:
        if not os.path.isdir(path):
            files.append(path)
            continue
        found = []
        for root, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
            found += [os.path.join(root, n) for n in names if not n.startswith((".", "_"))]
        if not found:
            raise FileNotFoundError(f"paths: directory {path!r} holds no parquet files")
        files += sorted(found)
    return files


def _balanced_assignment(pieces: Sequence[_Piece], world_size: int) -> list[list[_Piece]]:
    """Greedy, deterministic: largest row groups first, each to the rank holding the fewest rows."""
    loads = [0] * world_size
    owned: list[list[_Piece]] = [[] for _ in range(world_size)]
    for piece in sorted(pieces, key=lambda p: (-p.num_rows, p.index)):
        target = min(range(world_size), key=lambda r: (loads[r], r))
        owned[target].append(piece)
        loads[target] += piece.num_rows
    return [sorted(group, key=lambda p: p.index) for group in owned]


class StreamingInput:
    """Parquet data streamed row group by row group; see :func:`parquet_input_fn`.

    A training loop recognises it by ``streaming = True`` and, instead of transforming
    ``.features`` once, transforms each :class:`Chunk` from :meth:`chunks`.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "d.parquet")
    >>> pd.DataFrame({"x": range(6), "y": range(6)}).to_parquet(path, row_group_size=2)
    >>> s = StreamingInput(path, label="y", batch_size=4)
    >>> s.num_rows, s.steps_per_epoch, [len(c.features) for c in s.chunks()]
    (6, 2, [4, 2])
    """

    streaming = True

    def __init__(
        self,
        paths: PathLike | Sequence[PathLike],
        label: str | None = None,
        batch_size: int = 128,
        num_epochs: int | None = 1,
        shuffle: bool = False,
        seed: int | None = 0,
        columns: Sequence[str] | None = None,
        rank: int = 0,
        world_size: int = 1,
        chunk_rows: int | None = None,
        fit: str = "stream",
        sample_rows: int = 100_000,
    ) -> None:
        import pyarrow.dataset as pads

        if fit not in FIT_MODES:
            raise ValueError(f"fit must be one of {list(FIT_MODES)}, got {fit!r}")
        if isinstance(sample_rows, bool) or not isinstance(sample_rows, int | np.integer) or sample_rows < 1:
            raise ValueError(f"sample_rows must be a positive int, got {sample_rows!r}")
        self.fit_mode, self.sample_rows = fit, int(sample_rows)

        self.paths = [os.fspath(paths)] if isinstance(paths, str | os.PathLike) else [os.fspath(p) for p in paths]
        if not self.paths:
            raise ValueError("paths must name at least one parquet file or directory; got an empty list")
        for path in self.paths:
            if not os.path.exists(path):
                raise FileNotFoundError(f"paths: {path!r} does not exist; pass parquet files or a directory of them")
        self.batch_size = check_batch_size(batch_size)
        self.num_epochs = check_num_epochs(num_epochs)
        self.shuffle = check_shuffle(shuffle)
        checked_seed = check_seed(seed)
        self.seed = 0 if checked_seed is None else checked_seed
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank}")
        self.rank, self.world_size = int(rank), int(world_size)
        if chunk_rows is not None and chunk_rows < 1:
            raise ValueError(f"chunk_rows must be a positive int or None, got {chunk_rows!r}")
        self.chunk_rows = chunk_rows
        self._dataset = pads.dataset(_expand_paths(self.paths), format="parquet")
        names = list(self._dataset.schema.names)
        self.label = label
        if label is not None and label not in names:
            raise KeyError(f"label {label!r} is not a column of the parquet data; columns are {names}")
        if columns is None:
            columns = [c for c in names if c != label]
        missing = [c for c in columns if c not in names]
        if missing:
            raise KeyError(f"columns {missing} are not in the parquet data; columns are {names}")
        self.columns = list(columns)
        self._pieces = self._list_pieces()
        self.num_rows = sum(p.num_rows for p in self._pieces)
        if self.num_rows == 0:
            raise ValueError(f"paths {self.paths} hold no rows")
        self._owned = _balanced_assignment(self._pieces, self.world_size)
        empty = [r for r, group in enumerate(self._owned) if not group]
        if empty:
            raise ValueError(
                f"world_size={self.world_size} but the data has only {len(self._pieces)} row groups, so "
                f"rank(s) {empty} would get no data; write the parquet files with smaller row groups "
                f"(e.g. DataFrame.to_parquet(..., row_group_size=...)) or use fewer ranks"
            )

    # -- description ----------------------------------------------------------------------------

    def _list_pieces(self) -> list[_Piece]:
        pieces: list[_Piece] = []
        self._fragments = {}
        for fragment in self._dataset.get_fragments():
            fragment.ensure_complete_metadata()
            self._fragments[fragment.path] = fragment
            for info in fragment.row_groups:
                if info.num_rows:
                    pieces.append(_Piece(len(pieces), fragment.path, info.id, info.num_rows))
        return pieces

    @property
    def num_row_groups(self) -> int:
        """Row groups in all files (all ranks)."""
        return len(self._pieces)

    @property
    def rank_rows(self) -> int:
        """Rows this rank's row groups hold."""
        return sum(p.num_rows for p in self._owned[self.rank])

    @property
    def steps_per_epoch(self) -> int:
        """Batches per epoch, equal on every rank (the smallest rank's count; others drop their tail)."""
        return min(-(-sum(p.num_rows for p in group) // self.batch_size) for group in self._owned)

    @property
    def features(self) -> None:
        """Always ``None``: streamed data is never held in memory (contrast with ``InputFn.features``)."""
        return None

    @property
    def schema_names(self) -> list[str]:
        """All column names in the parquet schema."""
        return list(self._dataset.schema.names)

    def shard(self, rank: int, world_size: int) -> StreamingInput:
        """The same input restricted to rank ``rank`` of ``world_size`` (balanced row groups).

        Examples
        --------
        >>> import pandas as pd, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "d.parquet")
        >>> pd.DataFrame({"x": range(8)}).to_parquet(path, row_group_size=2)
        >>> [len(list(StreamingInput(path).shard(r, 2).iter_frames(all_ranks=False))) for r in (0, 1)]
        [2, 2]
        """
        return StreamingInput(
            self.paths, self.label, self.batch_size, self.num_epochs, self.shuffle, self.seed,
            self.columns, rank, world_size, self.chunk_rows, self.fit_mode, self.sample_rows,
        )

    def fit_transformer(self, transformer: Any) -> Any:
        """Fit ``transformer`` the way this input was configured (``fit="stream"`` or ``"sample"``).

        Examples
        --------
        >>> import pandas as pd, tempfile, os
        >>> from estlab.features import FeatureTransformer, numeric_column
        >>> path = os.path.join(tempfile.mkdtemp(), "d.parquet")
        >>> pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]}).to_parquet(path, row_group_size=1)
        >>> t = StreamingInput(path, label="y").fit_transformer(
        ...     FeatureTransformer([numeric_column("x", normalizer="zscore")]))
        >>> t.state_["numeric"]["x"]["mean"]
        [2.0]
        """
        return fit_transformer(transformer, self, how=self.fit_mode, sample_rows=self.sample_rows, seed=self.seed)

    def __repr__(self) -> str:
        return (
            f"StreamingInput(paths={self.paths!r}, label={self.label!r}, batch_size={self.batch_size}, "
            f"num_rows={self.num_rows}, row_groups={self.num_row_groups}, rank={self.rank}/{self.world_size})"
        )

    # -- reading --------------------------------------------------------------------------------

    def _read(self, piece: _Piece, columns: Sequence[str]) -> pd.DataFrame:
        fragment = self._fragments[piece.path].subset(row_group_ids=[piece.row_group])
        return fragment.to_table(columns=list(columns), use_threads=False).to_pandas()

    def _read_columns(self) -> list[str]:
        return self.columns + ([self.label] if self.label is not None else [])

    def _epoch_pieces(self, epoch: int) -> list[_Piece]:
        owned = self._owned[self.rank]
        if not self.shuffle:
            return list(owned)
        order = _mix_seed(self.seed, epoch, 0x5EED).permutation(len(owned))
        return [owned[i] for i in order]

    def _split(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series | None]:
        if self.label is None:
            return frame, None
        return frame.loc[:, self.columns], frame_column(frame, self.label)

    def _epoch_stream(self, epoch: int, start_row: int) -> Iterator[pd.DataFrame]:
        """Frames of this rank's epoch ``epoch`` in order, skipping the first ``start_row`` rows."""
        offset = 0
        for piece in self._epoch_pieces(epoch):
            end = offset + piece.num_rows
            if end <= start_row:
                offset = end
                continue
            frame = self._read(piece, self._read_columns())
            if self.shuffle:
                frame = frame.take(_mix_seed(self.seed, epoch, piece.index).permutation(len(frame)))
            skip = max(start_row - offset, 0)
            if skip:
                frame = frame.iloc[skip:]
            offset = end
            yield frame.reset_index(drop=True)

    def chunks(self, epoch: int = 0, batch: int = 0) -> Iterator[Chunk]:
        """Yield this rank's chunks from position ``(epoch, batch)`` to the end of ``num_epochs``.

        Each chunk holds whole batches (a row group, with leftovers carried to the next one);
        exactly ``steps_per_epoch`` batches per epoch. With ``num_epochs=None`` it never ends.

        Examples
        --------
        >>> import pandas as pd, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "d.parquet")
        >>> pd.DataFrame({"x": range(10)}).to_parquet(path, row_group_size=4)
        >>> [(c.epoch, c.first_batch, c.features.x.tolist()) for c in StreamingInput(path, batch_size=3).chunks()]
        [(0, 0, [0, 1, 2]), (0, 1, [3, 4, 5]), (0, 2, [6, 7, 8]), (0, 3, [9])]
        """
        epoch, batch = self.normalize_position(epoch, batch)
        while self.num_epochs is None or epoch < self.num_epochs:
            yield from self._epoch_chunks(epoch, batch)
            epoch, batch = epoch + 1, 0

    def _epoch_chunks(self, epoch: int, first_batch: int) -> Iterator[Chunk]:
        bs, steps = self.batch_size, self.steps_per_epoch
        target = self.chunk_rows or 1
        pending: list[pd.DataFrame] = []
        pending_rows = 0
        batch = first_batch
        for frame in self._epoch_stream(epoch, first_batch * bs):
            pending.append(frame)
            pending_rows += len(frame)
            if pending_rows < max(bs, target):
                continue
            merged = pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
            n_batches = min(pending_rows // bs, steps - batch)
            cut = n_batches * bs
            features, labels = self._split(merged.iloc[:cut].reset_index(drop=True))
            yield Chunk(features, labels, epoch, batch, bs)
            batch += n_batches
            if batch >= steps:
                return
            rest = merged.iloc[cut:].reset_index(drop=True)
            pending, pending_rows = ([rest], len(rest)) if len(rest) else ([], 0)
        if pending_rows and batch < steps:
            merged = pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
            merged = merged.iloc[: (steps - batch) * bs].reset_index(drop=True)
            features, labels = self._split(merged)
            yield Chunk(features, labels, epoch, batch, bs)

    def normalize_position(self, epoch: int, batch: int) -> tuple[int, int]:
        """Turn a saved ``(epoch, batch)`` into a valid position (``batch == steps`` → next epoch).

        Examples
        --------
        >>> import pandas as pd, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "d.parquet")
        >>> pd.DataFrame({"x": range(10)}).to_parquet(path)
        >>> StreamingInput(path, batch_size=5).normalize_position(0, 2)
        (1, 0)
        """
        if epoch < 0 or batch < 0:
            raise ValueError(f"position must be non-negative, got epoch={epoch}, batch={batch}")
        extra, batch = divmod(batch, self.steps_per_epoch)
        return epoch + extra, batch

    def batches(self, epoch: int = 0, batch: int = 0) -> Iterator[tuple[pd.DataFrame, pd.Series | None]]:
        """Raw ``(features, labels)`` batches from position ``(epoch, batch)`` on.

        Examples
        --------
        >>> import pandas as pd, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "d.parquet")
        >>> pd.DataFrame({"x": range(5), "y": range(5)}).to_parquet(path)
        >>> [y.tolist() for _, y in StreamingInput(path, label="y", batch_size=2).batches(batch=1)]
        [[2, 3], [4]]
        """
        for chunk in self.chunks(epoch, batch):
            for start in range(0, len(chunk.features), self.batch_size):
                stop = start + self.batch_size
                labels = None if chunk.labels is None else chunk.labels.iloc[start:stop]
                yield chunk.features.iloc[start:stop], labels

    def __call__(self) -> Iterator[tuple[pd.DataFrame, pd.Series | None]]:
        """Yield raw ``(features, labels)`` batches over all epochs, as TF's ``input_fn`` did."""
        return self.batches()

    def single_pass(self, all_ranks: bool = False) -> Iterator[Chunk]:
        """Every row of this rank (or of all ranks) exactly once, one row group per chunk, file order.

        For evaluation and prediction: no shuffling, no cap on steps (ranks may differ in rows), and
        ``num_epochs`` is ignored. ``first_batch`` counts batches of ``batch_size`` from the start.

        Examples
        --------
        >>> import pandas as pd, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "d.parquet")
        >>> pd.DataFrame({"x": range(5), "y": range(5)}).to_parquet(path, row_group_size=2)
        >>> [c.labels.tolist() for c in StreamingInput(path, label="y", num_epochs=None).single_pass()]
        [[0, 1], [2, 3], [4]]
        """
        pieces = self._pieces if all_ranks else self._owned[self.rank]
        done = 0
        for piece in pieces:
            features, labels = self._split(self._read(piece, self._read_columns()))
            yield Chunk(features, labels, 0, done // self.batch_size, self.batch_size)
            done += piece.num_rows

    def iter_frames(self, columns: Sequence[str] | None = None, all_ranks: bool = True) -> Iterator[pd.DataFrame]:
        """One pass over the data, one row group per frame, in file order (for ``fit_stream``).

        Parameters
        ----------
        columns : sequence of str, optional
            Columns to read; defaults to the feature columns (no label).
        all_ranks : bool
            Read every row group (``True``, so all ranks fit the same state) or only this rank's.

        Examples
        --------
        >>> import pandas as pd, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "d.parquet")
        >>> pd.DataFrame({"x": range(5), "y": range(5)}).to_parquet(path, row_group_size=2)
        >>> [f.columns.tolist() + [len(f)] for f in StreamingInput(path, label="y").iter_frames()]
        [['x', 2], ['x', 2], ['x', 1]]
        """
        columns = self.columns if columns is None else list(columns)
        pieces = self._pieces if all_ranks else self._owned[self.rank]
        for piece in pieces:
            yield self._read(piece, columns)

    def sample(self, n_rows: int, seed: int | None = None, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """A uniform random sample of ``n_rows`` rows (without replacement), read in one bounded pass.

        Rows per row group follow a multivariate hypergeometric draw, so every row is equally likely.
        Returns all rows when ``n_rows >= num_rows``. Includes the label column when there is one.

        Examples
        --------
        >>> import pandas as pd, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "d.parquet")
        >>> pd.DataFrame({"x": range(100)}).to_parquet(path, row_group_size=10)
        >>> len(StreamingInput(path).sample(25, seed=0))
        25
        """
        if isinstance(n_rows, bool) or not isinstance(n_rows, int | np.integer) or n_rows < 1:
            raise ValueError(f"n_rows must be a positive int, got {n_rows!r}")
        columns = self._read_columns() if columns is None else list(columns)
        rng = _mix_seed(self.seed if seed is None else seed, 0x5A3D1E)
        sizes = np.array([p.num_rows for p in self._pieces], dtype=np.int64)
        take = (
            sizes if n_rows >= self.num_rows else rng.multivariate_hypergeometric(sizes, n_rows, method="marginals")
        )
        parts = []
        for piece, k in zip(self._pieces, take):
            if k:
                frame = self._read(piece, columns)
                rows = np.sort(rng.choice(len(frame), size=int(k), replace=False)) if k < len(frame) else slice(None)
                parts.append(frame.iloc[rows])
        return pd.concat(parts, ignore_index=True)


def parquet_input_fn(
    paths: PathLike | Sequence[PathLike],
    label: str | None = None,
    batch_size: int = 128,
    num_epochs: int | None = 1,
    shuffle: bool = False,
    seed: int | None = 0,
    columns: Sequence[str] | None = None,
    chunk_rows: int | None = None,
    fit: str = "stream",
    sample_rows: int = 100_000,
) -> StreamingInput:
    """Stream ``(features, labels)`` batches from parquet files without loading them whole.

    Parameters
    ----------
    paths : path or sequence of paths
        Parquet files or directories of them (read with ``pyarrow.dataset``).
    label : str, optional
        Label column; ``None`` for prediction.
    batch_size : int
        Rows per batch.
    num_epochs : int or None
        Passes over the data; ``None`` repeats forever.
    shuffle : bool
        Shuffle row-group order and rows within each row group, anew each epoch.
    seed : int, optional
        Seed of the shuffles.
    columns : sequence of str, optional
        Feature columns to read (default: all but the label).
    chunk_rows : int, optional
        Merge consecutive row groups until a chunk holds at least this many rows (fewer, larger
        transforms; memory grows accordingly). Default: one row group per chunk.
    fit : {"stream", "sample"}
        How a training loop fits the feature transformer on this input: one streaming pass over all
        row groups (``FeatureTransformer.fit_stream``: exact vocabularies and moments, approximate
        quantiles) or ``fit`` on ``sample_rows`` uniformly sampled rows (faster, approximate).
    sample_rows : int
        Rows sampled when ``fit="sample"``.

    Returns
    -------
    StreamingInput

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "d.parquet")
    >>> pd.DataFrame({"x": range(4), "y": [0, 1, 0, 1]}).to_parquet(path)
    >>> features, labels = next(iter(parquet_input_fn(path, label="y", batch_size=2)()))
    >>> labels.tolist()
    [0, 1]
    """
    return StreamingInput(
        paths, label=label, batch_size=batch_size, num_epochs=num_epochs, shuffle=shuffle, seed=seed,
        columns=columns, chunk_rows=chunk_rows, fit=fit, sample_rows=sample_rows,
    )


def fit_transformer(
    transformer: Any,
    source: StreamingInput | Iterable[pd.DataFrame],
    how: str = "stream",
    sample_rows: int = 100_000,
    seed: int | None = None,
) -> Any:
    """Fit a ``FeatureTransformer`` on streamed data: a full streaming pass or a random sample.

    Parameters
    ----------
    transformer : FeatureTransformer
        Unfitted transformer; needs ``fit_stream(frames)`` for ``how="stream"``.
    source : StreamingInput or iterable of DataFrames
        The training data.
    how : {"stream", "sample"}
        ``"stream"``: one pass over every row group (exact vocabularies and moments, approximate
        quantiles). ``"sample"``: ``fit`` on ``sample_rows`` uniformly drawn rows.
    sample_rows : int
        Sample size for ``how="sample"``.

    Returns
    -------
    The fitted transformer (as returned by ``fit``/``fit_stream``).

    Examples
    --------
    >>> class Counter:
    ...     def fit_stream(self, frames):
    ...         self.rows_ = sum(len(f) for f in frames)
    ...         return self
    >>> import pandas as pd
    >>> fit_transformer(Counter(), [pd.DataFrame({"x": [1, 2]}), pd.DataFrame({"x": [3]})]).rows_
    3
    """
    if how == "stream":
        if not hasattr(transformer, "fit_stream"):
            raise TypeError(
                f"how='stream' needs a transformer with fit_stream(frames); {type(transformer).__name__} has "
                f"none. Use how='sample'"
            )
        frames = source.iter_frames() if isinstance(source, StreamingInput) else iter(source)
        return transformer.fit_stream(frames)
    if how == "sample":
        if isinstance(source, StreamingInput):
            frame = source.sample(sample_rows, seed=seed, columns=source.columns)
        else:
            frame = pd.concat(list(source), ignore_index=True)
            if len(frame) > sample_rows:
                frame = frame.sample(n=sample_rows, random_state=seed)
        return transformer.fit(frame)
    raise ValueError(f"how must be 'stream' or 'sample', got {how!r}")


class _LiveMapping(Mapping):
    """Read-only view of the current chunk's encoded features (what the loop indexes by row).

    ``stream`` is a :class:`TensorStream` or an ``estlab.inputs.batched.BatchStream``: anything whose
    ``_current`` is ``(features, labels, weights)`` of the chunk being trained on.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def __getitem__(self, key: str) -> Any:
        return self._stream._current[0][key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._stream._current[0])

    def __len__(self) -> int:
        return len(self._stream._current[0])


class _LiveTensor:
    """Indexable view of one per-row tensor (labels, weights) of the current chunk."""

    def __init__(self, stream: Any, slot: int) -> None:
        self._stream, self._slot = stream, slot

    def __getitem__(self, rows: Any) -> Any:
        return self._stream._current[self._slot][rows]


class TensorStream:
    """Row-index batches over a :class:`StreamingInput`, each chunk encoded once, with live views.

    Built for an index-batching training loop: iterating yields chunk-local ``int64`` row indices,
    and :attr:`features` / :attr:`labels` / :attr:`weights` are views of the *current* chunk's
    tensors, so the loop's ``{k: v[rows] for k, v in features.items()}`` and ``labels[rows]`` work
    unchanged. Only one chunk's tensors are alive at a time. ``epoch`` and ``state_dict()`` /
    ``load_state_dict()`` mirror ``IndexBatcher``, so checkpoints resume mid-epoch.

    Parameters
    ----------
    source : StreamingInput
        Already sharded for this rank (``source.shard(rank, world_size)``) when distributed.
    encode : callable
        ``encode(chunk) -> (features_dict, labels, weights)``: tensors with leading dimension
        ``len(chunk.features)`` (``labels``/``weights`` may be ``None``), on the training device.

    Examples
    --------
    >>> import pandas as pd, tempfile, os, torch
    >>> path = os.path.join(tempfile.mkdtemp(), "d.parquet")
    >>> pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1, 0]}).to_parquet(path, row_group_size=2)
    >>> encode = lambda c: ({"x": torch.tensor(c.features["x"].to_numpy())},
    ...                     torch.tensor(c.labels.to_numpy()), None)
    >>> stream = TensorStream(StreamingInput(path, label="y", batch_size=2), encode)
    >>> [stream.features["x"][rows].tolist() for rows in stream]
    [[0.0, 1.0], [2.0, 3.0], [4.0]]
    """

    def __init__(self, source: StreamingInput, encode: Any) -> None:
        self.source = source
        self.encode = encode
        self.batch_size = source.batch_size
        self.epoch, self.position = 0, 0
        self._current: tuple[Any, Any, Any] = ({}, None, None)
        self._chunks: Iterator[Chunk] | None = None
        self._chunk_end = 0
        self._offset = 0
        self.features: Mapping[str, Any] = _LiveMapping(self)
        self.labels = _LiveTensor(self, 1)
        self.weights = _LiveTensor(self, 2)

    @property
    def num_epochs(self) -> int | None:
        """Epochs to serve (``None``: forever)."""
        return self.source.num_epochs

    @property
    def exhausted(self) -> bool:
        """True once all ``num_epochs`` epochs have been served."""
        return self.num_epochs is not None and self.epoch >= self.num_epochs

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        import torch

        if self.exhausted:
            raise StopIteration
        if self._chunks is None or self.position >= self._chunk_end:
            self._load_next_chunk()
        start = (self.position - self._offset) * self.batch_size
        rows = len(self._current_labels_or_features())
        stop = min(start + self.batch_size, rows)
        self.position += 1
        if self.position >= self.source.steps_per_epoch:
            self.epoch, self.position = self.epoch + 1, 0
            self._chunks, self._chunk_end = None, 0
        return torch.arange(start, stop, dtype=torch.int64)

    def _current_labels_or_features(self) -> Any:
        features, labels, _ = self._current
        return labels if labels is not None else next(iter(features.values()))

    def _load_next_chunk(self) -> None:
        if self._chunks is None:
            self._chunks = self.source.chunks(self.epoch, self.position)
        self._current = ({}, None, None)  # free the previous chunk before reading the next
        chunk = next(self._chunks)
        encoded = self.encode(chunk)
        self._current = tuple(encoded) if isinstance(encoded, tuple) else (encoded, None, None)
        self._offset = chunk.first_batch
        self._chunk_end = chunk.first_batch + chunk.num_batches

    def state_dict(self) -> dict[str, Any]:
        """The position ``(epoch, position)`` plus what must match on resume (as ``IndexBatcher``)."""
        # total rows and world size, not this rank's rows: the chief's saved state resumes every rank
        return {"epoch": self.epoch, "position": self.position, "seed": self.source.seed,
                "num_rows": self.source.num_rows, "world_size": self.source.world_size,
                "batch_size": self.batch_size, "streaming": True}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict`; raises ``ValueError`` when the data or seed differ."""
        expected = self.state_dict()
        for key in ("seed", "num_rows", "world_size", "batch_size", "streaming"):
            if state.get(key) != expected[key]:
                raise ValueError(
                    f"saved stream state has {key}={state.get(key)!r} but this input has {expected[key]!r}; "
                    f"the training data changed, so the stream restarts from the beginning"
                )
        self.epoch, self.position = self.source.normalize_position(int(state["epoch"]), int(state["position"]))
        self._chunks, self._chunk_end = None, 0
