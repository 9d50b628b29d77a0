"""``RunConfig``: where and how a run trains (model_dir, checkpoint cadence, device, seeds)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import InitVar, dataclass, field
from typing import Any

import torch

from estlab._util import warn_ignored_arguments

_MIXED_PRECISION = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}

#: TF's ``RunConfig`` parameters that have no PyTorch meaning: accepted, ignored with one warning.
_IGNORED = ("session_config", "keep_checkpoint_every_n_hours", "train_distribute", "device_fn", "protocol",
            "eval_distribute", "experimental_distribute", "experimental_max_worker_delay_secs",
            "session_creation_timeout_secs", "checkpoint_save_graph_def")


#: ``torch.compile`` modes ``RunConfig(compile=...)`` accepts by name
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")

@dataclass(frozen=True)
class RunConfig:
    """Run settings, as ``tf.estimator.RunConfig``, with TF's parameters in TF's order.

    TF's parameters without a PyTorch meaning (``session_config``, ``keep_checkpoint_every_n_hours``,
    ``train_distribute``, ``device_fn``, ``protocol``, ``eval_distribute``, ``experimental_distribute``,
    ``experimental_max_worker_delay_secs``, ``session_creation_timeout_secs``, ``checkpoint_save_graph_def``)
    are accepted and ignored with one warning naming those given; estlab's own parameters are keyword-only.

    Parameters
    ----------
    model_dir : str, optional
        Directory for checkpoints and TensorBoard events; ``None`` lets the Estimator make a temporary one.
    tf_random_seed : int, optional
        TF's name for ``random_seed`` (either may be given; both must then agree).
    save_summary_steps : int
        TensorBoard scalars (loss, learning rate) every N steps.
    save_checkpoints_steps : int, optional
        Save every N steps. Mutually exclusive with ``save_checkpoints_secs``.
    save_checkpoints_secs : float, optional
        Save every N seconds; defaults to 600 when neither cadence is given (TF's default).
    keep_checkpoint_max : int
        Newest checkpoints kept (older ones are deleted); ``None`` or 0 keeps all.
    log_step_count_steps : int
        Log line (``logging``) and ``global_step/sec`` every N steps.
    random_seed : int, optional
        Keyword-only. Seeds torch, numpy and ``random`` before the model is built; CPU runs become reproducible.
    device : str
        Keyword-only. ``"auto"`` (CUDA, then MPS, then CPU), or any torch device string.
    mixed_precision : str, optional
        Keyword-only. ``"bf16"`` or ``"fp16"`` (autocast; fp16 adds a gradient scaler on CUDA).
    compile : bool or str
        Keyword-only. Wrap the module with ``torch.compile``: ``True`` (its default mode) or a mode name,
        ``"reduce-overhead"`` (CUDA graphs: for small, launch-bound models on a GPU), ``"max-autotune"``,
        ``"max-autotune-no-cudagraphs"``, ``"default"``.
    tensorboard : bool
        Keyword-only. Write TensorBoard event files.
    num_threads : int, optional
        Keyword-only. Intra-op threads while training; ``None`` lets estlab choose (``estlab.training.threads``).
    clip_gradients : float, optional
        Keyword-only. TF's ``optimize_loss(clip_gradients=...)`` (Keras: ``global_clipnorm``): before every
        optimizer step all gradients are scaled by ``min(1, clip_gradients / global_norm)``, the global norm
        taken over every trained parameter (of all the model's optimizers). ``None``: no clipping.

    Examples
    --------
    >>> config = RunConfig("/tmp/run", 42, save_checkpoints_steps=100)
    >>> config.random_seed, config.save_checkpoints_secs is None, config.replace(random_seed=1).random_seed
    (42, True, 1)
    """

    model_dir: str | None = None
    tf_random_seed: int | None = None
    save_summary_steps: int = 100
    save_checkpoints_steps: int | None = None
    save_checkpoints_secs: float | None = None
    session_config: InitVar[Any] = None
    keep_checkpoint_max: int | None = 5
    keep_checkpoint_every_n_hours: InitVar[Any] = None
    log_step_count_steps: int = 100
    train_distribute: InitVar[Any] = None
    device_fn: InitVar[Any] = None
    protocol: InitVar[Any] = None
    eval_distribute: InitVar[Any] = None
    experimental_distribute: InitVar[Any] = None
    experimental_max_worker_delay_secs: InitVar[Any] = None
    session_creation_timeout_secs: InitVar[Any] = None
    checkpoint_save_graph_def: InitVar[Any] = None
    random_seed: int | None = field(default=None, kw_only=True)
    device: str = field(default="auto", kw_only=True)
    mixed_precision: str | None = field(default=None, kw_only=True)
    compile: bool | str = field(default=False, kw_only=True)
    tensorboard: bool = field(default=True, kw_only=True)
    num_threads: int | None = field(default=None, kw_only=True)
    clip_gradients: float | None = field(default=None, kw_only=True)

    def __post_init__(self, *ignored: Any) -> None:
        warn_ignored_arguments("RunConfig", dict(zip(_IGNORED, ignored, strict=True)))
        if self.tf_random_seed is not None and self.random_seed is not None and (
                self.tf_random_seed != self.random_seed):
            raise ValueError(f"RunConfig: random_seed={self.random_seed} and tf_random_seed={self.tf_random_seed} "
                             "disagree; tf_random_seed is TF's name for random_seed, give only one")
        seed = self.random_seed if self.random_seed is not None else self.tf_random_seed
        object.__setattr__(self, "random_seed", seed)
        object.__setattr__(self, "tf_random_seed", seed)
        if self.save_checkpoints_steps is not None and self.save_checkpoints_secs is not None:
            raise ValueError(
                f"RunConfig: save_checkpoints_steps={self.save_checkpoints_steps} and save_checkpoints_secs="
                f"{self.save_checkpoints_secs} were both given; set only one of them"
            )
        if self.save_checkpoints_steps is None and self.save_checkpoints_secs is None:
            object.__setattr__(self, "save_checkpoints_secs", 600)
        for name in ("save_checkpoints_steps", "save_summary_steps", "log_step_count_steps"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise ValueError(f"RunConfig: {name} must be a positive int, got {value!r}")
        keep = self.keep_checkpoint_max
        if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 0):
            raise ValueError(f"RunConfig: keep_checkpoint_max must be None or 0 (keep every checkpoint) or a "
                             f"positive int (keep the newest N), got {keep!r}")
        secs = self.save_checkpoints_secs
        if secs is not None and (isinstance(secs, bool) or not isinstance(secs, (int, float))
                                 or not math.isfinite(secs) or secs <= 0):
            raise ValueError(f"RunConfig: save_checkpoints_secs must be a positive number of seconds, got {secs!r}")
        if self.mixed_precision is not None and self.mixed_precision not in _MIXED_PRECISION:
            raise ValueError(
                f"RunConfig: mixed_precision must be None or one of {sorted(_MIXED_PRECISION)}, "
                f"got {self.mixed_precision!r}"
            )
        if not isinstance(self.compile, bool) and self.compile not in COMPILE_MODES:
            raise ValueError(f"RunConfig: compile must be True, False or a torch.compile mode in {list(COMPILE_MODES)}, "
                             f"got {self.compile!r}")
        clip = self.clip_gradients
        if clip is not None and (isinstance(clip, bool) or not isinstance(clip, (int, float))
                                 or not math.isfinite(clip) or clip <= 0):
            raise ValueError(f"RunConfig: clip_gradients must be None or a positive finite number (the largest "
                             f"global gradient norm), got {clip!r}")
        if clip is not None:
            object.__setattr__(self, "clip_gradients", float(clip))
        if self.model_dir is not None:
            object.__setattr__(self, "model_dir", str(self.model_dir))

    def replace(self, **changes: Any) -> RunConfig:
        """Return a copy with ``changes`` applied (TF's ``RunConfig.replace``).

        Examples
        --------
        >>> RunConfig().replace(save_checkpoints_steps=10).save_checkpoints_secs is None
        True
        """
        valid = [f.name for f in dataclasses.fields(self)]
        unknown = sorted(set(changes) - set(valid))
        if unknown:
            raise ValueError(f"RunConfig.replace: unknown parameter(s) {unknown}; valid ones are {valid}")
        if "save_checkpoints_steps" in changes and "save_checkpoints_secs" not in changes:
            changes["save_checkpoints_secs"] = None
        if "save_checkpoints_secs" in changes and "save_checkpoints_steps" not in changes:
            changes["save_checkpoints_steps"] = None
        if "random_seed" in changes and "tf_random_seed" not in changes:
            changes["tf_random_seed"] = changes["random_seed"]
        if "tf_random_seed" in changes and "random_seed" not in changes:
            changes["random_seed"] = changes["tf_random_seed"]
        return dataclasses.replace(self, **changes)

    # TF's cluster properties (TF read them from TF_CONFIG): where this process sits in a torchrun job, read from
    # the running process group or torchrun's environment when asked, so a config made before the job started
    # still answers for the process that reads it. Alone: TF's single-worker values.

    @property
    def task_type(self) -> str:
        """``"worker"``: torchrun's processes are peers (rank 0 is the chief)."""
        return "worker"

    @property
    def task_id(self) -> int:
        """This process's rank (0 when not distributed).

        Examples
        --------
        >>> RunConfig().task_id, RunConfig().is_chief, RunConfig().num_worker_replicas
        (0, True, 1)
        """
        from estlab.training import distributed

        return distributed.get_rank()

    @property
    def global_id_in_cluster(self) -> int:
        """This process's rank, as :attr:`task_id`."""
        return self.task_id

    @property
    def is_chief(self) -> bool:
        """True on rank 0, the process that writes checkpoints, summaries and exports."""
        return self.task_id == 0

    @property
    def num_worker_replicas(self) -> int:
        """Processes training together (torchrun's world size; 1 when alone)."""
        from estlab.training import distributed

        return distributed.get_world_size()

    @property
    def num_ps_replicas(self) -> int:
        """0: there are no parameter servers (gradients are all-reduced)."""
        return 0

    @property
    def cluster_spec(self) -> dict[str, list[str]]:
        """``{}``: torchrun names no per-worker addresses (TF's empty ``ClusterSpec`` as a dict); use
        :attr:`num_worker_replicas` and :attr:`task_id`."""
        return {}

    @property
    def master(self) -> str:
        """``""``, TF's value without a cluster."""
        return ""

    @property
    def evaluation_master(self) -> str:
        """``""``, TF's value without a cluster."""
        return ""

    @property
    def service(self) -> None:
        """None: no TF service."""
        return None

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The autocast dtype for ``mixed_precision`` (``None`` when off)."""
        return None if self.mixed_precision is None else _MIXED_PRECISION[self.mixed_precision]


#: rows per step of ``train(frame, ...)`` without ``batch_size``: TF's ``pandas_input_fn`` default, and on CUDA
#: devices a larger one (a step of a small tabular model costs about the same at 128 or 1,024 rows there)
DEFAULT_BATCH_SIZE = 128
DEFAULT_CUDA_BATCH_SIZE = 1024


def default_batch_size(device: torch.device) -> int:
    """Rows per training step when the user gives none (see :data:`DEFAULT_CUDA_BATCH_SIZE`).

    Examples
    --------
    >>> default_batch_size(torch.device("cpu")), default_batch_size(torch.device("cuda", 0))
    (128, 1024)
    """
    return DEFAULT_CUDA_BATCH_SIZE if device.type == "cuda" else DEFAULT_BATCH_SIZE


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Pick the device: ``"auto"`` tries CUDA, then MPS, then CPU.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if str(device) != "auto":
        try:
            return torch.device(device)
        except RuntimeError as error:
            raise ValueError(f"RunConfig: device {device!r} is not a torch device ({error}); use 'auto', 'cpu' or 'cuda'") from None
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def model_dir_of(model_dir: str | None, config: RunConfig) -> str | None:
    """The one model_dir given as ``model_dir`` or ``config.model_dir`` (None: neither); both must agree.

    Examples
    --------
    >>> model_dir_of(None, RunConfig(model_dir="runs/a"))
    'runs/a'
    >>> model_dir_of("runs/b", RunConfig(model_dir="runs/a"))
    Traceback (most recent call last):
    ...
    ValueError: model_dir='runs/b' differs from config.model_dir='runs/a'; pass only one of them, or the same directory to both
    """
    from pathlib import Path

    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be an estlab RunConfig, got {type(config).__name__}")
    if model_dir is not None and config.model_dir is not None and (
            Path(model_dir).expanduser().resolve() != Path(config.model_dir).expanduser().resolve()):
        raise ValueError(f"model_dir={str(model_dir)!r} differs from config.model_dir={config.model_dir!r}; "
                         "pass only one of them, or the same directory to both")
    return str(model_dir) if model_dir is not None else config.model_dir
