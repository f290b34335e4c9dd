"""Typed, validated configuration: ``params.yaml`` loaded into frozen dataclasses.

``params.yaml`` is the single source of configuration. :func:`load_params` reads it (optionally with
``key=value`` overrides, as ``dvc exp run -S`` writes them) into :class:`Params`. ``params.yaml`` is also the
only place a default value lives: the dataclasses below carry types, choices and valid ranges, never defaults, so
every key must be present. Every failure is a :class:`ConfigError` raised before any heavy work, naming the
offending key:

* an unknown key lists the keys valid at that level; a missing key is named (with its section);
* a value outside a fixed set of choices (a ``Literal`` annotation) lists the valid values;
* a value of the wrong type, or out of range, says what was expected.

Stages call ``load_params()`` first thing, so ``attention: foo`` fails in milliseconds.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml

Attention = Literal["none", "soft-atten", "soft-res", "prob-atten"]
Stream = Literal["rgb", "flow"]
DatasetName = Literal["synthetic", "ucf101", "hmdb51", "egtea", "ssv2", "charades"]

ATTENTIONS: tuple[str, ...] = get_args(Attention)
STREAMS: tuple[str, ...] = get_args(Stream)
DATASETS: tuple[str, ...] = get_args(DatasetName)

MOTION_PAIRS: dict[str, str] = {
    "left": "right", "right": "left",
    "up": "down", "down": "up",
    "toward": "away", "away": "toward",
    "cw": "ccw", "ccw": "cw",
}
ACTOR_KINDS: tuple[str, ...] = ("disc", "square", "star", "triangle", "cross")


class ConfigError(ValueError):
    """A configuration value is invalid. The message names the key and what is allowed."""


def _check(cond: bool, key: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"{key}: {msg}")


def _check_kinds(kinds: tuple[str, ...], key: str) -> None:
    for k in kinds:
        _check(k in ACTOR_KINDS, key, f"unknown kind {k!r}; valid values: {', '.join(ACTOR_KINDS)}")
    _check(len(set(kinds)) == len(kinds) and kinds, key, "must be a non-empty list without repeats")


# --------------------------------------------------------------------------------------------- sections
@dataclass(frozen=True)
class DatasetConfig:
    name: DatasetName
    split: int
    val_fraction: float

    def validate(self, key: str) -> None:
        _check(self.split in (1, 2, 3), f"{key}.split", f"must be 1, 2 or 3, got {self.split}")
        _check(0 <= self.val_fraction < 1, f"{key}.val_fraction", f"must be in [0, 1), got {self.val_fraction}")


@dataclass(frozen=True)
class SyntheticConfig:
    kinds: tuple[str, ...]
    motions: tuple[str, ...]
    videos_per_class: int
    groups: int
    test_groups: int
    frames: int
    fps: float
    width: int
    height: int
    difficulty: float
    distractors: int
    camera_motion: float
    codec: str
    placement: Literal["central", "whole-frame"]
    actor_scale: float       # actor (and distractor) size x this; < 1 with larger frames: small actors (focused crops)

    def validate(self, key: str) -> None:
        _check_kinds(self.kinds, f"{key}.kinds")
        for m in self.motions:
            _check(m in MOTION_PAIRS, f"{key}.motions", f"unknown motion {m!r}; valid values: {', '.join(MOTION_PAIRS)}")
        _check(len(set(self.motions)) == len(self.motions) and self.motions, f"{key}.motions", "must be a non-empty list without repeats")
        for m in self.motions:
            _check(MOTION_PAIRS[m] in self.motions, f"{key}.motions",
                   f"motions come in direction pairs: {m!r} needs {MOTION_PAIRS[m]!r}")
        _check(self.groups >= 2, f"{key}.groups", "must be >= 2")
        _check(1 <= self.test_groups < self.groups, f"{key}.test_groups", "must be in [1, groups)")
        _check(self.videos_per_class >= self.groups, f"{key}.videos_per_class", "must be >= groups")
        _check(self.frames >= 8, f"{key}.frames", "must be >= 8")
        _check(self.width >= 32 and self.height >= 32, key, "width and height must be >= 32")
        _check(self.fps > 0, f"{key}.fps", "must be > 0")
        _check(0.0 < self.difficulty <= 4.0, f"{key}.difficulty", "must be in (0, 4]")
        _check(self.distractors >= 0, f"{key}.distractors", "must be >= 0")
        _check(self.camera_motion >= 0, f"{key}.camera_motion", "must be >= 0")
        _check(0.1 <= self.actor_scale <= 2.0, f"{key}.actor_scale", "must be in [0.1, 2]")
        _check(len(self.codec) == 4, f"{key}.codec", "must be a FourCC of 4 characters, e.g. XVID, MJPG")


@dataclass(frozen=True)
class RemoteFile:
    """One official file: ``url`` (plus same-content ``mirrors``, tried in order) and its pinned SHA-256.

    A dataset without such a file writes ``{url: "", sha256: "", mirrors: []}`` (all three keys, as everywhere).
    """

    url: str
    sha256: str
    mirrors: tuple[str, ...]

    def validate(self, key: str) -> None:
        sha = self.sha256.strip().lower()
        _check(not sha or (len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)), f"{key}.sha256",
               f"must be 64 hex digits or empty, got {self.sha256!r}")


@dataclass(frozen=True)
class DownloadConfig:
    retries: int
    timeout: float
    cache_dir: str          # downloaded archives and weights (not a DVC output: never re-downloaded)
    manual_dir: str         # registration-only datasets (egtea, ssv2) are placed under <manual_dir>/<name>/
    videos: RemoteFile      # official video archive (ucf101, hmdb51)
    splits: RemoteFile      # official split files
    boxes: RemoteFile       # THUMOS'13 / UCF101-24 boxes (ucf101)

    def validate(self, key: str) -> None:
        _check(self.retries >= 0, f"{key}.retries", "must be >= 0")
        _check(self.timeout > 0, f"{key}.timeout", "must be > 0")


@dataclass(frozen=True)
class FramesConfig:
    fps: float
    width: int
    height: int
    encoding: Literal["jpg", "png"]
    quality: int
    workers: int

    def validate(self, key: str) -> None:
        _check(self.fps > 0, f"{key}.fps", "must be > 0")
        _check(self.width >= 16 and self.height >= 16, key, "width and height must be >= 16")
        _check(1 <= self.quality <= 100, f"{key}.quality", "must be in [1, 100]")
        _check(self.workers >= 1, f"{key}.workers", "must be >= 1")


@dataclass(frozen=True)
class TVL1Config:
    tau: float
    lambda_: float
    theta: float
    nscales: int
    warps: int
    epsilon: float
    inner_iterations: int
    outer_iterations: int
    scale_step: float
    gamma: float
    median_filtering: int

    def validate(self, key: str) -> None:
        _check(self.nscales >= 1 and self.warps >= 1, key, "nscales and warps must be >= 1")
        _check(0 < self.scale_step < 1, f"{key}.scale_step", "must be in (0, 1)")


@dataclass(frozen=True)
class DISConfig:
    preset: Literal["ultrafast", "fast", "medium"]


@dataclass(frozen=True)
class FarnebackConfig:
    pyr_scale: float
    levels: int
    winsize: int
    iterations: int
    poly_n: int
    poly_sigma: float


@dataclass(frozen=True)
class FlowConfig:
    method: Literal["tvl1", "tvl1-torch", "dis", "farneback"]
    bound: float
    reverse: Literal["backward", "negate"]
    encoding: Literal["png", "jpg"]
    quality: int
    workers: int
    tvl1: TVL1Config
    dis: DISConfig
    farneback: FarnebackConfig

    def validate(self, key: str) -> None:
        _check(self.bound > 0, f"{key}.bound", "must be > 0")
        _check(1 <= self.quality <= 100, f"{key}.quality", "must be in [1, 100]")
        _check(self.workers >= 1, f"{key}.workers", "must be >= 1")


@dataclass(frozen=True)
class ClipConfig:
    frames: int
    crop: int

    def validate(self, key: str) -> None:
        _check(self.frames >= 4, f"{key}.frames", "must be >= 4")
        _check(self.crop >= 32, f"{key}.crop", "must be >= 32")


@dataclass(frozen=True)
class AugmentConfig:
    flip: bool
    color_jitter: float
    scale_jitter: tuple[float, float]

    def validate(self, key: str) -> None:
        _check(0 <= self.color_jitter < 1, f"{key}.color_jitter", "must be in [0, 1)")
        lo, hi = self.scale_jitter
        _check(0 < lo <= hi <= 1, f"{key}.scale_jitter", "must be [lo, hi] with 0 < lo <= hi <= 1")


@dataclass(frozen=True)
class ModelConfig:
    width: float
    final_stride: Literal[1, 2]
    attention_channels: int
    dropout: float
    gumbel_temperature: float
    attention_bn_relu: bool
    bn_momentum: float
    pretrained_rgb: str
    pretrained_rgb_sha256: str
    pretrained_flow: str
    pretrained_flow_sha256: str

    def validate(self, key: str) -> None:
        _check(0 < self.width <= 2, f"{key}.width", "must be in (0, 2]")
        _check(self.attention_channels >= 1, f"{key}.attention_channels", "must be >= 1")
        _check(0 <= self.dropout < 1, f"{key}.dropout", "must be in [0, 1) (a drop probability)")
        _check(self.gumbel_temperature > 0, f"{key}.gumbel_temperature", "must be > 0")
        _check(0 < self.bn_momentum <= 1, f"{key}.bn_momentum", "must be in (0, 1]")

    def pretrained(self, stream: str) -> tuple[str, str]:
        """(path or URL, sha256) of the Kinetics initialisation for ``stream`` ("" = none)."""
        if stream == "rgb":
            return self.pretrained_rgb, self.pretrained_rgb_sha256
        return self.pretrained_flow, self.pretrained_flow_sha256


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    batch_size: int
    optimizer: Literal["sgd", "adam"]
    lr: float
    attention_lr_mult: float
    momentum: float
    weight_decay: float
    schedule: Literal["plateau", "cosine"]
    plateau_patience: int
    plateau_factor: float
    plateau_floor: float
    plateau_threshold: float
    nproc: int
    threads: int
    workers: int
    sync_bn: bool
    amp: bool
    channels_last: bool
    compile: bool

    def validate(self, key: str) -> None:
        _check(self.epochs >= 1, f"{key}.epochs", "must be >= 1")
        _check(self.batch_size >= 1, f"{key}.batch_size", "must be >= 1")
        _check(self.lr > 0, f"{key}.lr", "must be > 0")
        _check(self.attention_lr_mult > 0, f"{key}.attention_lr_mult", "must be > 0")
        _check(0 <= self.momentum < 1, f"{key}.momentum", "must be in [0, 1)")
        _check(self.weight_decay >= 0, f"{key}.weight_decay", "must be >= 0")
        _check(self.plateau_patience >= 0, f"{key}.plateau_patience", "must be >= 0")
        _check(0 < self.plateau_factor < 1, f"{key}.plateau_factor", "must be in (0, 1)")
        _check(0 <= self.plateau_floor <= 1, f"{key}.plateau_floor", "must be in [0, 1] (a fraction of each lr)")
        _check(0 <= self.plateau_threshold < 1, f"{key}.plateau_threshold",
               "must be in [0, 1) (a relative improvement of the validation loss)")
        _check(self.nproc >= 1, f"{key}.nproc", "must be >= 1")
        _check(self.threads >= 0, f"{key}.threads", "must be >= 0 (0 = this machine's cores / local processes)")
        _check(self.workers >= 0, f"{key}.workers", "must be >= 0")


@dataclass(frozen=True)
class DistillConfig:
    lambda1: float
    lambda2: float | Literal["auto"]
    kl_direction: Literal["teacher-student", "student-teacher"]
    ce: Literal["per-branch", "fused"]

    def validate(self, key: str) -> None:
        _check(self.lambda1 >= 0, f"{key}.lambda1", "must be >= 0")
        _check(self.lambda2 == "auto" or self.lambda2 >= 0, f"{key}.lambda2", "must be 'auto' or a number >= 0")


@dataclass(frozen=True)
class FeatureDistillConfig:
    weight: float

    def validate(self, key: str) -> None:
        _check(self.weight >= 0, f"{key}.weight", "must be >= 0")


@dataclass(frozen=True)
class MFRConfig:
    weight: float
    norm: Literal["l2", "mse"]

    def validate(self, key: str) -> None:
        _check(self.weight >= 0, f"{key}.weight", "must be >= 0")


@dataclass(frozen=True)
class W3Config:
    """The W3 module's readings of what its paper leaves open (papers/001 §3.1; docs/equations.md "W3")."""

    reduction: int           # r of the per-frame channel MLP (hidden size max(1, C // r))
    depthwise: bool          # per-channel 1-D temporal convolutions (Eq. 4) | C -> C ones

    def validate(self, key: str) -> None:
        _check(self.reduction >= 1, f"{key}.reduction", "must be >= 1")


