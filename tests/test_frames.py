"""The frames stage and the shared job runner: packs, skip report, resume, sharding, CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from attdistill.config import FramesConfig
from attdistill.data import frames as frames_mod
from attdistill.data.frames import extract_frames
from attdistill.data.index import VideoIndex, VideoRecord
from attdistill.data.jobs import merge_reports, parse_shard, shard_report_path
from attdistill.data.packs import Pack, is_valid_pack, read_pack
from params import DEFAULT, params_dict
from test_decode import smooth_frames, write_video

REPO = Path(__file__).resolve().parents[1]
PYTHON = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable
CFG = FramesConfig(fps=24, width=32, height=24, encoding="jpg", quality=90, workers=1)


def make_index(root: Path, n: int = 6, frames: int = 12, fps: float = 30.0, bad: dict[int, str] | None = None,
               videos: dict[int, np.ndarray] | None = None) -> VideoIndex:
    """``n`` MJPG videos under ``root/videos`` (every third one is a test video) and ``root/index.json``.

    ``bad`` maps a video number to "random" (random bytes) or "empty" (0 bytes); ``videos`` gives frames.
    """
    bad, videos = bad or {}, videos or {}
    records = []
    for i in range(n):
        cls = "A" if i % 2 == 0 else "B"
        vid = f"{cls}/v_{cls}_g{i % 3 + 1:02d}_c{i:02d}"
        path = root / "videos" / f"{vid}.avi"
        path.parent.mkdir(parents=True, exist_ok=True)
        if bad.get(i) == "random":
            path.write_bytes(np.random.default_rng(i).integers(0, 256, 30000, dtype=np.uint8).tobytes())
        elif bad.get(i) == "empty":
            path.write_bytes(b"")
        else:
            write_video(path, videos.get(i, smooth_frames(frames, seed=i)), fps=fps)
        records.append(VideoRecord(vid, f"{vid}.avi", i % 2, "test" if i % 3 == 0 else "train", f"g{i % 3 + 1:02d}"))
    index = VideoIndex("tiny", str(root / "videos"), ["A", "B"], records)
    index.save(root / "index.json")
    return index


def pack_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_extract_frames_packs(tmp_path):
    index = make_index(tmp_path, n=3, frames=15, fps=30)
    summary = extract_frames(index, tmp_path / "frames", CFG, report=tmp_path / "skipped.json")
    assert (summary.done, summary.present, summary.skipped) == (3, 0, [])
    assert json.loads((tmp_path / "skipped.json").read_text()) == []
    for rec in index.videos:
        with Pack(tmp_path / "frames" / f"{rec.video_id}.pack") as p:
            assert p.shape == (12, 24, 32, 3)                   # 15 frames at 30 fps -> 12 at 24 fps
            assert p.meta["source"]["frames"] == 15 and p.meta["source"]["fps"] == pytest.approx(30)
            assert (p.meta["source"]["width"], p.meta["source"]["height"]) == (64, 48)
            assert p.meta["fps"] == 24 and p.meta["size"] == [32, 24] and p.encoding == "jpg"
    # deterministic: a second extraction into another folder gives identical bytes
    extract_frames(index, tmp_path / "again", CFG)
    assert pack_files(tmp_path / "frames") == pack_files(tmp_path / "again")


def test_skip_report_lists_bad_videos(tmp_path):
    index = make_index(tmp_path, n=5, bad={1: "random", 3: "empty"})
    summary = extract_frames(index, tmp_path / "frames", CFG, report=tmp_path / "r" / "skipped.json")
    assert summary.done == 3 and len(summary.skipped) == 2
    report = json.loads((tmp_path / "r" / "skipped.json").read_text())
    assert [r["video_id"] for r in report] == sorted([index.videos[1].video_id, index.videos[3].video_id])
    reasons = {r["video_id"]: r["reason"] for r in report}
    assert "undecodable" in reasons[index.videos[1].video_id]
    assert "empty file" in reasons[index.videos[3].video_id]
    for i, rec in enumerate(index.videos):
        assert (tmp_path / "frames" / f"{rec.video_id}.pack").exists() == (i not in (1, 3))


def test_resume_after_interrupt(tmp_path, monkeypatch):
    index = make_index(tmp_path, n=6)
    out = tmp_path / "frames"
    calls: list[str] = []
    real = frames_mod.read_video

    def counting(path, *args, **kwargs):
        calls.append(Path(path).stem)
        if len(calls) == 4:                                # Ctrl-C while decoding the 4th video
            raise KeyboardInterrupt
        return real(path, *args, **kwargs)

    monkeypatch.setattr(frames_mod, "read_video", counting)
    with pytest.raises(KeyboardInterrupt):
        extract_frames(index, out, CFG, report=tmp_path / "skipped.json")
    packs = sorted(out.rglob("*.pack"))
    assert len(packs) == 3 and all(is_valid_pack(p) for p in packs)
    assert not list(out.rglob("*.tmp"))                    # nothing partial left behind

    # damage the state further: truncate a finished pack, leave a stale temp file of a killed writer
    ids = [r.video_id for r in index.videos]
    truncated = out / f"{ids[1]}.pack"
    truncated.write_bytes(truncated.read_bytes()[:-40])
    stale = out / f"{ids[4]}.pack"
    stale_tmp = stale.with_name(f".{stale.name}.99999.tmp")
    stale_tmp.write_bytes(b"partial")
    os.utime(out / f"{ids[0]}.pack", (1_000_000, 1_000_000))
    os.utime(out / f"{ids[2]}.pack", (1_000_000, 1_000_000))

    calls.clear()
    monkeypatch.setattr(frames_mod, "read_video", lambda path, *a, **k: (calls.append(Path(path).stem),
                                                                        real(path, *a, **k))[1])
    summary = extract_frames(index, out, CFG, report=tmp_path / "skipped.json")
    redone = sorted(calls)
    assert redone == sorted(Path(i).name for i in (ids[1], ids[3], ids[4], ids[5]))
    assert (summary.done, summary.present) == (4, 2)
    assert os.stat(out / f"{ids[0]}.pack").st_mtime == 1_000_000      # untouched
    assert os.stat(out / f"{ids[2]}.pack").st_mtime == 1_000_000
    assert not stale_tmp.exists() and not list(out.rglob("*.tmp"))
    assert all(is_valid_pack(out / f"{i}.pack", full=True) for i in ids)

    # a third run has nothing to do
    calls.clear()
    summary = extract_frames(index, out, CFG)
    assert calls == [] and (summary.done, summary.present) == (0, 6)


def test_resume_redoes_packs_made_with_other_params(tmp_path):
    index = make_index(tmp_path, n=2)
    extract_frames(index, tmp_path / "frames", CFG)
    summary = extract_frames(index, tmp_path / "frames", dataclasses.replace(DEFAULT.frames, fps=24, width=40, height=32, workers=1))
    assert summary.done == 2 and summary.present == 0
    assert read_pack(tmp_path / "frames" / f"{index.videos[0].video_id}.pack").shape[1:3] == (32, 40)


def test_shards_cover_every_video_once(tmp_path):
    index = make_index(tmp_path, n=7, bad={5: "empty"})
    report = tmp_path / "rep" / "frames_skipped.json"
    extract_frames(index, tmp_path / "full", CFG, report=report)
    n = 3
    totals = 0
    for k in range(n):
        s = extract_frames(index, tmp_path / "sharded", CFG, shard=(k, n), report=report)
        totals += s.total
        assert s.report == str(shard_report_path(report, (k, n)))
    assert totals == len(index.videos)
    assert pack_files(tmp_path / "sharded") == pack_files(tmp_path / "full")
    canonical = json.loads(report.read_text())
    report.unlink()
    assert merge_reports(report, n, remove=True) == canonical
    assert json.loads(report.read_text()) == canonical and len(canonical) == 1
    assert not list(report.parent.glob("*.shard-*"))
    with pytest.raises(FileNotFoundError, match="shard reports missing"):
        merge_reports(report, 2)


def test_parallel_workers_match_serial(tmp_path):
    index = make_index(tmp_path, n=4, bad={2: "random"})
    cfg2 = FramesConfig(fps=24, width=32, height=24, encoding="jpg", quality=90, workers=2)
    s = extract_frames(index, tmp_path / "par", cfg2, report=tmp_path / "par.json")
    extract_frames(index, tmp_path / "ser", CFG)
    assert s.done == 3 and [r["video_id"] for r in s.skipped] == [index.videos[2].video_id]
    assert pack_files(tmp_path / "par") == pack_files(tmp_path / "ser")


def test_parse_shard():
    assert parse_shard("2/4") == (2, 4)
    assert parse_shard(None, env={}) == (0, 1)
    assert parse_shard(None, env={"RANK": "1", "WORLD_SIZE": "3"}) == (1, 3)
    assert parse_shard("1/3", env={"RANK": "0", "WORLD_SIZE": "2"}) == (1, 3)   # the flag wins
    for bad in ("4/4", "x/2", "1"):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)
    assert shard_report_path("r/x.json", (1, 3)) == Path("r/x.shard-1-of-3.json")
    assert shard_report_path("r/x.json", (0, 1)) == Path("r/x.json")


def write_params(path: Path, changes: dict | None = None, **frames) -> Path:
    """The repository's params.yaml with small ``frames`` (and the nested ``changes``) merged in."""
    cfg = {"fps": 24, "width": 32, "height": 24, "encoding": "jpg", "quality": 90, "workers": 1, **frames}
    path.write_text(yaml.safe_dump(params_dict({"frames": cfg, **(changes or {})}), sort_keys=False))
    return path


