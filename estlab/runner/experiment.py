"""``Experiment``: a directory that is the source of truth for a lab's runs (torch-free, no widgets).

Layout::

    <experiment>/
      experiment.json            label, and every dataset by fingerprint
      data/<fingerprint>/        train.parquet, eval.parquet: written once, read (memory-mapped) by every worker
      <run>/                     one folder per run; it is the run's model_dir (checkpoints, TensorBoard events)
        run.json                 the run record: spec, fingerprints, status, timings, final metrics, error
        events.jsonl             the run's training events, one JSON object a line (steps without a loss left out)

The data fingerprint hashes the frames' values, index, columns and dtypes; a run's fingerprint hashes its
configuration with it (:func:`estlab.runner.spec.run_fingerprint`). A finished run is reused only for an equal
fingerprint; any change of configuration or data makes a new run folder, never an old model_dir.

Examples
--------
>>> import tempfile, pandas as pd
>>> frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
>>> exp = Experiment.create(tempfile.mkdtemp(), frame, frame, label="y")
>>> Experiment.open(exp.path).data_fingerprint == exp.data_fingerprint
True
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from estlab._util import hash_rows
from estlab.runner.liveness import process_alive, worker_alive
from estlab.runner.spec import RunSpec, run_fingerprint
from estlab.training.history import History

EXPERIMENT_FILE = "experiment.json"
RECORD_FILE = "run.json"
EVENTS_FILE = "events.jsonl"
DATA_DIR = "data"
#: Statuses of a run that has not ended.
ACTIVE = ("queued", "starting", "running")
#: Statuses of a run that ended before its last step and may be resumed from its last checkpoint.
RESUMABLE = ("interrupted", "stopped", "failed", "cancelled")
#: Why a run is marked interrupted.
INTERRUPTED_REASON = "its kernel or worker exited before it ended; resume it to continue from its last checkpoint"
#: Where ``Lab`` keeps its experiments when none is named (relative to the working directory).
DEFAULT_ROOT = "estlab-experiments"


def data_fingerprint(*frames: pd.DataFrame) -> str:
    """A short hash of the frames' values, index, column names and dtypes.

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1, 2]})
    >>> data_fingerprint(a) == data_fingerprint(a.copy()) != data_fingerprint(a.assign(x=[1, 3]))
    True
    """
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
        digest.update(str(frame.shape).encode())
        digest.update(hash_rows(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()[:16]


@dataclass
class RunRecord:
    """What ``run.json`` holds about one run (plain values).

    Examples
    --------
    >>> record = RunRecord("r1", RunSpec.create("linear_classifier"), fingerprint="f", data_fingerprint="d")
    >>> RunRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record
    True
    """

    name: str
    spec: RunSpec
    fingerprint: str = ""
    data_fingerprint: str = ""
    status: str = "queued"
    reason: str = ""
    error: str | None = None
    queued_time: float = field(default_factory=time.time)
    start_time: float | None = None
    end_time: float | None = None
    global_step: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    device: str = ""
    predictions_path: str = ""
    released: bool = False
    worker: int | None = None
    owner: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (the spec through :meth:`RunSpec.to_dict`)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["spec"] = self.spec.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        """Rebuild a record from :meth:`to_dict` (unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["spec"] = RunSpec.from_dict(data["spec"])
        return cls(**values)

    @property
    def wall_time(self) -> float | None:
        """Seconds from start to end (None before it started or while it runs)."""
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time


class Experiment:
    """One experiment directory: its data (once), and a folder per run with record and event log.

    Use :meth:`create` (open or create, with data) or :meth:`open` (an existing one, e.g. after a kernel
    restart, without widgets).

    Parameters
    ----------
    path
        The experiment directory.
    meta
        The content of ``experiment.json``.
    current
        Fingerprint of the data new runs train on (None: read-only use).

    Examples
    --------
    >>> import tempfile
    >>> frame = pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]})
    >>> exp = Experiment.create(tempfile.mkdtemp(), frame, frame, label="y")
    >>> exp.new_name("dnn_classifier"), exp.records()
    ('dnn_classifier-1', [])
    """

    def __init__(self, path: str, meta: dict[str, Any], current: str | None = None) -> None:
        self.path = os.path.abspath(path)
        self.meta = meta
        self.data_fingerprint = current
        self._names: set[str] = set()

    # ---- opening ---------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str, train_df: pd.DataFrame, eval_df: pd.DataFrame, label: str) -> Experiment:
        """Open ``path`` (created if missing) for training on these frames; writes them once as parquet.

        Reopening with other data keeps the earlier runs (each records its data fingerprint) and adds the new
        dataset next to the old one.
        """
        os.makedirs(path, exist_ok=True)
        meta_path = os.path.join(path, EXPERIMENT_FILE)
        meta: dict[str, Any] = {"version": 1, "label": label, "datasets": {}}
        if os.path.exists(meta_path):
            meta = _read_json(meta_path)
        fingerprint = data_fingerprint(train_df, eval_df)
        datasets = meta.setdefault("datasets", {})
        if fingerprint not in datasets or not all(
                os.path.exists(os.path.join(path, p)) for p in datasets[fingerprint]["files"].values()):
            files = {}
            for split, frame in (("train", train_df), ("eval", eval_df)):
                relative = os.path.join(DATA_DIR, fingerprint, f"{split}.parquet")
                _write_parquet(frame, os.path.join(path, relative))
                files[split] = relative
            datasets[fingerprint] = {"files": files, "rows": [len(train_df), len(eval_df)], "label": label,
                                     "created": time.time()}
        meta["label"], meta["current"] = label, fingerprint
        _write_json(meta_path, meta)
        return cls(path, meta, current=fingerprint)

    @classmethod
    def open(cls, path: str) -> Experiment:
        """Open an existing experiment (read its runs; no data needed, no widgets, no torch).

        A run that was training or queued when its kernel or worker died is marked ``interrupted`` (see
        :meth:`reconcile`); one still trained by a live worker or lab keeps its status.

        Examples
        --------
        >>> Experiment.open("/nonexistent/exp")
        Traceback (most recent call last):
        ...
        FileNotFoundError: experiment: no experiment.json in '/nonexistent/exp'
        """
        meta_path = os.path.join(path, EXPERIMENT_FILE)
        if not os.path.exists(meta_path):
            raise FileNotFoundError(f"experiment: no {EXPERIMENT_FILE} in {path!r}")
        meta = _read_json(meta_path)
        experiment = cls(path, meta, current=meta.get("current"))
        experiment.reconcile()
        return experiment

    # ---- data ------------------------------------------------------------------------------
    @property
    def label(self) -> str:
        """The label column."""
        return str(self.meta.get("label", ""))

    def data_paths(self, fingerprint: str | None = None) -> tuple[str, str]:
        """Absolute paths of the train and eval parquet files of a dataset (default: the current one)."""
        fingerprint = fingerprint or self.data_fingerprint
        if fingerprint is None or fingerprint not in self.meta.get("datasets", {}):
            raise KeyError(f"data: no dataset {fingerprint!r} in {self.path!r}")
        files = self.meta["datasets"][fingerprint]["files"]
        return os.path.join(self.path, files["train"]), os.path.join(self.path, files["eval"])

    # ---- runs ------------------------------------------------------------------------------
    def run_dir(self, name: str) -> str:
        """The run's folder (also its model_dir)."""
        return os.path.join(self.path, name)

    def names(self) -> list[str]:
        """Run names in the order they were queued."""
        found = [e for e in os.listdir(self.path) if os.path.isfile(os.path.join(self.path, e, RECORD_FILE))]
        records = {name: self.record(name) for name in found}
        return sorted(records, key=lambda n: (records[n].queued_time, _number(n), n))

    def records(self) -> list[RunRecord]:
        """Every run's record, in queue order."""
        return [self.record(name) for name in self.names()]

    def record(self, name: str) -> RunRecord:
        """The record of run ``name``."""
        path = os.path.join(self.run_dir(name), RECORD_FILE)
        if not os.path.exists(path):
            raise KeyError(f"name: no run called {name!r} in {self.path!r}")
        return RunRecord.from_dict(_read_json(path))

    def new_name(self, estimator: str) -> str:
        """A run name not used in this experiment: ``<estimator>-<n>`` with n one more than the runs so far.

        Examples
        --------
        >>> import tempfile
        >>> exp = Experiment(tempfile.mkdtemp(), {})
        >>> exp.new_name("linear_classifier")
        'linear_classifier-1'
        """
        taken = set(self.names()) | self._names
        number = max([_number(n) for n in taken] + [len(taken)]) + 1
        while f"{estimator}-{number}" in taken or os.path.exists(self.run_dir(f"{estimator}-{number}")):
            number += 1
        name = f"{estimator}-{number}"
        self._names.add(name)
        return name

    def fingerprint(self, spec: RunSpec) -> str:
        """The fingerprint of ``spec`` on the current data."""
        return run_fingerprint(spec, self.data_fingerprint or "")

    def find(self, fingerprint: str, statuses: Iterable[str] = ("finished",)) -> RunRecord | None:
        """The newest run with this fingerprint and one of ``statuses``, or None."""
        wanted = set(statuses)
        matches = [r for r in self.records() if r.fingerprint == fingerprint and r.status in wanted]
        return matches[-1] if matches else None

    def is_live(self, record: RunRecord, owner_alive: bool | None = None) -> bool:
        """Whether an active run is still trained (its worker beats) or queued by a live lab.

        ``owner_alive`` overrides the check of the record's owner process (a lab in this process knows better).
        """
        if record.status not in ACTIVE:
            return False
        if worker_alive(self.run_dir(record.name)):
            return True
        return process_alive(record.owner) if owner_alive is None else owner_alive

    def interrupt(self, record: RunRecord, reason: str = INTERRUPTED_REASON) -> RunRecord:
        """Mark ``record`` interrupted (saved) and return it; its step is the last one its event log reached."""
        steps = [int(e["global_step"]) for e in self.events(record.name) if e.get("global_step") is not None]
        record.global_step = max([record.global_step, *steps])
        record.status, record.reason = "interrupted", reason
        record.end_time = record.end_time or time.time()
        self.save_record(record)
        return record

    def reconcile(self) -> list[str]:
        """Mark every active run that no live worker or lab trains any more ``interrupted``; returns their names.

        Examples
        --------
        >>> import tempfile
        >>> Experiment(tempfile.mkdtemp(), {}).reconcile()
        []
        """
        gone = [r for r in self.records() if r.status in ACTIVE and not self.is_live(r)]
        for record in gone:
            try:
                self.interrupt(record)
            except OSError:  # a read-only experiment: the runs are still reported, only not rewritten
                record.status = "interrupted"
        return [r.name for r in gone]

    def check_resume(self, name: str) -> RunRecord:
        """The record of run ``name`` if it may continue from its last checkpoint, else a ValueError saying why.

        A run resumes with its own configuration, on the data it started with: a finished run, a run still
        training, or a lab whose data differs from the run's (another fingerprint) is refused.
        """
        record = self.record(name)
        if record.status == "finished":
            raise ValueError(f"name: run {name!r} finished at step {record.global_step:,}; there is nothing to "
                             "resume (train a new run, e.g. with more steps)")
        if record.status in ACTIVE and self.is_live(record):
            raise ValueError(f"name: run {name!r} is still {record.status}; stop it before resuming it")
        if record.data_fingerprint != (self.data_fingerprint or ""):
            raise ValueError(f"data: run {name!r} trained on data {record.data_fingerprint!r} but this experiment's "
                             f"data is now {self.data_fingerprint!r}; open it with the run's training and evaluation "
                             "frames to resume the run, or train a new run on the new data")
        if run_fingerprint(record.spec, record.data_fingerprint) != record.fingerprint:
            raise ValueError(f"spec: the configuration in {os.path.join(self.run_dir(name), RECORD_FILE)!r} no longer "
                             f"matches the run's fingerprint {record.fingerprint!r} (the file was edited); train a "
                             "new run instead")
        return record

    def resume(self, name: str, executor: Any = None, timeout: float | None = None) -> RunRecord:
        """Continue run ``name`` from the last checkpoint in its folder, without a lab; returns its final record.

        Trains in a worker process (or ``executor``), writes the record and the event log as a lab would and
        blocks until the run ends. See :func:`estlab.runner.resume.resume_run`.

        Examples
        --------
        >>> Experiment.open("runs/adult").resume("dnn_classifier-2").status  # doctest: +SKIP
        'finished'
        """
        from estlab.runner.resume import resume_run

        return resume_run(self, name, executor=executor, timeout=timeout)

    def save_record(self, record: RunRecord) -> None:
        """Write ``run.json`` of ``record`` atomically (creating the run folder)."""
        os.makedirs(self.run_dir(record.name), exist_ok=True)
        self._names.add(record.name)
        _write_json(os.path.join(self.run_dir(record.name), RECORD_FILE), record.to_dict())

    def append_events(self, name: str, events: Iterable[Mapping[str, Any]]) -> None:
        """Append events to the run's ``events.jsonl`` (a step without a loss is left out: it draws nothing)."""
        lines = [json.dumps(dict(e), default=repr) + "\n" for e in events
                 if e.get("type") != "step_end" or e.get("loss") is not None]
        if lines:
            os.makedirs(self.run_dir(name), exist_ok=True)
            with open(os.path.join(self.run_dir(name), EVENTS_FILE), "a", encoding="utf-8") as handle:
                handle.writelines(lines)

    def events(self, name: str) -> list[dict[str, Any]]:
        """The run's logged events, in order (a torn last line, from a crash mid-write, is skipped)."""
        path = os.path.join(self.run_dir(name), EVENTS_FILE)
        if not os.path.exists(path):
            return []
        out = []
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return out

    def history(self, name: str, max_step_rows: int | None = None) -> History:
        """The run's curves and evaluations: its event log replayed through a :class:`History`."""
        history = History(max_step_rows=max_step_rows)
        for event in self.events(name):
            if event.get("type") in ("train_begin", "step_end", "evaluate", "checkpoint", "train_end"):
                history.dispatch(event)
        return history

    def leaderboard(self, plus_minus: bool = False) -> pd.DataFrame:
        """One row per run: name, estimator, params, folds, status, steps, wall time, final metrics.

        A cross-validated run (``folds`` ≥ 2) shows each metric's mean over its folds, with the standard
        deviation in ``<metric>_std``; with ``plus_minus=True`` its cells read ``"0.8123 ± 0.0101"`` instead
        (text, for display) and the ``_std`` columns go.

        Examples
        --------
        >>> import tempfile
        >>> Experiment(tempfile.mkdtemp(), {}).leaderboard().columns.tolist()[:5]
        ['run', 'estimator', 'params', 'folds', 'status']
        """
        rows = [{"run": r.name, "estimator": r.spec.estimator, "params": r.spec.params_text(),
                 "folds": r.spec.folds or None, "status": r.status, "steps": r.global_step,
                 "wall_time_s": r.wall_time, "fingerprint": r.fingerprint, **r.metrics}
                for r in self.records()]
        columns = ["run", "estimator", "params", "folds", "status", "steps", "wall_time_s", "fingerprint"]
        frame = pd.DataFrame(rows, columns=None if rows else columns)
        if plus_minus:
            for std in [c for c in frame.columns if c.endswith("_std") and c[:-4] in frame.columns]:
                mean = frame[std[:-4]]
                frame[std[:-4]] = [m if pd.isna(sd) else f"{m:.4f} ± {sd:.4f}" for m, sd in zip(mean, frame[std])]
                frame = frame.drop(columns=std)
        return frame

    def __repr__(self) -> str:
        return f"Experiment({self.path!r}, runs={len(self.names())})"


def _number(name: str) -> int:
    match = re.search(r"-(\d+)$", name)
    return int(match.group(1)) if match else 0


def _read_json(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _write_json(path: str, data: Any) -> None:
    _atomic(path, lambda handle: handle.write(json.dumps(data, indent=1, default=repr).encode()))


def _write_parquet(frame: pd.DataFrame, path: str) -> None:
    _atomic(path, lambda handle: frame.to_parquet(handle, index=True))


def _atomic(path: str, write: Any) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