@dataclass(frozen=True)
class StamConfig:
    """STAM (papers/003) and its frame-CNN baseline; readings in docs/equations.md, "STAM"."""

    backbone: Literal["small", "resnet50"]   # SmallFrameCNN (CPU default) | torchvision ResNet-50 (paper)
    width: int                 # SmallFrameCNN width: stages of width x (1, 2, 4, 8) channels
    pretrained: str            # resnet50: path or URL of an ImageNet state_dict ("" = random init)
    pretrained_sha256: str
    mask_hidden: tuple[int, int]   # the importance mask's two hidden widths (paper default 512, 128)
    attention_dim: int         # d of the Bahdanau scoring of Eq. 2
    hidden: int                # ConvLSTM hidden channels D (paper default 512)
    kernel: int                # ConvLSTM kernel (odd)
    steps: int                 # ConvLSTM steps T; 0 = one per input frame (T = n, the paper's)
    mean_input: bool           # Eq. 4 keeps its 1/n
    dropout: float             # before the FC layers (baseline and STAM)
    lambda_tv: float           # Eq. 7 weights (paper: 1e-5, 1e-4, 1)
    lambda_contrast: float
    lambda_unimodal: float
    two_step: bool             # fine-tune the frame CNN first (stam-frames), then train the head on its frozen
                               # features | false: STAM end to end from scratch

    def validate(self, key: str) -> None:
        _check(self.width >= 1 and self.attention_dim >= 1 and self.hidden >= 1 and min(self.mask_hidden) >= 1,
               key, "width, attention_dim, hidden and mask_hidden must be >= 1")
        _check(self.kernel >= 1 and self.kernel % 2 == 1, f"{key}.kernel", "must be an odd number >= 1")
        _check(self.steps >= 0, f"{key}.steps", "must be >= 0 (0 = one step per frame)")
        _check(0.0 <= self.dropout < 1.0, f"{key}.dropout", "must be in [0, 1)")
        _check(min(self.lambda_tv, self.lambda_contrast, self.lambda_unimodal) >= 0, key, "the lambdas must be >= 0")
        _check(self.backbone == "resnet50" or not self.pretrained, f"{key}.pretrained",
               "weights are for the resnet50 backbone only")