def run_stage(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, str(REPO / "stages" / "frames.py"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_cli_end_to_end(tmp_path):
    make_index(tmp_path, n=3, bad={1: "empty"})
    params = write_params(tmp_path / "params.yaml")
    r = run_stage("--params", str(params), "--index", "index.json", "--out", "frames",
                  "--report", "reports/frames_skipped.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "2 done" in r.stdout and "1 skipped" in r.stdout
    assert len(list((tmp_path / "frames").rglob("*.pack"))) == 2
    assert len(json.loads((tmp_path / "reports" / "frames_skipped.json").read_text())) == 1
    # sharded through torchrun's environment variables
    env = {**os.environ, "RANK": "1", "WORLD_SIZE": "2"}
    r = subprocess.run([PYTHON, str(REPO / "stages" / "frames.py"), "--params", str(params), "--index",
                        "index.json", "--out", "frames2", "--report", "rep.json"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "rep.shard-1-of-2.json").exists() and not (tmp_path / "rep.json").exists()
    shard_report = json.loads((tmp_path / "rep.shard-1-of-2.json").read_text())
    assert [r["video_id"] for r in shard_report] == ["B/v_B_g02_c01"]      # shard 1 of 2 = video 1 (empty)
    assert not list((tmp_path / "frames2").rglob("*.pack"))


def test_cli_rejects_bad_params_before_work(tmp_path):
    make_index(tmp_path, n=2)
    params = write_params(tmp_path / "params.yaml", encoding="gif")
    r = run_stage("--params", str(params), "--index", "index.json", "--out", "frames",
                  "--report", "skipped.json", cwd=tmp_path)
    assert r.returncode == 2
    assert "frames.encoding" in r.stderr and "jpg, png" in r.stderr
    assert not (tmp_path / "frames").exists() and not (tmp_path / "skipped.json").exists()


def test_unexpected_error_stops_the_run_with_the_video_id(tmp_path, monkeypatch):
    index = make_index(tmp_path, n=2)

    def buggy(*args, **kwargs):
        raise ZeroDivisionError("a bug, not a bad video")

    monkeypatch.setattr(frames_mod, "read_video", buggy)
    with pytest.raises(RuntimeError, match=f"{index.videos[0].video_id}: ZeroDivisionError"):
        extract_frames(index, tmp_path / "frames", CFG, report=tmp_path / "r.json")
    assert not (tmp_path / "r.json").exists()               # no report claims success


def test_cli_fails_when_every_video_is_skipped(tmp_path):
    """A whole dataset that cannot be decoded is a systematic problem: the stage fails and says why."""
    make_index(tmp_path, n=2, bad={0: "empty", 1: "empty"})
    params = write_params(tmp_path / "params.yaml")
    r = run_stage("--params", str(params), "--index", "index.json", "--out", "frames",
                  "--report", "reports/frames_skipped.json", cwd=tmp_path)
    assert r.returncode == 1 and "all 2 videos were skipped" in r.stderr
    assert len(json.loads((tmp_path / "reports" / "frames_skipped.json").read_text())) == 2
