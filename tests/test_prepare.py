"""The download stage end to end on fixtures in each dataset's official layout (archives served on 127.0.0.1),
followed by the frames stage on the real, tiny videos of those fixtures (each dataset's official container)."""

from __future__ import annotations

import hashlib
import io
import json

import yaml
import pickle
import sys
from dataclasses import replace
import zipfile
from pathlib import Path

import numpy as np
import pytest

from attdistill.data import boxes as B
from attdistill.data.decode import source_indices
from attdistill.data.frames import extract_frames, pack_path
from attdistill.data.index import VideoIndex
from attdistill.data.packs import Pack
from attdistill.data.prepare import ManualFilesMissing, RemoteFile, prepare, sources_for
from attdistill.download import ChecksumError
from attdistill.profile import apply_profile

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "stages"))
import download as download_stage  # noqa: E402  (stages/download.py)

sys.path.insert(0, str(Path(__file__).parent))
from params import DEFAULT, params_dict, params_with  # noqa: E402
from test_parsers import (CLIP_FORMAT, CLIP_SIZE, clip_spec, make_egtea, make_hmdb, make_ssv2, read_code,  # noqa: E402
                          write_clip)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def params_for(name: str, tmp: Path, **extra):
    return params_with({"dataset": {"name": name}, "download": {"cache_dir": str(tmp / "cache"), "retries": 1},
                        **extra})


FRAMES = replace(DEFAULT.frames, fps=24.0, width=40, height=32, workers=1)   # resampled to 24 fps (§3.6), resized


def extract_and_check(idx: VideoIndex, base: Path, out: Path, dataset: str) -> None:
    """Run the frames stage on ``idx``: every video gets a complete pack of its resampled, resized frames."""
    report = out.with_name(out.name + "_skipped.json")
    summary = extract_frames(idx, out, FRAMES, base=base, report=report)
    assert summary.skipped == [] and json.loads(report.read_text()) == []
    assert (summary.total, summary.done, summary.present) == (len(idx.videos), len(idx.videos), 0)
    src_fps = CLIP_FORMAT[dataset][1]
    assert len({clip_spec(Path(v.path).name)[1] for v in idx.videos}) == len(idx.videos)   # tags tell videos apart
    for v in idx.videos:
        n_src, tag = clip_spec(Path(v.path).name)
        want = source_indices(n_src, src_fps, FRAMES.fps)              # source frame of each output frame
        with Pack(pack_path(out, v.video_id)) as pack:
            pack.verify()
            assert pack.shape == (len(want), FRAMES.height, FRAMES.width, 3)
            assert pack.meta["source"] == {"fps": src_fps, "frames": n_src, "width": CLIP_SIZE[0],
                                           "height": CLIP_SIZE[1], "backend": "decord"}
            assert [read_code(f) for f in pack.read(range(len(pack)))] == [(int(i), tag) for i in want], v.video_id


def served(server, name: str, data: bytes, mirror_of: str = "") -> RemoteFile:
    server.files[name] = data
    if mirror_of:
        return RemoteFile(url=server.url(mirror_of), sha256=sha(data), mirrors=(server.url(name),))
    return RemoteFile(url=server.url(name), sha256=sha(data), mirrors=())


# --------------------------------------------------------------------------------------------- UCF101
UCF_CLASSES = ["Basketball", "HandstandPushups", "WalkingWithDog"]
UCF_VIDEOS = {c: [f"v_{'HandStandPushups' if c == 'HandstandPushups' else c}_g{g:02d}_c01.avi" for g in (1, 8, 9)]
              for c in UCF_CLASSES}


def ucf101_archives(rar_writer, tmp: Path) -> tuple[bytes, bytes, bytes]:
    members = [("UCF-101/", b"")] + [(f"UCF-101/{c}/{v}", write_clip(tmp / "src" / c / v, "ucf101").read_bytes())
                                     for c, vs in UCF_VIDEOS.items() for v in vs]
    videos = rar_writer(tmp / "UCF101.rar", members).read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ucfTrainTestlist/classInd.txt", "".join(f"{i + 1} {c}\r\n" for i, c in enumerate(UCF_CLASSES)))
        zf.writestr("ucfTrainTestlist/trainlist01.txt", "".join(
            f"{c}/{v} {i + 1}\r\n" for i, c in enumerate(UCF_CLASSES) for v in UCF_VIDEOS[c] if "_g01_" not in v))
        zf.writestr("ucfTrainTestlist/testlist01.txt", "".join(
            f"{c}/{v}\r\n" for c in UCF_CLASSES for v in UCF_VIDEOS[c] if "_g01_" in v))
    db = {np.str_("Basketball/v_Basketball_g01_c01"): {
              "annotations": [{"label": 0, "sf": 0, "ef": 2, "boxes": np.array([[1, 2, 3, 4]] * 2, np.uint8)}],
              "numf": np.uint8(2), "label": 0},
          np.str_("Basketball/v_Basketball_g08_c01"): {   # a training video: not needed by localize
              "annotations": [{"label": 0, "sf": 0, "ef": 1, "boxes": np.array([[1, 2, 3, 4]], np.uint8)}],
              "numf": np.uint8(1), "label": 0}}
    return videos, buf.getvalue(), pickle.dumps(db, protocol=3)