@dataclass(frozen=True)
class FocusConfig:
    """Focused crops (papers/004): the focus variant of the embedded benchmark and Table 2's fine-tunes
    (docs/equations.md, "Focus"; docs/synthetic.md)."""

    dataset: DatasetName       # what the focus_data stage prepares: the embedded variant, or charades (the paper's)
    actor_scale: float         # synthetic.actor_scale of the focus benchmark (small actors)
    raw: int                   # side of its rendered videos and of the stored "original" frames (square)
    input: int                 # side of its stored network frames, the standard view V_in (square)
    box: float                 # side of the focused box / side of the network input (paper: 128 / 224)
    epochs: int                # fine-tune epochs of every Table-2 model, from Base (paper: 25; Base 50)
    lr: float                  # fine-tune learning rate (paper: 0.02; Base 0.375)

    def validate(self, key: str) -> None:
        _check(0.1 <= self.actor_scale <= 2.0, f"{key}.actor_scale", "must be in [0.1, 2]")
        _check(32 <= self.input <= self.raw, key, "need 32 <= input <= raw (the original frames are the larger)")
        _check(0.0 < self.box < 1.0, f"{key}.box", "must be in (0, 1): a box smaller than the input")
        _check(self.epochs >= 1, f"{key}.epochs", "must be >= 1")
        _check(self.lr > 0, f"{key}.lr", "must be > 0")


