"""Clip datasets over frame and flow packs: RGB clips, flow clips, and aligned RGB + flow pairs.

Inputs (one pack per video, :mod:`attdistill.data.packs`):

* ``<frames_dir>/<video_id>.pack``: N RGB frames (H, W, 3) uint8;
* ``<flow_dir>/<video_id>.pack``: N - 1 quantised flow fields (H, W, 2) uint8, field k = flow from frame k to k + 1;
* ``<flow_reversed_dir>/<video_id>.pack`` (test videos, ``flow.reverse: backward``): the N - 1 fields of the
  time-reversed video, in reversed-video order.

**Clip definition** (the same for every modality, so RGB, flow and fused models see the same clips): a clip of
``T = clip.frames`` frames starting at ``s`` uses RGB frames ``s .. s+T-1`` and flow fields ``s .. s+T-1``.
Usable starts are ``0 .. N-1-T`` (the last RGB frame has no outgoing flow, so it is never used when N > T).
*Short videos* (N < T + 1): the clip starts at 0 and is padded by repeating the last frame / field, i.e. RGB
index ``min(k, N-1)`` and flow index ``min(k, N-2)`` for ``k = 0 .. T-1``.

**Training item** (paper §3.6: random flipping, cropping and colour perturbation), all drawn from
``np.random.default_rng((seed, epoch, i))`` in this fixed order, whatever the modality (so an RGB, a flow and an
RGB + flow dataset with the same seed give the same clip, crop and flip for item i):

1. temporal offset ``s ~ U{0 .. N-1-T}``;
2. square crop of side ``U(augment.scale_jitter) x short side`` at a uniform position, resized (bilinear) to
   ``clip.crop x clip.crop`` (flow values are not rescaled, as in I3D / MMAction2);
3. horizontal flip with p = 0.5 when ``augment.flip`` and ``index.can_flip()``: label -> ``index.flip_label``,
   flow x negated (``q -> 255 - q``);
4. brightness / contrast / saturation factors ``U(1 ± augment.color_jitter)``, the same for every frame of the
   clip, RGB only (one affine 3 x 4 colour map on the uint8 crop, rounded and saturated;
   :func:`attdistill.data.transforms.color_matrix`). Factors are drawn even when the amplitude is 0 or the
   modality is flow, so every configuration consumes the same random stream.

**Targets**: the class index, or for a multi-label index (``metric: "mAP"``, Charades) the video's multi-hot
(K,) float32 targets (its actions' classes; flips map each class with ``index.flip_label``).

**Test item**: every clip of the video (``test_clips`` N > 0: N clips spread evenly, :func:`spaced_clip_starts`,
the focused-crop paper's 10-clip test): starts ``0, T, 2T, ...`` plus one clip aligned to the end
(start ``N-1-T``) when they do not reach the last usable frame ``N-2``; at the full stored resolution
(``crops=1``, the paper tests on full 320 x 256 frames) or three squares of side = short side at the start,
centre and end of the long side (``crops=3``, MMAction2's ThreeCrop). Views are ordered clip-major:
view ``j * crops + c`` is crop ``c`` of the clip starting at ``starts[j]``.

**Reversed time** (Table 5, "arrow of time"; ``reverse_time=True``): the item is a clip of the time-reversed
video ``R_j = F_{N-1-j}``. Its flow field j is read from ``flow_reversed_dir`` (``reverse_flow="backward"``,
TV-L1 on the reversed pairs) or approximated as ``-(forward field N-2-j)`` (``"negate"``: ``q -> 255 - q`` on both
channels; exact for a pure translation, approximate otherwise because the field is attached to the other frame).
The label is unchanged (the evaluation maps it with ``index.reverse_map`` where it needs to).

Items are dicts ``{"rgb": (C, T, H, W), "flow": ..., "label": int, "index": i, "video_id": str}`` (only the
requested modalities), values ``x / 127.5 - 1`` in [-1, 1] (flow: ``f / bound``); test items hold
``(K, C, T, H, W)`` with ``K = len(starts) * crops`` and ``"starts"``.

**Original frames** (focused crops, papers/004; ``raw_dir``): the same videos stored larger,
``<raw_dir>/<video_id>.pack``. RGB items then also hold the clip's frames there, ``"raw"`` (T, H', W', 3) uint8
(test items: one per clip, (J, T, H', W', 3)), how the network input was cut from the stored frames,
``"geometry"`` (9,) float64 = ``GEOMETRY`` (test items: one row per view), and, for training items, the colour
factors ``"color"`` (3,) (drawn as in step 4) and ``"focus_u"`` (2,) uniform numbers for a random box, drawn after
everything else (so the other items' randomness is unchanged); test items draw ``"focus_u"`` (K, 2) from
``default_rng((seed, i))``.

Packs are opened lazily in each process (a forked DataLoader worker never reuses its parent's file handles);
``cache=True`` keeps each video's decoded uint8 frames in memory (call :meth:`ClipDataset.preload` before
creating workers to share one decoded copy with them, copy-on-write).
"""

