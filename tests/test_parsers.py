"""Parsers of the official annotation formats (HMDB51, EGTEA Gaze+, 20BN-V2, THUMOS'13 boxes) on small fixtures.

The fixture builders (``make_hmdb``, ``make_egtea``, ``make_ssv2``) write real, tiny videos in each dataset's
official container (:data:`CLIP_FORMAT`), so tests/test_prepare.py can run the ``frames`` stage on them.
"""

from __future__ import annotations

import json
import os
import pickle
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from attdistill.data.decode import read_video
from attdistill.data.egtea import EGTEAFormatError, parse_egtea
from attdistill.data.hmdb51 import HMDB51FormatError, parse_hmdb51
from attdistill.data.ssv2 import SSv2FormatError, flip_map_from_templates, parse_ssv2
from attdistill.data.thumos import ThumosFormatError, parse_thumos


# --------------------------------------------------------------------------------------------- fixture videos
# Official container per dataset: (fourcc written by cv2.VideoWriter, frame rate). UCF101 is XviD .avi at 25 fps,
# HMDB51 DivX/XviD .avi at 30 fps, EGTEA Gaze+ .mp4 at 24 fps, 20BN-V2 VP9 .webm at 12 fps. HMDB51 gets MJPG
# (the other .avi codec the stage must read); EGTEA gets MPEG-4 part 2 (cv2 has no H.264 encoder here).
CLIP_FORMAT = {"ucf101": ("XVID", 25.0), "hmdb51": ("MJPG", 30.0), "egtea": ("mp4v", 24.0), "ssv2": ("VP90", 12.0)}
CLIP_SIZE = (64, 48)                        # (width, height)
_ONE, _ZERO = (255, 255, 255), (0, 0, 200)  # RGB colours of a 1 bar and a 0 bar (blue: catches a BGR/RGB swap)


def clip_spec(name: str) -> tuple[int, int]:
    """``(frames, tag)`` of the fixture video file called ``name``: 8-12 frames and a tag in 1..255."""
    h = zlib.crc32(name.encode())
    return 8 + h % 5, 1 + (h >> 8) % 255