@dataclass(frozen=True)
class PretrainConfig:
    """The pretraining benchmark (pretrain/dvc.yaml, opt-in): the embedded analogue of the paper's Kinetics
    initialisation (§3.6). It is the study's benchmark with another generation seed and actor kinds that no class
    of the study uses; an I3D trained on it initialises the study's (``model.pretrained_rgb``). docs/study.md."""

    seed: int                  # its generation seed (the study's is params ``seed``)
    kinds: tuple[str, ...]     # its actor kinds (disjoint from synthetic.kinds); motions as the study's
    epochs: int                # its training schedule (train.* otherwise, as the study's)
    train_seed: int            # its training seed

    def validate(self, key: str) -> None:
        _check(self.seed >= 0 and self.train_seed >= 0, key, "seed and train_seed must be >= 0")
        _check(self.epochs >= 1, f"{key}.epochs", "must be >= 1")
        _check_kinds(self.kinds, f"{key}.kinds")


@dataclass(frozen=True)
class EvaluateConfig:
    crops: Literal[1, 3]
    clips: int                 # clips per test video: 0 = every clip (the paper's protocol); N = N evenly spaced
    pool: Literal["mean", "max"]   # a video's score from its clips' (mean: the paper; max: Charades' 10-clip test)

    def validate(self, key: str) -> None:
        _check(self.clips >= 0, f"{key}.clips", "must be >= 0 (0 = every clip)")


