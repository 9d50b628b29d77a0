"""Index batching: which rows go into each batch, deterministic and resumable.

The data is transformed to tensors once; a batch is then ``{k: v[idx] for k, v in encoded.items()}``.
This module only decides ``idx``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from estlab.inputs._checks import check_batch_size, check_num_epochs, check_seed, check_shuffle

_STATE_KEYS = ("epoch", "position", "seed", "num_rows", "shuffle")


def epoch_permutation(num_rows: int, seed: int, epoch: int) -> torch.Tensor:
    """Return the row order of one epoch: a permutation drawn from ``(seed, epoch)`` only.

    Parameters
    ----------
    num_rows : int
        Number of rows to permute.
    seed : int
        Base seed of the run.
    epoch : int
        Epoch number (0-based); each epoch gets its own, independent permutation.

    Returns
    -------
    torch.Tensor
        int64 tensor holding a permutation of ``range(num_rows)``.

    Examples
    --------
    >>> epoch_permutation(5, seed=0, epoch=0).sort().values.tolist()
    [0, 1, 2, 3, 4]
    """
    sequence = np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, int(epoch)])
    mixed = sequence.generate_state(1, np.uint64)[0]
    generator = torch.Generator().manual_seed(int(mixed) & 0x7FFFFFFFFFFFFFFF)
    return torch.randperm(num_rows, generator=generator)


class IndexBatcher:
    """Iterate ``torch.LongTensor`` row-index batches over ``num_epochs`` epochs.

    Shuffling draws a fresh permutation per epoch from a generator seeded by ``(seed, epoch)``, so the
    order depends only on the seed and the position, never on how often the iterator was restarted.
    The last partial batch of each epoch is kept. ``state_dict()`` / ``load_state_dict()`` save and
    restore the position (epoch, row offset), so a resumed run continues exactly where it stopped.

    Parameters
    ----------
    num_rows : int
        Number of rows in the data (positive).
    batch_size : int
        Rows per batch (positive); the last batch of an epoch may be smaller.
    num_epochs : int or None
        Passes over the data; ``None`` repeats forever.
    shuffle : bool
        Permute the rows in each epoch.
    seed : int or None
        Seed of the permutations. ``None`` draws one from torch's global generator (so
        ``torch.manual_seed`` makes it reproducible); the drawn seed is kept in ``state_dict()``.
    device : torch.device, str or None
        Where the batches are made (default: the CPU). On another device each epoch's permutation is drawn
        as on the CPU (the same order for a seed on every device), copied there once, and every batch is a
        slice of it: no host-to-device copy per step.

    Examples
    --------
    >>> [b.tolist() for b in IndexBatcher(5, batch_size=2, num_epochs=1, shuffle=False)]
    [[0, 1], [2, 3], [4]]
    """

    def __init__(
        self,
        num_rows: int,
        batch_size: int,
        num_epochs: int | None = 1,
        shuffle: bool = False,
        seed: int | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        if isinstance(num_rows, bool) or not isinstance(num_rows, int | np.integer) or num_rows <= 0:
            raise ValueError(
                f"num_rows must be a positive int; got {num_rows!r}. The data has no rows to batch."
            )
        self.num_rows = int(num_rows)
        self.batch_size = check_batch_size(batch_size)
        self.num_epochs = check_num_epochs(num_epochs)
        self.shuffle = check_shuffle(shuffle)
        seed = check_seed(seed)
        self.seed = int(torch.randint(0, 2**62, (1,)).item()) if seed is None else seed
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self.epoch = 0
        self.position = 0
        self._order: torch.Tensor | None = None
        self._order_epoch = -1

    @property
    def batches_per_epoch(self) -> int:
        """Number of batches in one epoch (the last one may be partial)."""
        return -(-self.num_rows // self.batch_size)

    @property
    def num_batches(self) -> int | None:
        """Total batches over all epochs, or ``None`` when repeating forever."""
        return None if self.num_epochs is None else self.num_epochs * self.batches_per_epoch

    @property
    def exhausted(self) -> bool:
        """True once all ``num_epochs`` epochs have been served."""
        return self.num_epochs is not None and self.epoch >= self.num_epochs

    def __iter__(self) -> Iterator[torch.Tensor]:
        return self

    def __next__(self) -> torch.Tensor:
        if self.exhausted:
            raise StopIteration
        start = self.position
        stop = min(start + self.batch_size, self.num_rows)
        on_cpu = self.device.type == "cpu"
        if self.shuffle:  # a copy on the CPU (a batch kept does not pin the permutation); a slice elsewhere
            batch = self._epoch_order()[start:stop].clone() if on_cpu else self._epoch_order()[start:stop]
        else:
            batch = torch.arange(start, stop, dtype=torch.long, device=self.device)
        if stop >= self.num_rows:
            self.epoch += 1
            self.position = 0
        else:
            self.position = stop
        return batch

    def _epoch_order(self) -> torch.Tensor:
        if self._order is None or self._order_epoch != self.epoch:
            self._order = epoch_permutation(self.num_rows, self.seed, self.epoch).to(self.device)
            self._order_epoch = self.epoch
        return self._order

    def state_dict(self) -> dict[str, Any]:
        """Return the iterator position as plain Python values (safe for ``torch.save``/JSON).

        Examples
        --------
        >>> b = IndexBatcher(10, batch_size=4, shuffle=True, seed=0)
        >>> _ = next(b)
        >>> b.state_dict()["position"]
        4
        """
        return {
            "epoch": self.epoch,
            "position": self.position,
            "seed": self.seed,
            "num_rows": self.num_rows,
            "shuffle": self.shuffle,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a position saved by ``state_dict()``; the next batch is the one that would have followed.

        The batch size may differ from the saved run (the position is a row offset).

        Examples
        --------
        >>> a = IndexBatcher(10, batch_size=4, shuffle=True, seed=0)
        >>> _ = next(a)
        >>> b = IndexBatcher(10, batch_size=4, shuffle=True, seed=1)
        >>> b.load_state_dict(a.state_dict())
        >>> bool((next(a) == next(b)).all())
        True
        """
        missing = [key for key in _STATE_KEYS if key not in state]
        if missing:
            raise KeyError(
                f"state is missing {missing}; got keys {sorted(state)}. Pass a dict from IndexBatcher.state_dict()."
            )
        if int(state["num_rows"]) != self.num_rows:
            raise ValueError(
                f"state was saved for num_rows={state['num_rows']} but this batcher has num_rows={self.num_rows}; "
                "resume with the same data."
            )
        if bool(state["shuffle"]) != self.shuffle:
            raise ValueError(
                f"state was saved with shuffle={state['shuffle']} but this batcher has shuffle={self.shuffle}; "
                "resume with the same shuffle setting."
            )
        position = int(state["position"])
        if not 0 <= position < self.num_rows:
            raise ValueError(f"state position must be in [0, {self.num_rows}); got {position}.")
        self.seed = int(state["seed"])
        self.epoch = int(state["epoch"])
        self.position = position
        self._order = None
        self._order_epoch = -1

    def __repr__(self) -> str:
        return (
            f"IndexBatcher(num_rows={self.num_rows}, batch_size={self.batch_size}, "
            f"num_epochs={self.num_epochs}, shuffle={self.shuffle}, seed={self.seed}, "
            f"epoch={self.epoch}, position={self.position}"
            + ("" if self.device.type == "cpu" else f", device={str(self.device)!r}") + ")"
        )


def iter_batches(num_rows: int, batch_size: int) -> Iterator[slice]:
    """Yield ordered row slices covering ``range(num_rows)`` once (for predict and evaluate).

    Slices index tensors, arrays and ``DataFrame.iloc`` without copying.

    Parameters
    ----------
    num_rows : int
        Number of rows (0 yields nothing).
    batch_size : int
        Rows per slice (positive); the last slice may be shorter.

    Yields
    ------
    slice
        ``slice(start, stop)`` with ``stop - start <= batch_size``.

    Examples
    --------
    >>> list(iter_batches(5, 2))
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    batch_size = check_batch_size(batch_size)
    if isinstance(num_rows, bool) or not isinstance(num_rows, int | np.integer) or num_rows < 0:
        raise ValueError(f"num_rows must be a non-negative int; got {num_rows!r}.")
    for start in range(0, int(num_rows), batch_size):
        yield slice(start, min(start + batch_size, int(num_rows)))