from __future__ import annotations

import os
import random
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from torch.utils.data import Dataset

from ..config import AugmentConfig, ClipConfig
from . import transforms as TF
from .index import SPLITS, VideoIndex, VideoRecord
from .packs import Pack, PackError, pack_path

MODALITIES: tuple[str, ...] = ("rgb", "flow", "rgb+flow")
REVERSE_FLOWS: tuple[str, ...] = ("backward", "negate")
CROPS: tuple[int, ...] = (1, 3)
MAX_OPEN_PACKS = 64  # open file handles kept per process (uncached reading)
# the "geometry" row of an item with original frames: the stored frame size, the crop box in it, the size the crop
# was resized to (the network input), and the horizontal flip (1.0) that followed
GEOMETRY: tuple[str, ...] = ("source_h", "source_w", "crop_y", "crop_x", "crop_h", "crop_w", "size_h", "size_w", "flip")


# --------------------------------------------------------------------------------------------- clip indices
def clip_indices(start: int, frames: int, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(RGB frame indices, flow field indices) of the clip of ``frames`` frames starting at ``start``.

    Frame k of the clip is RGB frame ``start + k`` and flow field ``start + k`` (the flow from that frame to the
    next); indices past the end repeat the last frame (``num_frames - 1``) / field (``num_frames - 2``).
    """
    k = start + np.arange(frames)
    return np.minimum(k, num_frames - 1), np.minimum(k, max(num_frames - 2, 0))


def max_start(frames: int, num_frames: int) -> int:
    """Last usable clip start ``N - 1 - T`` (0 for videos shorter than T + 1 frames)."""
    return max(num_frames - 1 - frames, 0)


def spaced_clip_starts(num_frames: int, frames: int, clips: int) -> list[int]:
    """Starts of ``clips`` clips of ``frames`` frames spread evenly over a video of ``num_frames`` frames (the
    10-clip test of the focused-crop paper): ``floor(linspace(0, N - 1 - T, clips) + 0.5)``, with the last usable
    start of :func:`max_start` (all 0 for short videos)."""
    if clips < 1:
        raise ValueError(f"clips must be >= 1, got {clips}")
    return [int(s) for s in np.floor(np.linspace(0, max_start(frames, num_frames), clips) + 0.5)]


def stack_labels(labels: list) -> torch.Tensor:
    """Items' labels as one tensor: (B,) class indices, or (B, K) multi-hot targets (a multi-label index)."""
    return torch.stack(labels) if torch.is_tensor(labels[0]) else torch.tensor(labels, dtype=torch.long)


def all_clip_starts(frames: int, num_frames: int) -> list[int]:
    """Starts of the test clips: ``0, T, 2T, ...`` and one aligned to the end if needed, covering 0 .. N-2."""
    last = max_start(frames, num_frames)
    starts = list(range(0, last + 1, frames))
    if starts[-1] != last:
        starts.append(last)
    return starts


# --------------------------------------------------------------------------------------------- dataset
class ClipDataset(Dataset):
    """Clips of one split of ``index`` for modality ``rgb``, ``flow`` or ``rgb+flow`` (see the module docstring)."""

    def __init__(self, index: VideoIndex, split: str, modality: str, clip: ClipConfig, augment: AugmentConfig, *,
                 frames_dir: str | os.PathLike, flow_dir: str | os.PathLike | None,
                 flow_reversed_dir: str | os.PathLike | None = None,
                 train: bool | None = None, reverse_time: bool = False, reverse_flow: str = "backward",
                 crops: int = 1, seed: int = 0, cache: bool = False, exclude: Iterable[str] = (),
                 middle_clip_only: bool = False, raw_dir: str | os.PathLike | None = None, test_clips: int = 0):
        if modality not in MODALITIES:
            raise ValueError(f"modality {modality!r} is not valid; valid values: {', '.join(MODALITIES)}")
        if reverse_flow not in REVERSE_FLOWS:
            raise ValueError(f"reverse_flow {reverse_flow!r} is not valid; valid values: {', '.join(REVERSE_FLOWS)}")
        if crops not in CROPS:
            raise ValueError(f"crops {crops!r} is not valid; valid values: {', '.join(map(str, CROPS))}")
        if split not in SPLITS:
            raise ValueError(f"split {split!r} is not valid; valid values: {', '.join(SPLITS)}")
        self.index = index
        self.split = split
        self.modality = modality
        self.streams: tuple[str, ...] = ("rgb", "flow") if modality == "rgb+flow" else (modality,)
        self.clip = clip
        self.augment = augment
        self.frames_dir = Path(frames_dir)
        if flow_dir is None and "flow" in self.streams:
            raise ValueError(f"modality {modality!r} needs flow_dir")
        self.flow_dir = Path(flow_dir) if flow_dir is not None else None
        self.flow_reversed_dir = Path(flow_reversed_dir) if flow_reversed_dir is not None else None
        self.raw_dir = Path(raw_dir) if raw_dir is not None else None
        if self.raw_dir is not None and "rgb" not in self.streams:
            raise ValueError("original frames (raw_dir) go with RGB clips only")
        if reverse_time and reverse_flow == "backward" and "flow" in self.streams and self.flow_reversed_dir is None:
            raise ValueError("reversed-time flow with reverse_flow='backward' needs flow_reversed_dir")
        self.train = (split == "train") if train is None else bool(train)
        self.middle_clip_only = bool(middle_clip_only)   # test items: only the middle of the clip starts (curves)
        if test_clips < 0:
            raise ValueError(f"test_clips must be >= 0 (0 = every clip), got {test_clips}")
        self.test_clips = int(test_clips)                # test items: N evenly spaced clips (0: every clip)
        self.multilabel = index.metric == "mAP"          # targets: multi-hot (K,) float32 instead of a class
        self.reverse_time = bool(reverse_time)
        self.reverse_flow = reverse_flow
        self.crops = crops
        self.seed = int(seed)
        self.cache = bool(cache)
        self.epoch = 0

        excluded = set(exclude)
        self.videos: list[VideoRecord] = [v for v in index.split(split) if v.video_id not in excluded]
        self.excluded = sorted(v.video_id for v in index.split(split) if v.video_id in excluded)

        # Flips need a label map (left <-> right ...) or classes that do not depend on direction.
        self.flip = bool(augment.flip) and index.can_flip()
        self.flip_disabled_reason = "" if augment.flip else "augment.flip is false"
        if augment.flip and not index.can_flip():
            self.flip_disabled_reason = (f"{index.dataset}: horizontal flips disabled: the index has no flip_map and "
                                         f"is not flip_invariant, so a flip could change the class")
            if self.train:
                warnings.warn(self.flip_disabled_reason, stacklevel=2)

        self._check_files()
        self._pid: int | None = None
        self._handles: OrderedDict[Path, Pack] = OrderedDict()
        self._decoded: dict[Path, np.ndarray] = {}
        self._lengths: dict[str, int] = {}

    # ------------------------------------------------------------------ files
    def _sources(self, video_id: str) -> dict[str, Path]:
        """Pack path per source: "rgb" and/or "flow" (the reversed-flow pack when reading it backward)."""
        out = {}
        if "rgb" in self.streams:
            out["rgb"] = pack_path(self.frames_dir, video_id)
        if "flow" in self.streams:
            if self.reverse_time and self.reverse_flow == "backward":
                out["flow"] = pack_path(self.flow_reversed_dir, video_id)
            else:
                out["flow"] = pack_path(self.flow_dir, video_id)
        if self.raw_dir is not None:
            out["raw"] = pack_path(self.raw_dir, video_id)
        return out

    def _check_files(self) -> None:
        missing = [p for v in self.videos for p in self._sources(v.video_id).values() if not p.is_file()]
        if not missing:
            return
        hint = ("the frames/flow stages list the videos they could not process in reports/data/frames_skipped.json "
                "and reports/data/flow_skipped.json: pass those ids as exclude=..., or re-run the stage")
        if self.reverse_time and self.reverse_flow == "backward" and any(self.flow_reversed_dir in p.parents
                                                                         for p in missing):
            hint += ("; reversed flow packs exist only when the flow stage ran with flow.reverse=backward "
                     "(use reverse_flow='negate' for the approximation)")
        more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
        raise FileNotFoundError(f"missing pack file{'s' if len(missing) > 1 else ''} "
                                f"{', '.join(map(str, missing[:3]))}{more}; {hint}")

    def _pack(self, path: Path) -> Pack:
        """This process's open handle on ``path`` (handles are never shared across a fork)."""
        if self._pid != os.getpid():
            self._handles = OrderedDict()  # inherited handles belong to the parent: forget, do not use
            self._pid = os.getpid()
        pack = self._handles.get(path)
        if pack is None:
            pack = Pack(path)
            self._handles[path] = pack
            while len(self._handles) > MAX_OPEN_PACKS:
                self._handles.popitem(last=False)[1].close()
        else:
            self._handles.move_to_end(path)
        return pack

    def _read(self, path: Path, indices: np.ndarray) -> np.ndarray:
        """Frames ``indices`` of a pack, (len(indices), H, W, C) uint8 (decoded whole and kept when caching)."""
        arr = self._decoded.get(path)
        if arr is None and self.cache:
            pack = self._pack(path)
            arr = pack.read(range(len(pack)))
            self._decoded[path] = arr
            self._handles.pop(path).close()
        if arr is not None:
            if len(indices) > 1 and np.all(np.diff(indices) == 1):
                return arr[indices[0]: indices[-1] + 1]  # a view: no copy for the usual consecutive clip
            return arr[indices]
        uniq, inv = np.unique(indices, return_inverse=True)
        return self._pack(path).read(uniq.tolist())[inv]

    def _pack_len(self, path: Path) -> int:
        arr = self._decoded.get(path)
        return len(arr) if arr is not None else len(self._pack(path))

    def num_frames(self, i: int) -> int:
        """N, the number of RGB frames of video ``i`` (flow packs hold N - 1 fields); checks the packs agree."""
        vid = self.videos[i].video_id
        n = self._lengths.get(vid)
        if n is None:
            lens = {k: self._pack_len(p) + (k == "flow") for k, p in self._sources(vid).items()}
            if len(set(lens.values())) != 1:
                src = self._sources(vid)
                raise PackError(f"{vid}: {src['rgb']} has {lens['rgb']} frames but {src['flow']} has "
                                f"{lens['flow'] - 1} flow fields (expected frames - 1); re-run the flow stage")
            n = next(iter(lens.values()))
            if "flow" in lens and n < 2:
                raise PackError(f"{vid}: a video of {n} frame has no flow field")
            self._lengths[vid] = n
        return n

    def preload(self) -> "ClipDataset":
        """Decode every pack of the split into memory now (turns ``cache`` on). Returns self."""
        self.cache = True
        for i, v in enumerate(self.videos):
            for p in self._sources(v.video_id).values():
                self._read(p, np.zeros(1, np.int64))
            self.num_frames(i)
        return self

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_handles"] = OrderedDict()  # file handles do not travel to spawned workers
        state["_pid"] = None
        return state

    # ------------------------------------------------------------------ clips
    def _raw_clips(self, i: int, starts: list[int]) -> dict[str, list[np.ndarray]]:
        """uint8 (T, H, W, C) clips of video ``i`` at ``starts`` (in the possibly reversed video's time) per stream."""
        vid = self.videos[i].video_id
        n = self.num_frames(i)
        t = self.clip.frames
        src = self._sources(vid)
        rgb_idx, flow_idx = zip(*(clip_indices(s, t, n) for s in starts))
        out: dict[str, list[np.ndarray]] = {}
        if "rgb" in self.streams:
            idx = np.concatenate(rgb_idx)
            if self.reverse_time:
                idx = n - 1 - idx
            out["rgb"] = np.split(self._read(src["rgb"], idx), len(starts))
            if "raw" in src:
                out["raw"] = np.split(self._read(src["raw"], idx), len(starts))
        if "flow" in self.streams:
            idx = np.concatenate(flow_idx)
            negate = self.reverse_time and self.reverse_flow == "negate"
            if negate:
                idx = n - 2 - idx   # reversed field j ~ -(forward field N-2-j)
            arr = self._read(src["flow"], idx)
            if negate:
                arr = TF.negate_flow(arr)
            out["flow"] = np.split(arr, len(starts))
        if "flow" in out and "rgb" in out and out["rgb"][0].shape[1:3] != out["flow"][0].shape[1:3]:
            raise PackError(f"{vid}: frames are {out['rgb'][0].shape[1:3]} but flow is {out['flow'][0].shape[1:3]}")
        return out

    def set_epoch(self, epoch: int) -> None:
        """Training randomness of item i is drawn from ``default_rng((seed, epoch, i))``."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < len(self.videos):
            raise IndexError(f"item {i} out of range for a dataset of {len(self.videos)} videos")
        rec = self.videos[i]
        item = self._train_item(i) if self.train else self._test_item(i)
        item.update(index=i, video_id=rec.video_id)
        return item

    def _train_item(self, i: int) -> dict:
        rng = np.random.default_rng((self.seed, self.epoch, i))
        start = int(rng.integers(0, max_start(self.clip.frames, self.num_frames(i)) + 1))
        raw = {k: v[0] for k, v in self._raw_clips(i, [start]).items()}
        original = raw.pop("raw", None)
        _, h, w, _ = next(iter(raw.values())).shape
        box = TF.sample_crop_box(rng, h, w, self.augment.scale_jitter)
        flip = bool(rng.random() < 0.5) and self.flip          # always drawn: same stream for every modality
        factors = TF.sample_color_factors(rng, self.augment.color_jitter)
        item: dict = {}
        if original is not None:
            item.update(raw=torch.from_numpy(np.ascontiguousarray(original)),
                        geometry=torch.tensor([h, w, *box, self.clip.crop, self.clip.crop, float(flip)],
                                              dtype=torch.float64),
                        color=torch.tensor(factors if self.augment.color_jitter > 0 else (1.0, 1.0, 1.0),
                                           dtype=torch.float64),
                        focus_u=torch.from_numpy(rng.random(2)))
        for key, clip in raw.items():
            x = TF.resize(TF.crop(clip, box), self.clip.crop)  # (T, S, S, C)
            if key == "rgb" and self.augment.color_jitter > 0:
                x = TF.color_jitter(x, *factors)
            negate = ()
            if flip:
                x = TF.hflip(x)
                negate = (0,) if key == "flow" else ()         # flow x -> -x, fused into the scaling lookup
            item[key] = torch.from_numpy(TF.to_float(x, negate=negate))   # (C, T, S, S)
        item["label"] = self._target(i, flip)
        return item

    def _target(self, i: int, flip: bool = False):
        """The class of video ``i`` (flipped: its flip partner), or its multi-hot (K,) targets (multi-label)."""
        rec = self.videos[i]
        if not self.multilabel:
            return self.index.flip_label(rec.label) if flip else rec.label
        classes = [self.index.flip_label(k) for k in rec.labels] if flip else list(rec.labels)
        target = torch.zeros(self.index.num_classes)
        target[classes] = 1.0
        return target

    def _test_item(self, i: int) -> dict:
        n = self.num_frames(i)
        starts = (spaced_clip_starts(n, self.clip.frames, self.test_clips) if self.test_clips
                  else all_clip_starts(self.clip.frames, n))
        if self.middle_clip_only:
            starts = [starts[len(starts) // 2]]
        raw = self._raw_clips(i, starts)
        original = raw.pop("raw", None)
        _, h, w, _ = next(iter(raw.values()))[0].shape          # every stream has the same frame size (checked)
        boxes = TF.three_crop_boxes(h, w) if self.crops == 3 else [(0, 0, h, w)]
        item: dict = {}
        if original is not None:
            rows = [[h, w, *b, b[2], b[3], 0.0] for _ in starts for b in boxes]
            item.update(raw=torch.from_numpy(np.stack(original)), geometry=torch.tensor(rows, dtype=torch.float64),
                        focus_u=torch.from_numpy(np.random.default_rng((self.seed, i)).random((len(rows), 2))))
        for key, clips in raw.items():
            _, bh, bw, ch = TF.crop(clips[0], boxes[0]).shape
            out = np.empty((len(clips) * len(boxes), ch, self.clip.frames, bh, bw), np.float32)
            for j, c in enumerate(clips):
                for k, b in enumerate(boxes):                                    # clip-major views
                    TF.to_float(TF.crop(c, b), out=out[j * len(boxes) + k])
            item[key] = torch.from_numpy(out)                                    # (K, C, T, H, W)
        item["label"] = self._target(i)
        item["starts"] = starts
        return item


# --------------------------------------------------------------------------------------------- loader helpers
def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seed numpy / random / torch of the worker from ``torch.initial_seed()``.

    Items do not depend on these global generators (they use ``default_rng((seed, epoch, i))``); seeding them
    keeps any other library randomness in the workers reproducible too. Also limits OpenCV to one thread per worker.
    """
    import cv2

    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)
    torch.manual_seed(s)
    cv2.setNumThreads(1)