@dataclass(frozen=True)
class LocalizeConfig:
    size: int
    tolerance: int
    center_sigma: float

    def validate(self, key: str) -> None:
        _check(self.size >= 4, f"{key}.size", "must be >= 4")
        _check(self.tolerance >= 0, f"{key}.tolerance", "must be >= 0")
        _check(self.center_sigma > 0, f"{key}.center_sigma", "must be > 0")


@dataclass(frozen=True)
class BenchmarkConfig:
    clips: int
    repeats: int
    paper_repeats: int

    def validate(self, key: str) -> None:
        _check(self.clips >= 1 and self.repeats >= 1 and self.paper_repeats >= 0, key,
               "clips and repeats must be >= 1, paper_repeats >= 0 (0 = no paper-setting measurement)")


@dataclass(frozen=True)
class Params:
    seed: int
    seeds: tuple[int, ...]
    attention: Attention
    dataset: DatasetConfig
    synthetic: SyntheticConfig
    download: DownloadConfig
    frames: FramesConfig
    flow: FlowConfig
    clip: ClipConfig
    augment: AugmentConfig
    model: ModelConfig
    train: TrainConfig
    distill: DistillConfig
    feature_distill: FeatureDistillConfig
    mfr: MFRConfig
    w3: W3Config
    stam: StamConfig
    focus: FocusConfig
    pretrain: PretrainConfig
    evaluate: EvaluateConfig
    localize: LocalizeConfig
    benchmark: BenchmarkConfig

    def validate(self, key: str) -> None:
        _check(self.seed >= 0, "seed", "must be >= 0")
        _check(len(self.seeds) >= 1 and len(set(self.seeds)) == len(self.seeds) and min(self.seeds) >= 0, "seeds",
               f"must be a non-empty list of distinct seeds >= 0, got {list(self.seeds)}")

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(self)


def pretraining_params(p: Params) -> Params:
    """The params of the pretraining benchmark and of its training run, derived from ``p``: the embedded benchmark
    (whatever ``dataset.name`` says) with ``pretrain.seed`` and ``pretrain.kinds``, trained for
    ``pretrain.epochs`` from random weights. Raises ConfigError when its kinds overlap the study's: it must share
    no actor with the study, as Kinetics shares no video with UCF101."""
    shared = sorted(set(p.pretrain.kinds) & set(p.synthetic.kinds))
    _check(not shared, "pretrain.kinds", f"must share no kind with synthetic.kinds; both have {', '.join(shared)}")
    return dataclasses.replace(
        p, seed=p.pretrain.seed,
        dataset=dataclasses.replace(p.dataset, name="synthetic"),
        synthetic=dataclasses.replace(p.synthetic, kinds=p.pretrain.kinds),
        model=dataclasses.replace(p.model, pretrained_rgb="", pretrained_rgb_sha256="", pretrained_flow="",
                                  pretrained_flow_sha256=""),
        train=dataclasses.replace(p.train, epochs=p.pretrain.epochs))