def test_prepare_ucf101_from_local_server(tmp_path, file_server, rar_writer):
    videos, splits, pkl = ucf101_archives(rar_writer, tmp_path)
    params = params_for("ucf101", tmp_path)
    sources = replace(sources_for(params),
                      videos=served(file_server, "UCF101.rar", videos, mirror_of="gone/UCF101.rar"),
                      splits=served(file_server, "splits.zip", splits), boxes=served(file_server, "pyannot.pkl", pkl))
    idx = prepare(params, raw_dir="raw", base=tmp_path, sources=sources)

    assert idx.dataset == "ucf101" and idx.classes == UCF_CLASSES and idx.flip_invariant and idx.metric == "mean_class"
    assert idx.root == "raw/ucf101/UCF-101"                          # relative to base
    # the official train list (g08, g09) loses its first group to validation (dataset.val_fraction 0.25)
    assert len(idx.split("test")) == 3 and len(idx.split("train")) == 3 and len(idx.split("val")) == 3
    assert {v.group for v in idx.split("val")} == {"g08"} and idx.meta["val"]["groups"] == ["g08"]
    assert all(idx.video_path(v, tmp_path).read_bytes() == (tmp_path / "src" / v.path).read_bytes() for v in idx.videos)
    assert VideoIndex.load(tmp_path / "raw" / "index.json").to_dict() == idx.to_dict()
    boxes = B.load(tmp_path / idx.boxes)
    assert list(boxes) == ["Basketball/v_Basketball_g01_c01"]         # test split only
    assert boxes["Basketball/v_Basketball_g01_c01"].boxes_at_frame(1) == [(1.0, 2.0, 4.0, 6.0)]
    # the mirror was used after the primary URL answered 404
    assert ("gone/UCF101.rar", None) in file_server.requests and ("UCF101.rar", None) in file_server.requests

    # a rerun finds the archives in the cache (checksums match) and downloads nothing
    n = len(file_server.requests)
    assert prepare(params, raw_dir="raw", base=tmp_path, sources=sources).to_dict() == idx.to_dict()
    assert len(file_server.requests) == n
    extract_and_check(idx, tmp_path, tmp_path / "frames", "ucf101")


def test_prepare_refuses_a_checksum_mismatch(tmp_path, file_server, rar_writer):
    videos, splits, _ = ucf101_archives(rar_writer, tmp_path)
    file_server.files["UCF101.rar"] = videos
    params = params_for("ucf101", tmp_path)
    sources = replace(sources_for(params), videos=RemoteFile(url=file_server.url("UCF101.rar"), sha256="1" * 64,
                                                             mirrors=()),
                      splits=served(file_server, "splits.zip", splits))
    with pytest.raises(ChecksumError, match="1111"):
        prepare(params, raw_dir="raw", base=tmp_path, sources=sources)
    assert not (tmp_path / "raw" / "index.json").exists() and not (tmp_path / "cache" / "UCF101.rar").exists()


# --------------------------------------------------------------------------------------------- HMDB51
def test_prepare_hmdb51_rar_of_rars(tmp_path, file_server, rar_writer):
    src = tmp_path / "src"
    splits_dir, videos_dir = make_hmdb(src)
    inner = [(f"{cls}.rar", rar_writer(src / f"{cls}.rar", [(f"{cls}/{p.name}", p.read_bytes())
                                                            for p in sorted((videos_dir / cls).iterdir())]).read_bytes())
             for cls in ("brush_hair", "cartwheel")]
    videos = rar_writer(src / "hmdb51_org.rar", inner).read_bytes()
    splits = rar_writer(src / "test_train_splits.rar",
                        [(f"testTrainMulti_7030_splits/{p.name}", p.read_bytes())
                         for p in sorted(splits_dir.iterdir())]).read_bytes()
    params = params_for("hmdb51", tmp_path)
    sources = replace(sources_for(params), videos=served(file_server, "hmdb51_org.rar", videos),
                      splits=served(file_server, "test_train_splits.rar", splits))
    idx = prepare(params, raw_dir="raw", base=tmp_path, sources=sources)
    assert idx.classes == ["brush_hair", "cartwheel"] and idx.flip_invariant
    assert idx.root == "raw/hmdb51/videos" and len(idx.videos) == 4
    assert all(idx.video_path(v, tmp_path).is_file() for v in idx.videos)
    assert not list((tmp_path / "raw" / "hmdb51" / "videos").glob("*.rar"))     # inner RARs removed
    assert (tmp_path / "raw" / "index.json").is_file()
    extract_and_check(idx, tmp_path, tmp_path / "frames", "hmdb51")