def make_generator(seed: int) -> torch.Generator:
    """A seeded ``torch.Generator`` for DataLoader / samplers (shuffling order and worker base seeds)."""
    g = torch.Generator()
    g.manual_seed(int(seed))
    return g


def make_loader(ds: torch.utils.data.Dataset, batch_size: int, sampler, workers: int, seed: int,
                drop_last: bool = False, pin_memory: bool = False) -> torch.utils.data.DataLoader:
    """A seeded DataLoader. Workers are *spawned*, not forked: a fork copies OpenCV's and OpenMP's thread pools in
    whatever state the parent left them, which deadlocks workers once the parent has used them (seen here in
    the test suite). Spawned workers receive the dataset pickled (packs reopened lazily, a preloaded cache copied)."""
    kwargs = {"multiprocessing_context": "spawn"} if workers > 0 else {}
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, sampler=sampler, num_workers=workers,
                                       worker_init_fn=seed_worker, generator=make_generator(seed),
                                       drop_last=drop_last, pin_memory=pin_memory, **kwargs)


def collate_test(items: list[dict]) -> dict:
    """Collate test items whose number of views K differs between videos.

    Returns the views of all videos concatenated, ``rgb`` / ``flow``: (sum K, C, T, H, W), ``video``: (sum K,) the
    position of each view's video in the batch, ``label`` / ``index``: (B,), ``video_id``: list, ``starts``: list of
    lists, ``crops``: list of views per clip.
    """
    out: dict = {}
    for key in ("rgb", "flow"):
        if key in items[0]:
            out[key] = torch.cat([it[key] for it in items])
    first = "rgb" if "rgb" in items[0] else "flow"
    out["video"] = torch.cat([torch.full((len(it[first]),), b, dtype=torch.long) for b, it in enumerate(items)])
    out["label"] = stack_labels([it["label"] for it in items])
    out["index"] = torch.tensor([it["index"] for it in items], dtype=torch.long)
    out["video_id"] = [it["video_id"] for it in items]
    out["starts"] = [list(it["starts"]) for it in items]
    out["crops"] = [len(it[first]) // len(it["starts"]) for it in items]
    return out
