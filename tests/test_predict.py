"""``python -m attdistill.predict``: any small video -> top-5 "class score" lines and an attention PNG; clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import matplotlib.image as mpimg
import numpy as np
import pytest
import torch

from attdistill.models import build_model
from attdistill.predict import clips_of, main
from attdistill.models.files import save_model
from params import DEFAULT

REPO = Path(__file__).resolve().parents[1]
CLASSES = [f"class_{i}" for i in range(6)]
TINY = replace(DEFAULT.model, width=0.0625, final_stride=1, attention_channels=16, dropout=0.0)
# the training input format, as training/engine.py records it in every model file
INPUT_META = {"frames": {"fps": 12.0, "width": 48, "height": 40}, "clip": {"frames": 8}}


def write_video(path: Path, fourcc: str, frames: int, size=(67, 45), fps: float = 13.0) -> Path:
    """A square moving right over a gradient, written with cv2.VideoWriter (odd size and frame rate)."""
    w, h = size
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert vw.isOpened(), f"OpenCV cannot write {fourcc}"
    xx = np.tile(np.linspace(0, 200, w, dtype=np.float32), (h, 1))
    for t in range(frames):
        img = np.stack([xx, 255 - xx, np.full_like(xx, 90)], -1).astype(np.uint8)
        x0 = 5 + 3 * t
        img[15:30, x0:x0 + 12] = (30, 220, 250)
        vw.write(img)
    vw.release()
    return path


def save_tiny(path: Path, kind: str, attention: str = "prob-atten", meta: dict | None = None) -> Path:
    """A tiny random model file; ``meta`` replaces :data:`INPUT_META` (the recorded input format)."""
    torch.manual_seed(0)
    model = build_model(kind, len(CLASSES), attention, TINY)
    save_model(path, model, {"kind": kind, "attention": attention, "model": TINY.__dict__.copy()}, CLASSES,
               {"model_id": f"tiny-{kind}", **(INPUT_META if meta is None else meta)})
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    return {
        "root": root,
        "student": save_tiny(root / "student" / "model.pt", "student"),
        "mp4": write_video(root / "clip.mp4", "mp4v", 30),
        "avi": write_video(root / "clip.avi", "MJPG", 5, size=(51, 37), fps=7.5),   # shorter than one clip
    }


def run_main(argv, capsys) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def parse_lines(stdout: str) -> list[tuple[str, float]]:
    rows = [line.rsplit(" ", 1) for line in stdout.strip().splitlines()]
    return [(name, float(score)) for name, score in rows]


@pytest.mark.parametrize("video", ["mp4", "avi"])
def test_prints_top5_and_writes_png(setup, capsys, video):
    png = setup["root"] / f"{video}.png"
    rc, out, err = run_main([setup[video], "--checkpoint", setup["student"],
                             "--out", png], capsys)
    assert rc == 0, err
    rows = parse_lines(out)
    assert len(rows) == 5
    names, scores = zip(*rows)
    assert set(names) <= set(CLASSES) and len(set(names)) == 5
    assert list(scores) == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    img = mpimg.imread(png)
    assert img.ndim == 3 and img.shape[0] > 100 and img.std() > 0.01


def test_deterministic_and_topk(setup, capsys):
    args = [setup["mp4"], "--checkpoint", setup["student"],
            "--out", setup["root"] / "a.png"]
    _, first, _ = run_main(args, capsys)
    _, second, _ = run_main(args, capsys)
    assert first == second
    rc, out, _ = run_main(args + ["--topk", "10"], capsys)        # more than the classes: all of them
    rows = parse_lines(out)
    assert rc == 0 and len(rows) == len(CLASSES)
    assert sum(s for _, s in rows) == pytest.approx(1.0, abs=1e-3)  # clip-averaged softmax


def test_single_stream_rgb_model(setup, capsys):
    ckpt = save_tiny(setup["root"] / "rgb" / "model.pt", "rgb", "soft-atten")
    rc, out, err = run_main([setup["mp4"], "--checkpoint", ckpt,
                             "--out", setup["root"] / "rgb.png"], capsys)
    assert rc == 0, err
    assert len(parse_lines(out)) == 5 and (setup["root"] / "rgb.png").exists()


def test_input_format_comes_from_the_checkpoint(setup, capsys, monkeypatch, tmp_path):
    """fps, size and clip length are the ones recorded in the model file; params.yaml is not read at all."""
    import attdistill.predict as P

    seen = {}
    real = P.predict_frames

    def spy(model, classes, frames, clip_frames, **kw):
        seen["shape"], seen["T"] = frames.shape, clip_frames
        return real(model, classes, frames, clip_frames, **kw)

    monkeypatch.setattr(P, "predict_frames", spy)
    ckpt = save_tiny(setup["root"] / "meta" / "model.pt", "student",
                     meta={"frames": {"fps": 6.5, "width": 40, "height": 32}, "clip": {"frames": 4}})
    (tmp_path / "params.yaml").write_text("attention: foo\n")              # would fail to load if it were read
    monkeypatch.chdir(tmp_path)
    rc, _, err = run_main([setup["mp4"], "--checkpoint", ckpt,
                           "--out", setup["root"] / "m.png"], capsys)
    assert rc == 0, err
    # 30 source frames at 13 fps -> ceil(30 * 6.5 / 13) = 15 frames of 40 x 32; clips of 4
    assert seen["shape"] == (15, 32, 40, 3) and seen["T"] == 4


@pytest.mark.parametrize("meta, missing", [
    ({}, "frames.fps, frames.width, frames.height, clip.frames"),
    ({"frames": {"fps": 12.0}, "clip": {"frames": 8}}, "frames.width, frames.height"),
    ({"frames": INPUT_META["frames"], "clip": "8"}, "clip.frames"),
])
def test_checkpoint_without_input_format_is_a_clear_error(setup, capsys, meta, missing):
    ckpt = save_tiny(setup["root"] / "nometa" / "model.pt", "student", meta=meta)
    rc, out, err = run_main([setup["mp4"], "--checkpoint", ckpt, "--out", setup["root"] / "n.png"], capsys)
    assert rc == 1 and out == "" and not (setup["root"] / "n.png").exists()
    assert err.strip().splitlines() == [f"error: {ckpt}: the model file does not record the input it was trained on "
                                        f"(meta lacks {missing}); retrain it with this version of attdistill"]


def test_short_video_pads_with_last_frame():
    frames = np.arange(3, dtype=np.uint8)[:, None, None, None] * np.ones((1, 4, 5, 3), np.uint8)
    starts, clips = clips_of(frames, 8)
    assert starts == [0] and clips.shape == (1, 8, 4, 5, 3)
    assert [int(c[0, 0, 0]) for c in clips[0]] == [0, 1, 2, 2, 2, 2, 2, 2]


def test_flow_and_reference_checkpoints_are_rejected(setup, capsys):
    for kind in ("flow", "reference"):
        ckpt = save_tiny(setup["root"] / kind / "model.pt", kind)
        rc, out, err = run_main([setup["mp4"], "--checkpoint", ckpt], capsys)
        assert rc != 0 and out == ""
        assert len(err.strip().splitlines()) == 1 and "RGB" in err and "flow" in err


@pytest.mark.parametrize("bad", ["missing_video", "garbage_video", "missing_checkpoint", "garbage_checkpoint"])
def test_bad_files_give_one_line_errors(setup, capsys, bad):
    root = setup["root"]
    (root / "garbage.mp4").write_bytes(b"not a video at all" * 10)
    (root / "garbage.pt").write_bytes(b"not a checkpoint")
    video = {"missing_video": root / "nope.mp4", "garbage_video": root / "garbage.mp4"}.get(bad, setup["mp4"])
    ckpts = {"missing_checkpoint": root / "nope.pt", "garbage_checkpoint": root / "garbage.pt"}
    ckpt = ckpts.get(bad, setup["student"])
    rc, out, err = run_main([video, "--checkpoint", ckpt, "--out", root / "x.png"],
                            capsys)
    assert rc != 0 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert ("nope" in lines[0]) or ("garbage" in lines[0])


def test_command_line_missing_file_no_traceback(setup, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    r = subprocess.run([sys.executable, "-m", "attdistill.predict", str(tmp_path / "missing.avi"),
                        "--checkpoint", str(setup["student"])],
                       capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert r.returncode != 0 and r.stdout == ""
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [f"error: {tmp_path / 'missing.avi'}: file not found"]