# --------------------------------------------------------------------------------------------- registration datasets
def test_prepare_egtea_lists_missing_files_then_parses(tmp_path):
    manual = tmp_path / "manual"
    params = params_for("egtea", tmp_path)
    sources = replace(sources_for(params), manual_dir=str(manual))
    with pytest.raises(ManualFilesMissing) as err:
        prepare(params, raw_dir="raw", base=tmp_path, sources=sources)
    msg = str(err.value)
    for want in ("action_annotation/action_idx.txt", "action_annotation/train_split1.txt",
                 "action_annotation/test_split1.txt", "cropped_clips/", "registration"):
        assert want in msg
    make_egtea(manual / "egtea")
    (manual / "egtea" / "action_annotation" / "test_split1.txt").rename(
        manual / "egtea" / "action_annotation" / "test_split_1.txt")                  # misnamed
    with pytest.raises(ManualFilesMissing, match=r"1 required file\(s\) missing.*test_split1.txt"):
        prepare(params, raw_dir="raw", base=tmp_path, sources=sources)
    (manual / "egtea" / "action_annotation" / "test_split_1.txt").rename(
        manual / "egtea" / "action_annotation" / "test_split1.txt")
    idx = prepare(params, raw_dir="raw", base=tmp_path, sources=sources)
    assert idx.root == "manual/egtea/cropped_clips" and len(idx.videos) == 3
    assert all(idx.video_path(v, tmp_path).is_file() for v in idx.videos)
    extract_and_check(idx, tmp_path, tmp_path / "frames", "egtea")


def test_prepare_ssv2_lists_missing_files_then_parses(tmp_path):
    manual = tmp_path / "manual"
    params = params_for("ssv2", tmp_path)
    sources = replace(sources_for(params), manual_dir=str(manual))
    make_ssv2(manual / "ssv2")
    (manual / "ssv2" / "something-something-v2-train.json").unlink()
    with pytest.raises(ManualFilesMissing, match=r"1 required file\(s\).*something-something-v2-train.json"):
        prepare(params, raw_dir="raw", base=tmp_path, sources=sources)
    make_ssv2(tmp_path / "fresh")
    (manual / "ssv2" / "something-something-v2-train.json").write_bytes(
        (tmp_path / "fresh" / "something-something-v2-train.json").read_bytes())
    idx = prepare(params, raw_dir="raw", base=tmp_path, sources=sources)
    assert idx.metric == "top1" and idx.flip_map is not None and len(idx.split("test")) == 1
    assert json.loads((tmp_path / "raw" / "index.json").read_text())["flip_map"] == idx.flip_map
    extract_and_check(idx, tmp_path, tmp_path / "frames", "ssv2")


def test_frames_skip_a_truncated_clip_and_write_the_others(tmp_path):
    make_egtea(tmp_path / "manual" / "egtea")
    params = params_for("egtea", tmp_path)
    idx = prepare(params, raw_dir="raw", base=tmp_path,
                  sources=replace(sources_for(params), manual_dir=str(tmp_path / "manual")))
    bad = idx.videos[1]
    path = idx.video_path(bad, tmp_path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])      # an interrupted copy
    report = tmp_path / "skipped.json"
    summary = extract_frames(idx, tmp_path / "frames", FRAMES, base=tmp_path, report=report)
    assert (summary.total, summary.done) == (3, 2)
    assert [(s["video_id"], s["path"]) for s in summary.skipped] == [(bad.video_id, bad.path)]
    assert summary.skipped[0]["reason"].startswith("VideoError: ") and "undecodable" in summary.skipped[0]["reason"]
    assert json.loads(report.read_text()) == summary.skipped
    assert not pack_path(tmp_path / "frames", bad.video_id).exists()
    for v in idx.videos:
        if v is not bad:
            with Pack(pack_path(tmp_path / "frames", v.video_id)) as pack:
                assert len(pack) == clip_spec(Path(v.path).name)[0]          # 24 fps source: every frame kept


# --------------------------------------------------------------------------------------------- synthetic + CLI
SMALL_SYNTHETIC = {"kinds": ["disc"], "motions": ["left", "right"], "videos_per_class": 3, "groups": 3,
                   "test_groups": 1, "frames": 8, "width": 48, "height": 40}