def clip_frames(frames: int, tag: int, size: tuple[int, int] = CLIP_SIZE) -> np.ndarray:
    """``(frames, H, W, 3)`` uint8 RGB: frame i shows i in its top half and ``tag`` in its bottom half, each as
    8 bars (most significant bit left; white = 1, blue = 0), which survive lossy codecs, resizing and JPEG."""
    w, h = size
    out = np.empty((frames, h, w, 3), np.uint8)
    cols = np.arange(w) * 8 // w                                   # bar of each column
    for i in range(frames):
        for half, value in ((slice(0, h // 2), i), (slice(h // 2, h), tag)):
            bits = (value >> (7 - cols)) & 1                        # (W,)
            out[i, half] = np.where(bits[:, None] == 1, _ONE, _ZERO)[None]
    return out


def read_code(frame: np.ndarray) -> tuple[int, int]:
    """``(frame number, tag)`` shown by one decoded ``(H, W, 3)`` RGB frame of :func:`clip_frames`."""
    h, w = frame.shape[:2]
    values = []
    for y0, y1 in ((h // 8, 3 * h // 8), (5 * h // 8, 7 * h // 8)):
        value = 0
        for c in range(8):
            x = int((c + 0.5) * w / 8)
            r, g, b = frame[y0:y1, x - 1: x + 1].reshape(-1, 3).mean(0)
            one = min(r, g, b) > 128
            assert one or b - max(r, g) > 80, f"bar {c} is neither white nor blue: RGB {(r, g, b)}"
            value = 2 * value + int(one)
        values.append(value)
    return values[0], values[1]


def write_clip(path: Path, dataset: str) -> Path:
    """Write the fixture video ``path`` (frames and tag from :func:`clip_spec`) in ``dataset``'s official format."""
    fourcc, fps = CLIP_FORMAT[dataset]
    frames, tag = clip_spec(path.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*fourcc), fps, CLIP_SIZE)
    assert writer.isOpened(), f"cv2.VideoWriter cannot write {fourcc} into {path.name}"
    for frame in clip_frames(frames, tag):
        writer.write(np.ascontiguousarray(frame[..., ::-1]))       # RGB -> BGR
    writer.release()
    return path


@pytest.mark.parametrize("dataset, name", [("ucf101", "v_Basketball_g01_c01.avi"), ("hmdb51", "a_brush_hair_0.avi"),
                                           ("egtea", "OP01-R01-PastaSalad-1-2-F1-F2.mp4"), ("ssv2", "78687.webm")])
def test_fixture_clips_decode_in_their_official_container(tmp_path, dataset, name):
    path = write_clip(tmp_path / name, dataset)
    frames, info = read_video(path)                                 # every source frame, source size
    n, tag = clip_spec(name)
    assert (info.backend, info.fps, info.frames, info.width, info.height) == ("decord", CLIP_FORMAT[dataset][1], n,
                                                                               *CLIP_SIZE)
    assert [read_code(f) for f in frames] == [(i, tag) for i in range(n)]


# --------------------------------------------------------------------------------------------- HMDB51
HMDB = {"brush_hair": ["April_09_brush_hair_u_nm_np1_ba_goo_0.avi", "Brushing_Hair_with_Beth_brush_hair_h_nm_np1_le_goo_0.avi",
                       "Trim_#1_brush_hair_u_nm_np1_ba_goo_2.avi"],
        "cartwheel": ["(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi", "Acrobacias_de_un_fenomeno_cartwheel_f_cm_np1_ba_bad_8.avi",
                      "Bodenturnen_2004_cartwheel_f_cm_np1_le_med_0.avi"]}
MARKS = {1: ["1", "2", "0"], 2: ["2", "1", "1"]}        # per split, per video: 1 train, 2 test, 0 unused


def make_hmdb(root: Path, with_videos: bool = True) -> tuple[Path, Path]:
    splits, videos = root / "testTrainMulti_7030_splits", root / "videos"
    splits.mkdir(parents=True)
    for cls, vids in HMDB.items():
        for k, marks in MARKS.items():
            text = "".join(f"{v} {m} \n" for v, m in zip(vids, marks))   # official files: trailing space
            (splits / f"{cls}_test_split{k}.txt").write_text(text)
        if with_videos:
            for v in vids:
                write_clip(videos / cls / v, "hmdb51")
    return splits, videos


def test_hmdb51_split1(tmp_path):
    splits, videos = make_hmdb(tmp_path)
    idx = parse_hmdb51(splits, videos, split=1)
    assert idx.classes == ["brush_hair", "cartwheel"]
    assert idx.flip_invariant and idx.flip_map is None and idx.metric == "mean_class"
    assert [(v.video_id, v.label, v.split) for v in idx.videos] == [
        ("brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0", 0, "train"),
        ("brush_hair/Brushing_Hair_with_Beth_brush_hair_h_nm_np1_le_goo_0", 0, "test"),
        ("cartwheel/(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0", 1, "train"),
        ("cartwheel/Acrobacias_de_un_fenomeno_cartwheel_f_cm_np1_ba_bad_8", 1, "test")]
    assert all(idx.video_path(v).is_file() for v in idx.videos)
    idx2 = parse_hmdb51(splits, videos, split=2)
    assert len(idx2.split("train")) == 4 and len(idx2.split("test")) == 2


def test_hmdb51_missing_videos_are_listed_together(tmp_path):
    splits, videos = make_hmdb(tmp_path)
    for v in HMDB["cartwheel"][:2]:
        (videos / "cartwheel" / v).unlink()
    with pytest.raises(FileNotFoundError, match=r"2 video\(s\).*Schlag.*Acrobacias"):
        parse_hmdb51(splits, videos, split=1)


def test_hmdb51_bad_line_and_folder_mismatch(tmp_path):
    splits, videos = make_hmdb(tmp_path)
    (videos / "extra_class").mkdir()
    with pytest.raises(HMDB51FormatError, match="extra_class"):
        parse_hmdb51(splits, videos)
    (videos / "extra_class").rmdir()
    (splits / "cartwheel_test_split1.txt").write_text("video.avi 7\n")
    with pytest.raises(HMDB51FormatError, match=r"cartwheel_test_split1.txt:1"):
        parse_hmdb51(splits, videos)


# --------------------------------------------------------------------------------------------- EGTEA
ACTIONS = ["Close fridge", "Open fridge", "Cut tomato"]
CLIPS = {"train": [("OP01-R01-PastaSalad-1002316-1004005-F024051-F024101", 1),
                   ("P20-R03-BaconAndEggs-440005-441430-F010545-F010587", 3)],
         "test": [("OP02-R02-TurkeySandwich-102651-105140-F002460-F002520", 2)]}


def make_egtea(root: Path, flat: bool = False) -> tuple[Path, Path]:
    ann, clips = root / "action_annotation", root / "cropped_clips"
    ann.mkdir(parents=True)
    (ann / "action_idx.txt").write_text("".join(f"{a} {i + 1}\n" for i, a in enumerate(ACTIONS)))
    for split, items in CLIPS.items():
        (ann / f"{split}_split1.txt").write_text("".join(f"{c} {a} {a % 2 + 1} {a + 4}\n" for c, a in items))
        for c, _ in items:
            write_clip(clips / (f"{c}.mp4" if flat else f"{'-'.join(c.split('-')[:3])}/{c}.mp4"), "egtea")
    return ann, clips


@pytest.mark.parametrize("flat", [False, True])
def test_egtea_split1(tmp_path, flat):
    ann, clips = make_egtea(tmp_path, flat)
    idx = parse_egtea(ann, clips, split=1)
    assert idx.classes == ACTIONS and idx.flip_invariant and idx.metric == "mean_class"
    got = {(Path(v.path).name, v.label, v.split) for v in idx.videos}
    assert got == {(f"{c}.mp4", a - 1, s) for s, items in CLIPS.items() for c, a in items}
    assert all(idx.video_path(v).is_file() for v in idx.videos)
    if not flat:
        assert idx.videos[0].video_id == "OP01-R01-PastaSalad/OP01-R01-PastaSalad-1002316-1004005-F024051-F024101"


def test_egtea_errors(tmp_path):
    ann, clips = make_egtea(tmp_path)
    (ann / "test_split1.txt").write_text("OP02-R02-TurkeySandwich-1-2-F1-F2 9 1 1\n")
    with pytest.raises(EGTEAFormatError, match="action id 9 outside 1..3"):
        parse_egtea(ann, clips)
    (ann / "test_split1.txt").write_text("OP02-R02-TurkeySandwich-1-2-F1-F2 2 1 1\n")
    with pytest.raises(FileNotFoundError, match=r"1 EGTEA clip\(s\).*OP02-R02-TurkeySandwich-1-2-F1-F2"):
        parse_egtea(ann, clips)
    (ann / "action_idx.txt").write_text("Close fridge 1\nCut tomato 3\n")
    with pytest.raises(EGTEAFormatError, match="without gaps"):
        parse_egtea(ann, clips)


# --------------------------------------------------------------------------------------------- 20BN-V2
TEMPLATES = ["Approaching something with your camera", "Plugging something into something but pulling it right "
             "out as you remove your hand", "Pulling something from left to right", "Pulling something from right "
             "to left", "Pushing something from left to right", "Pushing something from right to left",
             "Turning the camera left while filming something", "Turning the camera right while filming something",
             "Turning the camera upwards while filming something"]


def make_ssv2(root: Path, names: str = "official") -> tuple[Path, Path]:
    ann = root if names == "official" else root / "labels"
    ann.mkdir(parents=True, exist_ok=True)
    prefix = "something-something-v2-" if names == "official" else ""
    (ann / f"{prefix}labels.json").write_text(json.dumps({t: str(i) for i, t in enumerate(TEMPLATES)}))
    train = [{"id": "78687", "label": "pushing cup from left to right", "template": "Pushing [something] from left to right",
              "placeholders": ["cup"]},
             {"id": "42326", "label": "turning the camera left while filming car",
              "template": "Turning the camera left while filming [something]", "placeholders": ["car"]}]
    val = [{"id": "74225", "label": "pulling pen from right to left", "template": "Pulling [something] from right to left",
            "placeholders": ["pen"]}]
    (ann / f"{prefix}train.json").write_text(json.dumps(train))
    (ann / f"{prefix}validation.json").write_text(json.dumps(val))
    videos = root / "20bn-something-something-v2"
    for item in train + val:
        write_clip(videos / f"{item['id']}.webm", "ssv2")
    return root, videos


@pytest.mark.parametrize("names", ["official", "labels-folder"])
def test_ssv2_parse(tmp_path, names):
    ann, videos = make_ssv2(tmp_path, names)
    idx = parse_ssv2(ann, videos)
    assert idx.classes == TEMPLATES and idx.metric == "top1" and not idx.flip_invariant
    assert [(v.video_id, v.path, v.label, v.split) for v in idx.videos] == [
        ("78687", "78687.webm", 4, "train"), ("42326", "42326.webm", 6, "train"), ("74225", "74225.webm", 3, "test")]


def test_ssv2_flip_map_swaps_left_and_right():
    m = flip_map_from_templates(TEMPLATES)
    assert m == [0, 1, 3, 2, 5, 4, 7, 6, 8]             # "pulling it right out" has no partner; upwards stays
    assert sorted(m) == list(range(len(TEMPLATES))) and all(m[m[i]] == i for i in range(len(m)))


def test_ssv2_unknown_template_and_missing_video(tmp_path):
    ann, videos = make_ssv2(tmp_path)
    (videos / "74225.webm").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 20BN-V2 video\(s\).*74225.webm"):
        parse_ssv2(ann, videos)
    (ann / "something-something-v2-validation.json").write_text(json.dumps([{"id": "1", "template": "Dancing"}]))
    with pytest.raises(SSv2FormatError, match="'Dancing'"):
        parse_ssv2(ann, videos)


# --------------------------------------------------------------------------------------------- THUMOS'13
def make_pyannot(path: Path) -> Path:
    """A pyannot.pkl in the structure of gurkirt/corrected-UCF101-Annots (numpy arrays, [x, y, w, h] boxes)."""
    db = {
        np.str_("Basketball/v_Basketball_g01_c01"): {
            "annotations": [{"label": 0, "sf": 2, "ef": 5,
                             "boxes": np.array([[10, 20, 30, 40], [11, 21, 30, 40], [12, 22, 30, 40]], np.uint8)}],
            "numf": np.uint8(6), "label": 0},
        np.str_("WalkingWithDog/v_WalkingWithDog_g02_c03"): {
            "annotations": [{"label": 23, "sf": 0, "ef": 2, "boxes": np.array([[300, 0, 20, 240]] * 2, np.uint16)},
                            {"label": 23, "sf": 1, "ef": 3, "boxes": np.array([[0, 5, 8, 9]] * 2, np.uint16)}],
            "numf": np.uint16(300), "label": 23},
    }
    path.write_bytes(pickle.dumps(db, protocol=3))
    return path


def test_thumos_boxes(tmp_path):
    classes = ["ApplyEyeMakeup", "Basketball", "WalkingWithDog"]
    boxes = parse_thumos(make_pyannot(tmp_path / "pyannot.pkl"), classes)
    b = boxes["Basketball/v_Basketball_g01_c01"]
    assert (b.width, b.height, b.fps, b.num_frames) == (320, 240, 25.0, 6)
    assert b.tubes[0].label == 1 and b.tubes[0].frames == [2, 3, 4]
    assert b.boxes_at_frame(3) == [(11.0, 21.0, 41.0, 61.0)] and b.boxes_at_frame(5) == []
    w = boxes["WalkingWithDog/v_WalkingWithDog_g02_c03"]
    assert [t.label for t in w.tubes] == [2, 2] and w.boxes_at_frame(1) == [(300.0, 0.0, 320.0, 240.0),
                                                                            (0.0, 5.0, 8.0, 14.0)]
    only = parse_thumos(tmp_path / "pyannot.pkl", classes, video_ids={"Basketball/v_Basketball_g01_c01"})
    assert list(only) == ["Basketball/v_Basketball_g01_c01"]


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch should_not_exist",))


def test_thumos_refuses_code_in_the_pickle(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"x": _Evil()}, protocol=3))
    with pytest.raises(ThumosFormatError, match="refusing to load"):
        parse_thumos(tmp_path / "evil.pkl", ["Basketball"])
    assert not (tmp_path / "should_not_exist").exists()


def test_thumos_inconsistent_tube(tmp_path):
    db = {"Basketball/v_Basketball_g01_c01": {"annotations": [{"label": 0, "sf": 0, "ef": 4,
                                                               "boxes": np.zeros((3, 4), np.uint8)}], "numf": 4}}
    (tmp_path / "p.pkl").write_bytes(pickle.dumps(db, protocol=3))
    with pytest.raises(ThumosFormatError, match="do not match 3 boxes"):
        parse_thumos(tmp_path / "p.pkl", ["Basketball"])
