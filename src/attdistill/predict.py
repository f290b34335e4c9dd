"""Classify one video with a trained RGB model and draw its attention maps (the RGB-only inference path).

    python -m attdistill.predict VIDEO [--checkpoint models/distill/model.pt] [--out PNG] [--topk 5]

The distilled student needs no optical flow at test time (paper §4.3: it "runs at the same speed as the RGB
network"), so this command decodes RGB frames only:

1. decode VIDEO (any file decord or OpenCV reads: mp4, avi, any codec, size and frame rate) with
   :func:`attdistill.data.decode.read_video`, resampled to the model's training frame rate and resized to its stored
   frame size (``frames.fps``, ``frames.width`` x ``frames.height``, as the checkpoint's meta records them: training
   writes them, so ``params.yaml`` is not read and cannot disagree with the model);
2. cut every clip of ``clip.frames`` frames exactly as the ``evaluate`` stage does
   (:func:`attdistill.data.dataset.all_clip_starts`, full stored frame; a video shorter than a clip is padded by
   repeating its last frame), run the model and average the clip scores (paper §3.6);
3. print the top-k classes, one ``class score`` line each, best first, on stdout;
4. write a PNG with the attention maps (appearance and motion for the student, the one map of a single-stream RGB
   model) over the first and last frame of the first clip, as the paper's Fig. 2.

Flow models and ``reference-attention`` (whose motion map comes from a flow network at test time) need optical flow
and are rejected. Every user error (missing or unreadable file, a video with no frame, a flow checkpoint) is one
line on stderr and exit status 1 (2 for bad arguments), never a traceback. A checkpoint that does not record its
input format (``meta["frames"]``, ``meta["clip"]``) is such an error: it names the missing keys.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

RGB_KINDS = ("rgb", "student")
INPUT_KEYS = {"frames": ("fps", "width", "height"), "clip": ("frames",)}   # meta keys of the training input format
BRANCH_LABELS = {"appearance": "appearance attention", "motion": "motion attention", "main": "attention"}


class PredictError(RuntimeError):
    """A user-facing failure: the message is printed as one line and the command exits with status 1."""


@dataclass
class Prediction:
    classes: list[str]
    probs: np.ndarray                                  # (K,) clip-averaged scores
    starts: list[int]                                  # first frame of every clip
    frames: np.ndarray                                 # (N, H, W, 3) uint8 decoded frames (stored size)
    clip_frames: int                                   # T
    maps: dict[str, np.ndarray] = field(default_factory=dict)   # branch -> (T', h, w) maps of the first clip
    info: dict = field(default_factory=dict)

    def topk(self, k: int) -> list[tuple[str, float]]:
        order = np.argsort(-self.probs, kind="stable")[: max(1, min(k, len(self.classes)))]
        return [(self.classes[i], float(self.probs[i])) for i in order]


# --------------------------------------------------------------------------------------------- settings
def input_settings(obj: dict, path: str | Path) -> dict:
    """fps, width, height and clip frames (``clip_frames``) the model was trained with, from the model file.

    Training records them in the file's ``meta`` (``meta["frames"]``: fps, width and height of the stored frames;
    ``meta["clip"]["frames"]``). A file without them raises :class:`PredictError` naming the missing keys.
    """
    meta = obj.get("meta") or {}
    missing = [f"{sect}.{key}" for sect, keys in INPUT_KEYS.items() for key in keys
               if not isinstance(meta.get(sect), dict) or key not in meta[sect]]
    if missing:
        raise PredictError(f"{path}: the model file does not record the input it was trained on (meta lacks "
                           f"{', '.join(missing)}); retrain it with this version of attdistill")
    frames, clip = meta["frames"], meta["clip"]
    return {"fps": float(frames["fps"]), "width": int(frames["width"]), "height": int(frames["height"]),
            "clip_frames": int(clip["frames"])}


# --------------------------------------------------------------------------------------------- model
def load_rgb_model(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """Load a model file and check that it runs on RGB alone (rgb single-stream or the two-branch student)."""
    from .models.files import load_model_file
    from .models.files import model_from_file

    path = Path(path)
    if not path.exists():
        raise PredictError(f"{path}: checkpoint not found (train it with `dvc repro`, or pass --checkpoint)")
    try:
        obj = load_model_file(path)
    except Exception as exc:  # torch.load raises many types on a foreign or torn file
        raise PredictError(f"{path}: not a readable attdistill model file ({_first_line(exc)})") from exc
    arch = obj.get("arch") or {}
    kind = arch.get("kind")
    model_id = (obj.get("meta") or {}).get("model_id", "")
    if kind == "flow":
        raise PredictError(f"{path}: {model_id or 'this'} is a flow model; predict runs on RGB frames only "
                           f"(use the distilled student's model.pt)")
    if kind == "reference":
        raise PredictError(f"{path}: {model_id or 'this'} model takes its motion map from a flow network at test "
                           f"time; predict runs on RGB frames only (use the distilled student's model.pt)")
    if kind not in RGB_KINDS:
        raise PredictError(f"{path}: unknown model kind {kind!r}; predict accepts {', '.join(RGB_KINDS)} models")
    try:
        model = model_from_file(obj)
    except Exception as exc:
        raise PredictError(f"{path}: cannot rebuild the network ({_first_line(exc)})") from exc
    model.eval().requires_grad_(False)
    return model, obj


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else exc.__class__.__name__


# --------------------------------------------------------------------------------------------- inference
def clips_of(frames: np.ndarray, clip_frames: int) -> tuple[list[int], np.ndarray]:
    """Every test clip of a decoded video, as the evaluate stage cuts them: (starts, (M, T, H, W, 3) uint8)."""
    from .data.dataset import all_clip_starts, clip_indices

    n = len(frames)
    starts = all_clip_starts(clip_frames, n)
    return starts, np.stack([frames[clip_indices(s, clip_frames, n)[0]] for s in starts])


@torch.no_grad()
def predict_frames(model: torch.nn.Module, classes: list[str], frames: np.ndarray, clip_frames: int,
                   batch_clips: int = 8) -> Prediction:
    """Score every clip of ``frames`` (N, H, W, 3) uint8 RGB and average the clip probabilities."""
    from .data.transforms import to_tensor

    if len(frames) < 1:
        raise PredictError("the video has no frames")
    starts, clips = clips_of(frames, clip_frames)
    probs, first_maps = [], {}
    for b in range(0, len(clips), batch_clips):
        x = torch.stack([to_tensor(c) for c in clips[b: b + batch_clips]])     # (B, 3, T, H, W) in [-1, 1]
        out = model(x)
        probs.append(out.probs.float().cpu().numpy())
        if b == 0:
            first_maps = {k: v[0].float().cpu().numpy() for k, v in (out.expected_maps or {}).items()}
    p = np.concatenate(probs).mean(0)
    return Prediction(list(classes), p, starts, frames, clip_frames, first_maps)


def draw(pred: Prediction, out: str | Path, title: str) -> Path:
    """Fig.-2-style PNG: attention maps over the first and last frame of the first clip."""
    from .visualize import attention_panel, save_figure

    _, clips = clips_of(pred.frames, pred.clip_frames)
    clip = clips[0]
    if pred.maps:
        order = [b for b in ("appearance", "motion", "main") if b in pred.maps] + \
                [b for b in pred.maps if b not in ("appearance", "motion", "main")]
        maps = {BRANCH_LABELS.get(b, b): pred.maps[b] for b in order}
        fig = attention_panel(clip, maps, pred.clip_frames, title)
    else:  # attention "none": the frames alone
        fig = attention_panel(clip, {"(no attention module)": np.zeros((1, 1, 1))}, pred.clip_frames, title,
                              alpha=0.0)
    save_figure(fig, out)
    return Path(out)


def predict(video: str | Path, checkpoint: str | Path) -> tuple[Prediction, dict]:
    """Decode ``video``, run the RGB model of ``checkpoint`` on every clip; returns (prediction, model file).

    Frame rate, frame size and clip length are the ones the model was trained with (:func:`input_settings`).
    """
    from .data.decode import VideoError, read_video

    model, obj = load_rgb_model(checkpoint)
    s = input_settings(obj, checkpoint)
    try:
        frames, info = read_video(video, fps=float(s["fps"]), size=(int(s["width"]), int(s["height"])))
    except VideoError as exc:
        raise PredictError(_first_line(exc)) from exc
    except Exception as exc:  # a decoder crash on a strange file is still a user error
        raise PredictError(f"{video}: cannot decode ({_first_line(exc)})") from exc
    if len(frames) < 1:
        raise PredictError(f"{video}: the video has no frames")
    pred = predict_frames(model, obj["classes"], frames, int(s["clip_frames"]))
    pred.info = {"source": info.to_dict() if hasattr(info, "to_dict") else {}, **s}
    return pred, obj


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m attdistill.predict",
                                 description="Top-k classes of a video and its attention maps (RGB only).")
    ap.add_argument("video", help="video file (mp4, avi, ...; any codec, size and frame rate)")
    ap.add_argument("--checkpoint", required=True, help="model file, e.g. models/distill/model.pt")
    ap.add_argument("--out", help="attention PNG (default: <video name>.attention.png in the current folder)")
    ap.add_argument("--topk", type=int, default=5, help="classes to print (default 5)")
    args = ap.parse_args(argv)
    if args.topk < 1:
        ap.error("--topk must be >= 1")
    from .training.seeding import set_threads

    set_threads()
    out = Path(args.out) if args.out else Path(f"{Path(args.video).stem}.attention.png")
    try:
        pred, obj = predict(args.video, args.checkpoint)
        model_id = (obj.get("meta") or {}).get("model_id") or Path(args.checkpoint).parent.name
        top = pred.topk(args.topk)
        for name, score in top:
            print(f"{name} {score:.4f}")
        title = (f"{Path(args.video).name} - {model_id}: {top[0][0]} ({top[0][1]:.2f}); "
                 f"{len(pred.starts)} clip{'s' if len(pred.starts) > 1 else ''} of {pred.clip_frames} frames")
        draw(pred, out, title)
    except PredictError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. the PNG folder is not writable
        print(f"error: {exc.filename or ''}: {exc.strerror or _first_line(exc)}", file=sys.stderr)
        return 1
    print(f"attention maps: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