def test_prepare_synthetic_writes_the_index(tmp_path):
    params = params_with({"synthetic": SMALL_SYNTHETIC})
    idx = prepare(params, raw_dir="raw", base=tmp_path)
    assert idx.dataset == "synthetic" and idx.num_classes == 2 and len(idx.videos) == 6
    assert [len(idx.split(s)) for s in ("train", "val", "test")] == [2, 2, 2]     # g03 / g02 / g01
    assert idx.root == "raw/synthetic/videos" and (tmp_path / idx.boxes).is_file()
    assert all(idx.video_path(v, tmp_path).is_file() for v in idx.videos)
    assert VideoIndex.load(tmp_path / "raw" / "index.json").flip_map == idx.flip_map


def test_stage_cli_fails_fast_on_bad_params_and_runs_synthetic(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(params_dict({"dataset": {"name": "kinetics"}})))      # JSON is YAML
    assert download_stage.main(["--params", str(bad), "--out", str(tmp_path / "raw")]) == 2
    assert "kinetics" in capsys.readouterr().err and not (tmp_path / "raw").exists()
    good = tmp_path / "params.yaml"
    good.write_text(yaml.safe_dump(params_dict({"synthetic": SMALL_SYNTHETIC})))
    assert download_stage.main(["--params", str(good), "--out", "raw", "--base", str(tmp_path), "--workers", "1"]) == 0
    assert "synthetic: 2 classes, 2 train / 2 val / 2 test" in capsys.readouterr().out
    assert VideoIndex.load(tmp_path / "raw" / "index.json").num_classes == 2


def test_sources_come_from_the_profile_via_params(tmp_path):
    params_yaml = tmp_path / "params.yaml"
    params_yaml.write_text((REPO / "params.yaml").read_text())
    params, _ = apply_profile("ucf101", params_yaml, REPO / "profiles", write=True)
    src = sources_for(params)
    assert src.videos.url == "https://www.crcv.ucf.edu/datasets/human-actions/ucf101/UCF101.rar"
    assert len(src.videos.sha256) == 64 and len(src.boxes.sha256) == 64
    assert sources_for(params_with({"dataset": {"name": "ssv2"}})).manual_dir == DEFAULT.download.manual_dir


# --------------------------------------------------------------------------------------------- paper profiles
def test_profile_merge_writes_params_that_config_validates(tmp_path):
    from attdistill.config import load_params
    from attdistill.profile import apply_profile, exp_run_command

    params_yaml = tmp_path / "params.yaml"
    params_yaml.write_text((REPO / "params.yaml").read_text())
    for dataset, name in (("ucf101", "ucf101"), ("hmdb51", "hmdb51"), ("egtea", "egtea"), ("ssv2", "ssv2")):
        params, changes = apply_profile(dataset, params_yaml, REPO / "profiles", overrides=["train.nproc=4"])
        p = load_params(params_yaml)                     # the written file validates
        assert p == params and p.dataset.name == name
        assert (p.frames.width, p.frames.height, p.frames.fps) == (320, 256, 24.0)           # §3.6
        assert (p.clip.frames, p.clip.crop, p.train.batch_size, p.train.lr) == (24, 224, 64, 0.01)
        assert (p.train.weight_decay, p.model.dropout, p.model.width, p.model.final_stride) == (4e-5, 0.7, 1.0, 2)
        assert p.flow.tvl1.nscales == 5 and p.attention == "prob-atten" and p.evaluate.crops == 1
        assert p.model.pretrained_rgb.endswith("rgb_imagenet.pt") and p.train.nproc == 4
    assert "-S 'augment.scale_jitter=[0.875, 0.875]'" in exp_run_command({"augment.scale_jitter": [0.875, 0.875]})


def test_profile_rejects_an_invalid_value_and_writes_nothing(tmp_path):
    from attdistill.config import ConfigError
    from attdistill.profile import apply_profile, main

    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "paper.yaml").write_text((REPO / "profiles" / "paper.yaml").read_text())
    (profiles / "ucf101.yaml").write_text("dataset: {name: ucf101}\nmodel: {dropout: 1.5}\n")
    params_yaml = tmp_path / "params.yaml"
    before = (REPO / "params.yaml").read_text()
    params_yaml.write_text(before)
    with pytest.raises(ConfigError, match="model.dropout"):
        apply_profile("ucf101", params_yaml, profiles)
    (profiles / "ucf101.yaml").write_text("dataset: {name: ucf101}\ntrain: {learning_rate: 0.1}\n")
    assert main(["ucf101", "--params", str(params_yaml), "--profiles", str(profiles)]) == 2   # unknown key
    with pytest.raises(ConfigError, match="unknown dataset"):
        apply_profile("kinetics", params_yaml, profiles)
    assert params_yaml.read_text() == before
