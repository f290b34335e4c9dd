"""Charades parser (official csv / classes format), multi-label index, mAP, clip max-pooling and the BCE loss."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from attdistill.data.charades import (COLUMNS, CharadesFormatError, frame_targets, multi_hot, parse_actions,
                                      parse_charades, read_classes)
from attdistill.data.dataset import spaced_clip_starts
from attdistill.data.index import VideoIndex, VideoRecord
from attdistill.evaluation.multilabel import clip_max_pool, labelled, mean_average_precision, per_class_ap
from attdistill.losses import multilabel_loss
from attdistill.models.networks import NetOutput
from params import params_with
from tiny_data import make_tiny_dataset, tiny_params

CLASSES = ["c000 Holding some clothes", "c001 Putting clothes somewhere", "c002 Taking some clothes from somewhere",
           "c003 Throwing clothes somewhere", "c004 Tidying some clothes"]

TRAIN = [
    {"id": "46GP8", "subject": "HR43", "scene": "Kitchen", "quality": "6", "relevance": "7", "verified": "Yes",
     "script": 'A person cooks food on a stove, then "tidies" up, sneezing.', "objects": "food;stove;window",
     "descriptions": "A person is cooking, then they tidy up, and sneeze.",
     "actions": "c002 11.90 21.20;c004 0.00 12.60", "length": "24.83"},
    {"id": "N11GT", "subject": "0KZ7", "scene": "Stairs", "quality": "", "relevance": "", "verified": "Yes",
     "script": "One person opens a closet,\nthen walks away.", "objects": "closet", "descriptions": "",
     "actions": "", "length": "18.33"},
]
TEST = [
    {"id": "YSKX3", "subject": "ZZ12", "scene": "Bedroom", "quality": "5", "relevance": "6", "verified": "No",
     "script": "Someone holds clothes, then puts them down", "objects": "clothes;bed",
     "descriptions": "x, y, z", "actions": "c000 1.5 3.25;c001 3.0 9.0;c000 7.0 8.0", "length": "10.0"},
]


def _write(folder, classes=CLASSES, train=TRAIN, test=TEST, videos=True):
    ann = folder / "ann"
    ann.mkdir(parents=True)
    (ann / "Charades_v1_classes.txt").write_text("\n".join(classes) + "\n")
    for name, rows in (("Charades_v1_train.csv", train), ("Charades_v1_test.csv", test)):
        with open(ann / name, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=COLUMNS, quoting=csv.QUOTE_MINIMAL)
            w.writeheader()
            w.writerows(rows)
    vids = folder / "Charades_v1_480"
    vids.mkdir()
    if videos:
        for row in train + test:
            (vids / f"{row['id']}.mp4").write_bytes(b"")
    return ann, vids


def test_parser_reads_the_official_format(tmp_path):
    ann, vids = _write(tmp_path)
    text = (ann / "Charades_v1_train.csv").read_text()
    assert '"A person cooks food on a stove, then ""tidies"" up, sneezing."' in text   # quoted, as official
    index = parse_charades(ann, vids)
    assert index.metric == "mAP" and index.flip_invariant and index.dataset == "charades"
    assert index.classes[2] == "Taking some clothes from somewhere"
    assert index.meta["class_codes"] == ["c000", "c001", "c002", "c003", "c004"]
    by_id = index.by_id()
    assert [v.video_id for v in index.split("train")] == ["46GP8", "N11GT"]
    assert [v.video_id for v in index.split("test")] == ["YSKX3"]
    assert by_id["46GP8"].actions == ((2, 11.9, 21.2), (4, 0.0, 12.6))
    assert by_id["46GP8"].labels == (2, 4) and by_id["46GP8"].label == -1
    assert by_id["N11GT"].actions == () and by_id["N11GT"].labels == ()        # an empty actions field is legal
    assert by_id["YSKX3"].labels == (0, 1) and len(by_id["YSKX3"].actions) == 3
    assert by_id["YSKX3"].path == "YSKX3.mp4"


def test_index_round_trip_keeps_actions_and_single_label_files_unchanged(tmp_path):
    ann, vids = _write(tmp_path)
    index = parse_charades(ann, vids)
    index.save(tmp_path / "index.json")
    again = VideoIndex.load(tmp_path / "index.json")
    assert again.videos == index.videos and again.metric == "mAP"
    # single-label indices: no "actions" key is written, so their index.json is what it was before
    single = VideoIndex(dataset="x", root="r", classes=["a", "b"],
                        videos=[VideoRecord(video_id="v", path="v.avi", label=1, split="train")])
    assert "actions" not in single.to_dict()["videos"][0]
    assert VideoIndex.from_dict(json.loads(json.dumps(single.to_dict()))).videos[0].labels == (1,)
    bad = VideoIndex(dataset="x", root="r", classes=["a", "b"], videos=[
        VideoRecord(video_id="v", path="v.avi", label=0, split="train", actions=((1, 0.0, 1.0),))])
    with pytest.raises(ValueError, match="multi-label"):
        bad.validate()


def test_parser_errors(tmp_path):
    codes = {"c000": 0, "c001": 1}
    assert parse_actions("", codes) == ()
    with pytest.raises(CharadesFormatError, match="unknown class code"):
        parse_actions("c009 1 2", codes, "f:3")
    with pytest.raises(CharadesFormatError, match="expected"):
        parse_actions("c000 1.0", codes, "f:3")
    with pytest.raises(CharadesFormatError, match="not numbers"):
        parse_actions("c000 a b", codes, "f:3")
    with pytest.raises(CharadesFormatError, match="empty action"):
        parse_actions("c000 1 2;;c001 2 3", codes, "f:3")

    ann, vids = _write(tmp_path / "gap", classes=["c000 A", "c002 B"])
    with pytest.raises(CharadesFormatError, match="without gaps"):
        parse_charades(ann, vids)
    ann, vids = _write(tmp_path / "novid", videos=False)
    with pytest.raises(FileNotFoundError, match="3 Charades video"):
        parse_charades(ann, vids)
    assert len(parse_charades(ann, vids, check_files=False).videos) == 3
    ann, vids = _write(tmp_path / "header")
    (ann / "Charades_v1_test.csv").write_text("id,actions\nYSKX3,\n")
    with pytest.raises(CharadesFormatError, match="header lacks"):
        parse_charades(ann, vids)
    (ann / "Charades_v1_test.csv").unlink()
    with pytest.raises(FileNotFoundError, match="Charades_v1_test.csv"):
        parse_charades(ann, vids)


def test_annotations_in_the_unzipped_charades_folder(tmp_path):
    ann, vids = _write(tmp_path / "x")
    nested = tmp_path / "manual"
    nested.mkdir()
    ann.rename(nested / "Charades")                       # Charades.zip unpacks to Charades/
    assert len(parse_charades(nested, vids).videos) == 3
    codes, names = read_classes(nested / "Charades" / "Charades_v1_classes.txt")
    assert codes[4] == "c004" and names[0] == "Holding some clothes"


def test_targets_and_clip_starts():
    recs = [VideoRecord("a", "a.mp4", -1, "test", actions=((2, 0.0, 1.0), (0, 0.5, 2.0))),
            VideoRecord("b", "b.mp4", -1, "test")]
    np.testing.assert_array_equal(multi_hot(recs, 3), [[1, 0, 1], [0, 0, 0]])
    times = np.array([0.0, 0.75, 1.5, 2.5])
    np.testing.assert_array_equal(frame_targets(recs[0].actions, times, 3),
                                  [[0, 0, 1], [1, 0, 1], [1, 0, 0], [0, 0, 0]])
    # last start 100 - 1 - 16 = 83, steps of 83/9 = 9.22: 0, 9.22, 18.44, 27.67, ... rounded half up
    assert spaced_clip_starts(100, 16, 10) == [0, 9, 18, 28, 37, 46, 55, 65, 74, 83]
    assert spaced_clip_starts(10, 16, 3) == [0, 0, 0]


# --------------------------------------------------------------------------------------------- metrics
def test_map_on_hand_computed_cases():
    targets = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0]])
    scores = np.array([[0.9, 0.2, 0.5], [0.8, 0.4, 0.1], [0.3, 0.6, 0.7], [0.1, 0.1, 0.2]])
    # class 0: ranking +, -, +, -  -> AP = (1/1 + 2/3) / 2 = 5/6
    # class 1: ranking v2 (-), v1 (+) -> AP = 1/2;  class 2: no positive video -> excluded
    ap = per_class_ap(scores, targets)
    np.testing.assert_allclose(ap[:2], [5 / 6, 1 / 2])
    assert np.isnan(ap[2])
    assert mean_average_precision(scores, targets) == pytest.approx((5 / 6 + 1 / 2) / 2)
    assert mean_average_precision(targets[:3, :2] * 2.0 - 1.0, targets[:3, :2]) == 1.0     # perfect ranking
    # tied scores form one threshold: precision 1/2 at recall 1
    assert mean_average_precision(np.array([[0.5], [0.5]]), np.array([[1], [0]])) == pytest.approx(0.5)
    np.testing.assert_array_equal(labelled(targets), [True, True, True, False])
    with pytest.raises(ValueError, match="undefined"):
        mean_average_precision(scores, np.zeros_like(targets))


def test_clip_max_pool():
    clips = np.array([[0.1, 0.9], [0.7, 0.2], [0.3, 0.3], [-1.0, 5.0], [0.0, 0.0]])
    video = np.array([0, 0, 1, 2, 2])                     # 2, 1 and 2 clips
    np.testing.assert_array_equal(clip_max_pool(clips, video, 3), [[0.7, 0.9], [0.3, 0.3], [0.0, 5.0]])
    with pytest.raises(ValueError, match="no clip"):
        clip_max_pool(clips, video, 4)


def test_multilabel_loss_by_hand():
    z = torch.zeros(2, 3)
    out = NetOutput(logits={"main": z}, probs=torch.sigmoid(z))
    assert float(multilabel_loss(out, torch.tensor([[1, 0, 1], [0, 0, 0]]))) == pytest.approx(np.log(2))
    big = torch.full((1, 2), 20.0)                        # confident and right: ~0; confident and wrong: ~20
    two = NetOutput(logits={"motion": big, "appearance": -big}, probs=torch.sigmoid(big))
    assert float(multilabel_loss(two, torch.ones(1, 2))) == pytest.approx(10.0, abs=1e-6)


# ------------------------------------------------------------------------------------------------ in the pipeline
def test_prepare_charades_from_the_placed_files(tmp_path):
    from dataclasses import replace

    from attdistill.data.prepare import ManualFilesMissing, prepare, sources_for

    manual = tmp_path / "manual"
    params = params_with({"dataset": {"name": "charades", "val_fraction": 0.5}})
    sources = replace(sources_for(params), manual_dir=str(manual))
    with pytest.raises(ManualFilesMissing) as err:
        prepare(params, raw_dir="raw", base=tmp_path, sources=sources)
    for want in ("Charades/Charades_v1_classes.txt", "Charades/Charades_v1_train.csv", "Charades_v1_480/",
                 "Charades_v1_480.zip"):
        assert want in str(err.value)
    ann, vids = _write(manual / "charades")
    ann.rename(manual / "charades" / "Charades")                       # Charades.zip unpacks to Charades/
    idx = prepare(params, raw_dir="raw", base=tmp_path, sources=sources)
    assert idx.metric == "mAP" and idx.root == "manual/charades/Charades_v1_480"
    assert [v.split for v in idx.videos] == ["val", "train", "test"] or [v.split for v in idx.videos] == \
        ["train", "val", "test"]                                        # one of the two training videos carved
    assert VideoIndex.load(tmp_path / "raw" / "index.json").by_id()["46GP8"].labels == (2, 4)


def _multilabel_tiny(tmp_path):
    """The tiny dataset as a multi-label index: each video has its class and, for odd clips, the next class."""
    index_path = make_tiny_dataset(tmp_path)
    index = VideoIndex.load(index_path)
    k = index.num_classes
    videos = [VideoRecord(v.video_id, v.path, -1, v.split, v.group,
                          actions=((v.label, 0.0, 0.3),) + (((v.label + 1) % k, 0.1, 0.4),) * (i % 2))
              for i, v in enumerate(index.videos)]
    ml = VideoIndex(index.dataset, index.root, index.classes, videos, flip_invariant=True, metric="mAP")
    ml.validate()
    ml.save(index_path)
    return index_path


def test_multilabel_targets_and_spaced_test_clips(tmp_path):
    from attdistill.data.dataset import ClipDataset, collate_test

    index_path = _multilabel_tiny(tmp_path)
    p = tiny_params()
    kw = dict(frames_dir=tmp_path / "frames", flow_dir=None)
    index = VideoIndex.load(index_path)
    train = ClipDataset(index, "train", "rgb", p.clip, p.augment, **kw)
    item = train[1]
    assert item["label"].dtype == torch.float32 and item["label"].shape == (4,)
    assert item["label"].tolist() == multi_hot([train.videos[1]], 4)[0].tolist()
    test = ClipDataset(index, "test", "rgb", p.clip, p.augment, train=False, test_clips=3, **kw)
    it = test[0]
    assert it["starts"] == spaced_clip_starts(test.num_frames(0), p.clip.frames, 3) and len(it["rgb"]) == 3
    assert collate_test([test[0], test[1]])["label"].shape == (2, 4)


def test_multilabel_training_and_max_pool_evaluation(tmp_path):
    from attdistill.evaluation.evaluate import EvalPaths, evaluate_model, load_scores
    from attdistill.training.engine import TrainPaths, train

    index_path = _multilabel_tiny(tmp_path)
    p = tiny_params(**{"train.epochs": 1, "evaluate.clips": 3, "evaluate.pool": "max"})
    res = train("rgb-none", p, TrainPaths(index=index_path, frames=tmp_path / "frames", flow=None,
                                          out=tmp_path / "m", live=tmp_path / "live"))
    last = res["history"][-1]
    assert {"val/top1", "val/map", "val/loss"} <= set(last) and "val/mean_class" not in last
    assert 0.0 <= last["val/map"] <= 1.0 and np.isfinite(last["train/loss"])
    ep = EvalPaths(index=index_path, frames=tmp_path / "frames", flow=None, flow_reversed=None,
                   model=tmp_path / "m" / "model.pt", data_out=tmp_path / "d", reports=tmp_path / "r")
    m = evaluate_model("rgb-none", p, ep, device="cpu")
    n_test = len(VideoIndex.load(index_path).split("test"))
    assert {"map", "map_reversed", "top1", "top1_reversed"} <= set(m) and m["num_clips"] == 3 * n_test
    assert not (tmp_path / "r" / "confusion.json").exists()
    s = load_scores(tmp_path / "d" / "scores.npz")
    assert s["labels"].shape == (n_test, 4) and m["map"] == pytest.approx(mean_average_precision(s["probs"],
                                                                                               s["labels"]))
    assert (s["probs"] > 0).all() and (s["probs"] < 1).all()           # sigmoids, max-pooled over 3 clips
