"""Action localisation with attention maps (Table 4 of the supplement of "Attention Distillation for Learning Video
Representations", section "Does the attention help to localize actions?").

The paper's protocol: "we first rescale both attention maps and video frames into a fixed resolution (56 x 56).
We then enumerate all thresholds and binarize the attention map. Each threshold defines a point on the PR curve.
Given a binary attention map, a positive pixel is considered as a true positive if it is inside the bounding box,
or it is within 10-pixel 'tolerance zone' of the box. ... We report the best F1 score on the curve and its
corresponding precision and recall." Our exact reading, with ``S = localize.size`` and ``d = localize.tolerance``:

**Frames.** A test clip of ``T`` frames starting at stored frame ``s`` shows stored frames
``min(s + j, N - 1)``, ``j = 0 .. T-1`` (:func:`attdistill.data.dataset.clip_indices`: short videos repeat their
last frame). Stored frame ``k`` shows the scene at time ``k / fps`` (the frames stage's resampling rule; ``fps``
from the pack meta, else params ``frames.fps``), so its boxes are :meth:`VideoBoxes.boxes_at_time` ``(k / fps)``
scaled from source pixels to ``S x S`` by ``(S / source_width, S / source_height)`` (the stored frame is the whole
source frame, resized). Several boxes (actors) are united. A frame with no box (actor not annotated, or a video without annotations) is skipped.

**Slices to frames.** A map has ``T'`` time slices; slice ``tau`` covers clip frames
``[tau T / T', (tau + 1) T / T')`` (``attdistill.visualize.slice_for_frame``). Each slice is evaluated against the
box of *every* frame it covers, i.e. the map is upsampled in time by nearest neighbour, as it is upsampled in
space: the slice is the network's single summary of that interval, the actor moves within it, and scoring every
covered frame uses all annotations (the middle frame alone would use 1 frame in 8 for I3D maps and would score the
map against a box that is off by up to half a slice's motion in either direction). Overlapping test clips each
count their frames.

**Maps.** Each slice is resized to ``S x S`` (bilinear, ``cv2.resize``, pixel centres aligned) and normalised to
sum 1, so that a threshold means the same thing in every slice and clip (a spatial distribution of attention
over the frame; models that spread their space-time softmax unevenly over time are not penalised in the slices
with little mass). Thresholds are in these units.

**Precision and recall.** For a threshold ``t`` the positives ``P`` are the pixels with map value ``>= t``, pooled
over all evaluated frames (pixel-frame pairs). With ``B`` the box pixels (pixel centre inside a box; a non-empty
box covering no pixel centre still marks the pixel holding its centre) and ``Z`` the tolerance zone (pixel centre
inside the box grown by ``d`` pixels on every side, at the ``S x S`` scale; ``Z`` contains ``B``)::

    precision(t) = |P ∩ Z| / |P|        (a positive near the box is not a false positive)
    recall(t)    = |P ∩ B| / |B|        (the box must be covered; the zone does not count, so recall <= 1)

Every distinct map value is a threshold (:func:`pr_curve`); the reported point maximises
``F1 = 2 P R / (P + R)`` on that full curve (the highest threshold among ties). ``sklearn.metrics.
precision_recall_curve`` does not fit: it has one set of positives, while precision and recall here use two
(``Z`` and ``B``), and a slice pixel stands for several frames. Both curves therefore come from one descending
sort of the pixel values with numpy cumulative sums of per-pixel counts (how many covered frames, how many with
the pixel in ``B``, in ``Z``), which is exactly the pooled pixel-frame computation.

**Crops.** Maps cover the whole stored frame only with ``evaluate.crops: 1``; with 3 crops per clip
(MMAction2's ThreeCrop) :func:`localize` raises instead of guessing how crops map back to the frame.

Maps evaluated (ids): ``center-prior`` (a Gaussian at the frame centre, std = ``center_sigma x S``, the paper's
"fixed Gaussian distribution"), ``uniform`` (every pixel positive: precision = zone coverage, recall = 1),
``soft-atten-rgb`` / ``soft-atten-flow`` (Table 1 Soft-Atten models), ``distill-appearance`` /
``distill-motion`` (the student's two maps, "Our Appearance / Our Motion"), and, when their maps exist, the other
Table 1 attention models (``soft-res-*``, ``prob-atten-*``) and the MFR second stage (``mfr-*``). The priors are
scored on the frames of the first required model's clips, the same frames as every other map. :data:`MAP_SOURCES`
says which model's ``maps.npz`` branch each id reads; :func:`localize` is given each model's evaluation folder.

Steps: :func:`load_maps` (build: the maps files), :func:`score_maps` (score: targets of each clip, PR curves, the
best-F1 points), :func:`write_results` (write: ``metrics.json`` and the curves' CSVs).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .. import methods
from ..config import LocalizeConfig
from ..data import boxes as B
from ..data.dataset import clip_indices
from ..data.index import VideoIndex
from ..data.packs import Pack, pack_path
from ..visualize import slice_for_frame
from .paths import write_json

PRIOR = "prior"   # the "model" of the maps generated here, not read
_PRIORS: dict[str, tuple[str, str]] = {"center-prior": (PRIOR, "center"), "uniform": (PRIOR, "uniform")}
_MODEL_MAPS = methods.localization_maps()            # declared by each model: map id -> (model id, branch)
_TABLE4 = {row.key for _, row in methods.table_rows("table4")}
# id -> (model id, maps.npz branch): the centre prior and the maps of Table 4 are required, the rest optional.
REQUIRED_MAPS: dict[str, tuple[str, str]] = {"center-prior": _PRIORS["center-prior"],
                                             **{k: v for k, v in _MODEL_MAPS.items() if k in _TABLE4}}
OPTIONAL_MAPS: dict[str, tuple[str, str]] = {"uniform": _PRIORS["uniform"],
                                             **{k: v for k, v in _MODEL_MAPS.items() if k not in _TABLE4}}
MAP_SOURCES: dict[str, tuple[str, str]] = {**REQUIRED_MAPS, **OPTIONAL_MAPS}   # scored in this order
MAX_PLOT_POINTS = 200


# --------------------------------------------------------------------------------------------- PR curve
@dataclass
class PRCurve:
    """Precision and recall at every distinct threshold, thresholds descending (recall ascending)."""

    thresholds: np.ndarray   # (P,)
    precision: np.ndarray    # (P,)
    recall: np.ndarray       # (P,)

    @property
    def f1(self) -> np.ndarray:
        s = self.precision + self.recall
        return np.divide(2 * self.precision * self.recall, s, out=np.zeros_like(s), where=s > 0)

    def best(self) -> dict[str, float]:
        """The best-F1 point: {precision, recall, f1, threshold} (highest threshold among ties)."""
        if len(self.thresholds) == 0:
            raise ValueError("empty PR curve: no evaluated pixels")
        i = int(np.argmax(self.f1))
        return {"precision": float(self.precision[i]), "recall": float(self.recall[i]),
                "f1": float(self.f1[i]), "threshold": float(self.thresholds[i])}

    def subsample(self, max_points: int = MAX_PLOT_POINTS) -> "PRCurve":
        """At most ``max_points`` points for plotting, evenly spaced along the curve, always keeping its two ends
        and the best-F1 point."""
        n = len(self.thresholds)
        if n <= max_points:
            return self
        keep = np.unique(np.r_[np.linspace(0, n - 1, max_points - 1).round().astype(np.int64),
                               int(np.argmax(self.f1))])
        return PRCurve(self.thresholds[keep], self.precision[keep], self.recall[keep])


def pr_curve(scores: np.ndarray, box_hits: np.ndarray, zone_hits: np.ndarray,
             weights: np.ndarray | None = None) -> PRCurve:
    """Pooled localisation PR curve over every distinct value of ``scores`` (see the module docstring).

    scores:    (N,) map value of each pixel;
    box_hits:  (N,) number of evaluated frames in which the pixel is inside a box (0/1 for a single frame);
    zone_hits: (N,) ... inside the tolerance zone (>= box_hits);
    weights:   (N,) number of evaluated frames the pixel stands for (default 1).
    Positives at threshold t are the pixels with score >= t; precision = zone hits / positives,
    recall = box hits / all box hits.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    box_hits = np.asarray(box_hits, dtype=np.int64).ravel()
    zone_hits = np.asarray(zone_hits, dtype=np.int64).ravel()
    weights = np.ones_like(box_hits) if weights is None else np.asarray(weights, dtype=np.int64).ravel()
    if not (len(scores) == len(box_hits) == len(zone_hits) == len(weights)):
        raise ValueError("scores, box_hits, zone_hits and weights must have the same length")
    if (zone_hits < box_hits).any() or (weights < zone_hits).any():
        raise ValueError("need box_hits <= zone_hits <= weights for every pixel")
    keep = weights > 0
    scores, box_hits, zone_hits, weights = scores[keep], box_hits[keep], zone_hits[keep], weights[keep]
    if box_hits.sum() == 0:
        raise ValueError("no box pixels among the evaluated frames: recall is undefined")
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    n_pos = np.cumsum(weights[order])
    tp_zone = np.cumsum(zone_hits[order])
    tp_box = np.cumsum(box_hits[order])
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]   # last pixel of each run of equal values
    return PRCurve(s[last], tp_zone[last] / n_pos[last], tp_box[last] / tp_box[-1])