# --------------------------------------------------------------------------------------------- loading
def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _convert(tp: Any, value: Any, key: str) -> Any:
    """Convert a YAML value to annotation ``tp``, raising ConfigError with the key on mismatch."""
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return _build(tp, value, key)
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices or isinstance(value, bool) != any(isinstance(c, bool) for c in choices if c == value):
            raise ConfigError(f"{key}: invalid value {value!r}; valid values: {', '.join(map(str, choices))}")
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for arm in get_args(tp):
            try:
                return _convert(arm, value, key)
            except ConfigError as exc:
                errors.append(str(exc).split(": ", 1)[-1])
        raise ConfigError(f"{key}: invalid value {value!r} ({'; or '.join(errors)})")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{key}: expected a list of {len(args)} values, got {value!r}")
        return tuple(_convert(a, v, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported type {_type_name(tp)}")  # pragma: no cover


def _build(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    where = prefix or "params.yaml"
    unknown = [k for k in data if k not in names]
    if unknown:
        raise ConfigError(
            f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"valid keys: {', '.join(names)}"
        )
    missing = [k for k in names if k not in data]
    if missing:
        raise ConfigError(
            f"{where}: missing key{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}; "
            "every key must be set (params.yaml holds the defaults)"
        )
    obj = cls(**{name: _convert(hints[name], data[name], f"{prefix}.{name}" if prefix else name) for name in names})
    if hasattr(obj, "validate"):
        obj.validate(prefix or "params")
    return obj


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, tuple):
        return [_to_plain(v) for v in obj]
    return obj


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for k in keys[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{dotted}: {k} is not a section")
    node[keys[-1]] = value


def params_from_dict(data: dict[str, Any] | None, overrides: list[str] | tuple[str, ...] = ()) -> Params:
    """Build and validate :class:`Params` from a plain dict plus ``key=value`` overrides (YAML values)."""
    data = dict(data or {})
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected key=value")
        key, raw = item.split("=", 1)
        _set_dotted(data, key.strip(), yaml.safe_load(raw))
    return _build(Params, data)


def load_params(path: str | Path = "params.yaml", overrides: list[str] | tuple[str, ...] = ()) -> Params:
    """Read ``params.yaml`` (and overrides) into validated :class:`Params`; raises :class:`ConfigError`."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    with open(path) as fh:
        try:
            data = yaml.safe_load(fh) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return params_from_dict(data, overrides)


def add_params_arguments(ap) -> None:
    """``--params FILE`` and repeatable ``-S key=value`` (as ``dvc exp run -S`` writes them) for a stage CLI."""
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("-S", "--set", action="append", default=[], metavar="KEY=VALUE", help="override a param")


def add_pretraining_argument(ap) -> None:
    """``--pretraining``: the stage works on the pretraining benchmark (params ``pretrain``; pretrain/dvc.yaml)."""
    ap.add_argument("--pretraining", action="store_true",
                    help="use the pretraining benchmark's params (params pretrain: its seed, kinds and epochs)")


def params_from_cli(args) -> Params | None:
    """Load and validate the params named by :func:`add_params_arguments`; on a bad value print ``error: ...``
    to stderr and return None (the stage exits with code 2 before any work). With ``args.pretraining`` set
    (:func:`add_pretraining_argument`) they are the pretraining benchmark's (:func:`pretraining_params`)."""
    import sys

    try:
        params = load_params(args.params, getattr(args, "set", ()))
        return pretraining_params(params) if getattr(args, "pretraining", False) else params
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def main(argv: list[str] | None = None) -> int:
    """``python -m attdistill.config [params.yaml]``: validate and print the resolved configuration."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("params", nargs="?", default="params.yaml")
    ap.add_argument("-S", "--set", action="append", default=[], metavar="KEY=VALUE")
    p = params_from_cli(ap.parse_args(argv))
    if p is None:
        return 2
    yaml.safe_dump(p.to_dict(), sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
