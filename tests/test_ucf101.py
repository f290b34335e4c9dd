"""UCF101 split parser on small fixtures written in the official format (CRLF, case quirks, missing files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from attdistill.data.ucf101 import (SplitFormatError, group_of, parse_ucf101, read_class_index,
                                    write_ucf101_lists)

CLASSES = ["ApplyEyeMakeup", "HandstandPushups", "YoYo"]


def _touch(videos: Path, rel: str) -> None:
    p = videos / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"avi")


def _write(path: Path, lines: list[str], newline: str = "\r\n") -> None:
    path.write_bytes("".join(line + newline for line in lines).encode())


@pytest.fixture
def ucf(tmp_path: Path) -> tuple[Path, Path]:
    """Official-looking split files (CRLF, trailing spaces, a blank line) and the videos they name."""
    splits, videos = tmp_path / "ucfTrainTestlist", tmp_path / "UCF-101"
    splits.mkdir()
    _write(splits / "classInd.txt", ["1 ApplyEyeMakeup", "2 HandstandPushups ", "3 YoYo", ""])
    _write(splits / "trainlist01.txt", [
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g09_c02.avi 1 ",
        "HandstandPushups/v_HandStandPushups_g08_c01.avi 2",
        "YoYo/v_YoYo_g10_c03.avi 3",
    ])
    _write(splits / "testlist01.txt", [
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi",
        "HandstandPushups/v_HandStandPushups_g01_c02.avi ",
        "YoYo/v_YoYo_g07_c04.avi",
    ])
    for rel in ["ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", "ApplyEyeMakeup/v_ApplyEyeMakeup_g09_c02.avi",
                "HandstandPushups/v_HandStandPushups_g08_c01.avi", "YoYo/v_YoYo_g10_c03.avi",
                "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "HandstandPushups/v_HandStandPushups_g01_c02.avi",
                "YoYo/v_YoYo_g07_c04.avi"]:
        _touch(videos, rel)
    return splits, videos


def test_parses_official_format_with_crlf(ucf):
    splits, videos = ucf
    idx = parse_ucf101(splits, videos, split=1)
    assert idx.classes == CLASSES
    assert idx.dataset == "ucf101" and idx.metric == "mean_class"
    assert idx.root == str(videos)
    assert len(idx.split("train")) == 4 and len(idx.split("test")) == 3
    by_id = idx.by_id()
    rec = by_id["ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01"]
    assert (rec.path, rec.label, rec.split, rec.group) == (
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", 0, "train", "g08")
    # testlist has no labels: the class comes from the folder
    assert by_id["YoYo/v_YoYo_g07_c04"].label == 2 and by_id["YoYo/v_YoYo_g07_c04"].split == "test"
    assert by_id["HandstandPushups/v_HandStandPushups_g01_c02"].label == 1
    assert not any("\r" in v.path or v.path.endswith(" ") for v in idx.videos)
    assert idx.flip_invariant and idx.can_flip()


def test_group_extraction():
    assert group_of("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi") == "g08"
    assert group_of("v_YoYo_g25_c07.avi") == "g25"
    assert group_of("v_YoYo_G3_C1.avi") == "g03"
    assert group_of("clip.avi") == ""


def test_handstand_case_quirk_resolves_to_file_on_disk(ucf):
    splits, videos = ucf
    # A tool that normalised the file name's case in the lists: the exact path does not exist on disk.
    _write(splits / "trainlist01.txt", [
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g09_c02.avi 1",
        "HandstandPushups/v_HandstandPushups_g08_c01.avi 2",
        "yoyo/v_yoyo_g10_c03.avi 3",
    ])
    idx = parse_ucf101(splits, videos)
    ids = {v.video_id: v for v in idx.videos}
    assert "HandstandPushups/v_HandStandPushups_g08_c01" in ids            # id of the file as it is on disk
    assert ids["HandstandPushups/v_HandStandPushups_g08_c01"].label == 1
    assert ids["YoYo/v_YoYo_g10_c03"].path == "YoYo/v_YoYo_g10_c03.avi"
    assert ids["YoYo/v_YoYo_g10_c03"].label == 2


def test_label_comes_from_folder_not_filename(ucf):
    splits, videos = ucf
    _touch(videos, "YoYo/v_ApplyEyeMakeup_g11_c01.avi")       # misleading file name inside the YoYo folder
    _write(splits / "testlist01.txt", ["YoYo/v_ApplyEyeMakeup_g11_c01.avi"])
    idx = parse_ucf101(splits, videos)
    assert idx.by_id()["YoYo/v_ApplyEyeMakeup_g11_c01"].label == CLASSES.index("YoYo")


def test_listed_label_must_agree_with_folder(ucf):
    splits, videos = ucf
    _write(splits / "trainlist01.txt", ["YoYo/v_YoYo_g10_c03.avi 1"])
    with pytest.raises(SplitFormatError, match="disagrees with folder 'YoYo'"):
        parse_ucf101(splits, videos)


def test_missing_videos_are_listed_together(ucf):
    splits, videos = ucf
    lines = [f"YoYo/v_YoYo_g{g:02d}_c01.avi 3" for g in range(11, 19)]          # 8 missing files
    _write(splits / "trainlist01.txt", lines)
    with pytest.raises(FileNotFoundError) as exc:
        parse_ucf101(splits, videos)
    msg = str(exc.value)
    assert msg.startswith("8 video(s)") and "YoYo/v_YoYo_g11_c01.avi" in msg and "and 3 more" in msg
    assert "v_YoYo_g18_c01" not in msg


def test_unknown_class_folder_and_bad_class_index(ucf, tmp_path):
    splits, videos = ucf
    _write(splits / "testlist01.txt", ["Archery/v_Archery_g01_c01.avi"])
    with pytest.raises(SplitFormatError, match="not in classInd"):
        parse_ucf101(splits, videos)
    bad = tmp_path / "classInd.txt"
    _write(bad, ["1 A", "3 B"])
    with pytest.raises(SplitFormatError, match="1..2"):
        read_class_index(bad)
    _write(bad, ["0 A"])
    with pytest.raises(SplitFormatError):
        read_class_index(bad)


def test_missing_split_file_and_videos_dir(ucf, tmp_path):
    splits, videos = ucf
    with pytest.raises(FileNotFoundError, match="trainlist02"):
        parse_ucf101(splits, videos, split=2)
    with pytest.raises(FileNotFoundError, match="videos folder"):
        parse_ucf101(splits, tmp_path / "nope")


def test_writer_round_trip_and_relative_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    videos = Path("data/videos")
    train = [("YoYo/v_YoYo_g03_c01.avi", 1), ("Archery/v_Archery_g04_c02.avi", 0)]
    test = ["Archery/v_Archery_g01_c01.avi", "YoYo/v_YoYo_g02_c01.avi"]
    for rel, _ in train:
        _touch(videos, rel)
    for rel in test:
        _touch(videos, rel)
    write_ucf101_lists("data", ["Archery", "YoYo"], train, test, split=2)
    raw = Path("data/trainlist02.txt").read_bytes()
    assert raw.startswith(b"YoYo/v_YoYo_g03_c01.avi 2\r\n")                 # 1-based labels, CRLF like the zip
    assert Path("data/classInd.txt").read_bytes() == b"1 Archery\r\n2 YoYo\r\n"
    assert Path("data/testlist02.txt").read_text().split() == test
    idx = parse_ucf101("data", "data/videos", split=2, dataset="synthetic")
    assert idx.root == "data/videos" and idx.dataset == "synthetic"
    assert sorted((v.path, v.label, v.split) for v in idx.videos) == sorted(
        [(p, l, "train") for p, l in train] + [(p, ["Archery", "YoYo"].index(p.split("/")[0]), "test") for p in test])
    assert idx.video_path(idx.videos[0]).is_file()


def test_group_in_both_splits_is_rejected(ucf):
    splits, videos = ucf
    _touch(videos, "YoYo/v_YoYo_g10_c04.avi")
    _write(splits / "testlist01.txt", ["YoYo/v_YoYo_g10_c04.avi"])            # g10 is also in trainlist
    with pytest.raises(ValueError, match="groups in both splits"):
        parse_ucf101(splits, videos)