# --------------------------------------------------------------------------------------------- maps
def center_prior(size: int, sigma: float) -> np.ndarray:
    """(size, size) Gaussian at the frame centre with std ``sigma * size`` pixels, summing to 1."""
    c = (np.arange(size) + 0.5 - size / 2) / (sigma * size)
    g = np.exp(-0.5 * (c[:, None] ** 2 + c[None, :] ** 2))
    return g / g.sum()


def resize_maps(maps: np.ndarray, size: int) -> np.ndarray:
    """(T', H', W') map slices -> (T', size, size), bilinear, each slice normalised to sum 1.

    A slice with no mass (all zero) becomes uniform.
    """
    maps = np.asarray(maps, dtype=np.float32)
    out = np.stack([cv2.resize(m, (size, size), interpolation=cv2.INTER_LINEAR) for m in maps])
    out = np.clip(out, 0, None).astype(np.float64)
    total = out.sum(axis=(1, 2), keepdims=True)
    return np.where(total > 0, out / np.where(total > 0, total, 1), 1.0 / (size * size))


def box_masks(boxes: list[B.Box], sx: float, sy: float, size: int, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """(box, zone) boolean (size, size) masks of the union of ``boxes`` (source pixels) scaled by (sx, sy).

    A pixel is in a box when its centre is; the zone is every box grown by ``tolerance`` pixels on each side.
    """
    centre = np.arange(size) + 0.5
    box = np.zeros((size, size), bool)
    zone = np.zeros((size, size), bool)
    for b in boxes:
        x1, y1, x2, y2 = B.scale_box(b, sx, sy)
        inside = ((centre >= y1) & (centre < y2))[:, None] & ((centre >= x1) & (centre < x2))[None, :]
        if not inside.any() and x2 > x1 and y2 > y1:
            cy, cx = (y1 + y2) / 2, (x1 + x2) / 2
            if 0 <= cx < size and 0 <= cy < size:
                inside[int(cy), int(cx)] = True
        box |= inside
        d = tolerance
        zone |= ((centre >= y1 - d) & (centre < y2 + d))[:, None] & ((centre >= x1 - d) & (centre < x2 + d))[None, :]
    return box, zone | box


def slice_frames(clip_frames: int, slices: int) -> list[list[int]]:
    """Clip frames covered by each of the ``slices`` (T') map slices of a clip of ``clip_frames`` (T) frames."""
    out: list[list[int]] = [[] for _ in range(slices)]
    for j in range(clip_frames):
        out[slice_for_frame(j, clip_frames, slices)].append(j)
    return out


@dataclass
class Targets:
    """Per map slice: how many evaluated frames it covers, and per pixel in how many of them it is in a box / zone."""

    weights: np.ndarray     # (M, T') int
    box_hits: np.ndarray    # (M, T', S, S) int
    zone_hits: np.ndarray   # (M, T', S, S) int

    @property
    def frames_evaluated(self) -> int:
        return int(self.weights.sum())


class FrameBoxes:
    """Box / zone masks of stored frames at the S x S scale, cached per (video, stored frame)."""

    def __init__(self, boxes: dict[str, B.VideoBoxes], frames_dir: str | os.PathLike, fps: float | None,
                 cfg: LocalizeConfig):
        self.boxes, self.frames_dir, self.fps, self.cfg = boxes, Path(frames_dir), fps, cfg
        self._len: dict[str, tuple[int, float]] = {}
        self._masks: dict[tuple[str, int], tuple[np.ndarray, np.ndarray] | None] = {}

    def video(self, video_id: str) -> tuple[int, float]:
        """(stored frame count, stored fps) of a video, from its frames pack (:func:`stored_fps`)."""
        if video_id not in self._len:
            path = pack_path(self.frames_dir, video_id)
            if not path.exists():
                raise FileNotFoundError(f"{path}: frames pack of test video {video_id} not found")
            with Pack(path) as p:
                n, fps = len(p), stored_fps(p.meta, self.fps, path)
            self._len[video_id] = (n, fps)
        return self._len[video_id]

    def masks(self, video_id: str, frame: int) -> tuple[np.ndarray, np.ndarray] | None:
        key = (video_id, frame)
        if key not in self._masks:
            vb = self.boxes[video_id]
            _, fps = self.video(video_id)
            found = vb.boxes_at_time(frame / fps)
            s = self.cfg.size
            self._masks[key] = (box_masks(found, s / vb.width, s / vb.height, s, self.cfg.tolerance)
                                if found else None)
        return self._masks[key]


def stored_fps(meta: dict, default: float | None, path: Path | str = "") -> float:
    """Frame rate of the stored frames: the pack meta's ``fps`` (the frames stage records the rate it resampled
    to there; the source rate is ``meta["source"]["fps"]``), else ``default`` (params ``frames.fps``)."""
    value = meta.get("fps")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    if default is not None:
        return float(default)
    raise ValueError(f"{path}: the pack does not record its stored frame rate (meta fps); pass fps "
                     "(params frames.fps)")


def clip_targets(video_ids: np.ndarray, clip_video: np.ndarray, clip_start: np.ndarray, clip_frames: int,
                 slices: int, frames: FrameBoxes) -> Targets:
    """Targets of every clip's ``slices`` time slices (see the module docstring, "Slices to frames")."""
    s = frames.cfg.size
    m = len(clip_video)
    weights = np.zeros((m, slices), np.int64)
    box_hits = np.zeros((m, slices, s, s), np.int32)
    zone_hits = np.zeros((m, slices, s, s), np.int32)
    covered = slice_frames(clip_frames, slices)
    for i, (v, start) in enumerate(zip(clip_video, clip_start)):
        vid = str(video_ids[int(v)])
        if vid not in frames.boxes:
            continue
        n, _ = frames.video(vid)
        stored = clip_indices(int(start), clip_frames, n)[0]
        for tau, js in enumerate(covered):
            for j in js:
                bz = frames.masks(vid, int(stored[j]))
                if bz is None:
                    continue
                weights[i, tau] += 1
                box_hits[i, tau] += bz[0]
                zone_hits[i, tau] += bz[1]
    return Targets(weights, box_hits, zone_hits)


def evaluate_maps(slice_maps: np.ndarray, targets: Targets) -> PRCurve:
    """PR curve of (M, T', S, S) normalised slice maps against their targets."""
    if slice_maps.shape != targets.box_hits.shape:
        raise ValueError(f"maps {slice_maps.shape} do not match targets {targets.box_hits.shape}")
    w = np.broadcast_to(targets.weights[:, :, None, None], slice_maps.shape)
    return pr_curve(slice_maps, targets.box_hits, targets.zone_hits, w)


# --------------------------------------------------------------------------------------------- maps.npz
@dataclass
class MapsFile:
    video_ids: np.ndarray
    clip_video: np.ndarray
    clip_start: np.ndarray
    clip_frames: int
    frame_hw: tuple[int, int]
    maps: dict[str, np.ndarray]   # branch -> (M, T', H', W')

    @classmethod
    def load(cls, path: str | os.PathLike) -> "MapsFile":
        with np.load(path) as z:
            maps = {k[len("maps_"):]: z[k] for k in z.files if k.startswith("maps_")}
            return cls(z["video_ids"].astype(str), z["clip_video"], z["clip_start"], int(z["clip_frames"]),
                       tuple(int(x) for x in z["frame_hw"]), maps)

    def check_full_frame(self, path: str | os.PathLike) -> None:
        """Raise if the maps do not cover the whole stored frame (several crops per clip)."""
        pairs = np.stack([self.clip_video, self.clip_start], 1)
        if len(np.unique(pairs, axis=0)) != len(pairs):
            raise ValueError(f"{path}: several maps per clip (evaluate.crops 3?); localisation needs maps of the "
                             "full frame: re-run evaluate with evaluate.crops 1")
        h, w = self.frame_hw
        for name, m in self.maps.items():
            hp, wp = m.shape[-2:]
            if abs(wp - hp * w / h) > 1.0 + 1e-9:
                raise ValueError(f"{path}: maps_{name} of {hp}x{wp} cells cannot cover a {h}x{w} frame "
                                 "(cropped evaluation?); re-run evaluate with evaluate.crops 1")

    def clips_key(self) -> tuple:
        return (tuple(self.video_ids), self.clip_video.tobytes(), self.clip_start.tobytes(), self.clip_frames)


# --------------------------------------------------------------------------------------------- build
def resolve_boxes(index: VideoIndex, index_path: Path) -> Path | None:
    if not index.boxes:
        return None
    p = Path(index.boxes)
    if p.is_absolute() or p.exists():
        return p
    beside = index_path.parent / p
    return beside if beside.exists() else p


def model_ids(sources: dict[str, tuple[str, str]]) -> list[str]:
    """The models (not the priors) whose maps ``sources`` reads, each once, in declaration order."""
    return list(dict.fromkeys(model for model, _ in sources.values() if model != PRIOR))


def load_maps(eval_dirs: dict[str, str | os.PathLike]) -> dict[str, MapsFile | None]:
    """The ``maps.npz`` of each evaluated model, by model id (``eval_dirs``: model id -> its evaluation folder).

    Only the models of :data:`MAP_SOURCES` may be given, and each of :data:`REQUIRED_MAPS` must be; a model without
    ``maps.npz`` is left out, except a required one, which must at least have been evaluated (``scores.npz``,
    then ``None``: a model trained without attention).
    """
    dirs = {model: Path(d) for model, d in eval_dirs.items()}
    unknown = sorted(set(dirs) - set(model_ids(MAP_SOURCES)))
    if unknown:
        raise ValueError(f"evaluation folders of models without localisation maps: {', '.join(unknown)}; the "
                         f"models localised are {', '.join(model_ids(MAP_SOURCES))}")
    missing = [m for m in model_ids(REQUIRED_MAPS) if m not in dirs]
    if missing:
        raise ValueError(f"no evaluation folder given for {', '.join(missing)} (required: "
                         f"{', '.join(model_ids(REQUIRED_MAPS))})")
    loaded: dict[str, MapsFile | None] = {}
    for model in model_ids(MAP_SOURCES):
        if model not in dirs:
            continue
        path = dirs[model] / "maps.npz"
        if path.exists():
            loaded[model] = MapsFile.load(path)
            loaded[model].check_full_frame(path)
        elif model in model_ids(REQUIRED_MAPS):
            if not (dirs[model] / "scores.npz").exists():
                raise FileNotFoundError(f"{path}: not found, and {model} was not evaluated "
                                        f"(no {dirs[model] / 'scores.npz'}); run the evaluate stage")
            loaded[model] = None   # evaluated, but a model without attention maps
    return loaded


# --------------------------------------------------------------------------------------------- score
class TargetCache:
    """:func:`clip_targets` per (clips of a maps file, slice count): maps scored on the same clips share them."""

    def __init__(self, frames: FrameBoxes):
        self.frames = frames
        self._cache: dict[tuple, Targets] = {}

    def __call__(self, mf: MapsFile, slices: int) -> Targets:
        key = (mf.clips_key(), slices)
        if key not in self._cache:
            self._cache[key] = clip_targets(mf.video_ids, mf.clip_video, mf.clip_start, mf.clip_frames, slices,
                                            self.frames)
        return self._cache[key]


def _slice_maps(model: str, branch: str, mf: MapsFile, targets: TargetCache,
                cfg: LocalizeConfig) -> tuple[np.ndarray, Targets]:
    """(M, T', S, S) normalised slice maps of one map id and the targets they are scored against. A prior is one
    (S, S) map for every clip of ``mf`` (the reference model's clips)."""
    if model == PRIOR:
        t = targets(mf, 1)
        prior = center_prior(cfg.size, cfg.center_sigma) if branch == "center" else \
            np.full((cfg.size, cfg.size), 1.0 / cfg.size ** 2)
        return np.broadcast_to(prior, t.box_hits.shape), t
    maps = mf.maps[branch]                                           # (M, T', H', W')
    return np.stack([resize_maps(m, cfg.size) for m in maps]), targets(mf, maps.shape[1])


def _unscored(frames_evaluated: int, note: str) -> dict:
    return {"precision": None, "recall": None, "f1": None, "threshold": None, "frames_evaluated": frames_evaluated,
            "note": note}


def score_maps(loaded: dict[str, MapsFile | None], frames: FrameBoxes,
               cfg: LocalizeConfig) -> tuple[dict[str, dict], dict[str, PRCurve]]:
    """({map id: best-F1 point and frames_evaluated, or null values and a note}, {map id: its full PR curve})
    for every map id of :data:`MAP_SOURCES` whose model was loaded, every required one."""
    required = model_ids(REQUIRED_MAPS)
    reference = next((loaded[m] for m in required if loaded.get(m) is not None), None)
    if reference is None:
        raise FileNotFoundError(f"no maps.npz of any of {sorted(required)}")
    targets = TargetCache(frames)
    result: dict[str, dict] = {}
    curves: dict[str, PRCurve] = {}
    for map_id, (model, branch) in MAP_SOURCES.items():
        mf = reference if model == PRIOR else loaded.get(model)
        if model != PRIOR and (mf is None or branch not in mf.maps):
            if map_id in REQUIRED_MAPS:
                result[map_id] = _unscored(0, f"{model} has no {branch!r} attention map (trained without attention?)")
            continue
        slice_maps, t = _slice_maps(model, branch, mf, targets, cfg)
        if t.frames_evaluated == 0 or t.box_hits.sum() == 0:
            result[map_id] = _unscored(t.frames_evaluated, "no test frame of these clips has a box")
            continue
        curve = evaluate_maps(slice_maps, t)
        result[map_id] = {**curve.best(), "frames_evaluated": t.frames_evaluated}
        curves[map_id] = curve
    return result, curves


# --------------------------------------------------------------------------------------------- write
def write_curve(path: Path, curve: PRCurve, max_points: int = MAX_PLOT_POINTS) -> None:
    """``recall, precision, threshold`` CSV of at most ``max_points`` points (for ``dvc plots`` and figures)."""
    sub = curve.subsample(max_points)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(["recall", "precision", "threshold"])
        for r, p, t in zip(sub.recall, sub.precision, sub.thresholds):
            wr.writerow([f"{r:.6g}", f"{p:.6g}", f"{t:.6g}"])


def write_results(out_dir: Path, result: dict, curves: dict[str, PRCurve], max_points: int) -> None:
    """``out_dir/pr/<map id>.csv`` for each curve (old ones removed first), then ``out_dir/metrics.json``."""
    pr_dir = out_dir / "pr"
    if pr_dir.is_dir():
        for old in pr_dir.glob("*.csv"):
            old.unlink()
    for map_id, curve in curves.items():
        write_curve(pr_dir / f"{map_id}.csv", curve, max_points)
    write_json(result, out_dir / "metrics.json")


# --------------------------------------------------------------------------------------------- stage
def localize(eval_dirs: dict[str, str | os.PathLike], index_path: str | os.PathLike, frames_dir: str | os.PathLike,
             cfg: LocalizeConfig, out_dir: str | os.PathLike, *, fps: float | None, crops: int,
             max_points: int = MAX_PLOT_POINTS) -> dict:
    """Score every attention map for localisation; write ``<out_dir>/metrics.json`` and ``<out_dir>/pr/<id>.csv``.

    ``eval_dirs``: model id -> evaluation folder (``maps.npz``) of the models of :data:`MAP_SOURCES` (see
    :func:`load_maps`); ``index_path`` names the boxes file; ``frames_dir``: the frame packs (frame counts, rate).
    metrics.json: ``{id: {precision, recall, f1, threshold, frames_evaluated}}`` (fractions; threshold in the
    per-slice normalised units of :func:`resize_maps`). ``fps``: stored frame rate when a pack's meta has none
    (params ``frames.fps``; ``None``: every pack must record it); ``crops``: params ``evaluate.crops`` (must be 1).
    A dataset without boxes gets ``{"note": ...}``. A required map whose model has no attention maps (trained with
    ``attention: none``) gets null values and a note.
    """
    index_path, out_dir = Path(index_path), Path(out_dir)
    if crops != 1:
        raise ValueError(f"evaluate.crops is {crops}: localisation needs attention maps of the full frame "
                         "(evaluate.crops 1)")
    index = VideoIndex.load(index_path)
    boxes_path = resolve_boxes(index, index_path)
    if boxes_path is None:
        result = {"note": f"dataset {index.dataset!r} has no bounding boxes (index.boxes is empty): "
                          "no localisation metrics"}
        write_results(out_dir, result, {}, max_points)
        return result
    if not boxes_path.exists():
        raise FileNotFoundError(f"{boxes_path}: boxes file named by {index_path} not found")
    frames = FrameBoxes(B.load(boxes_path), frames_dir, fps, cfg)
    result, curves = score_maps(load_maps(eval_dirs), frames, cfg)
    write_results(out_dir, result, curves, max_points)
    return result
