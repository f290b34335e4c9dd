"""Detection metrics (STAM Tables 3 and 4) on hand-computed cases, and the THUMOS'14 annotation reader / writer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from attdistill.data import thumos14 as T14
from attdistill.evaluation.detection import (SPATIAL_IOUS, Detection, GroundTruth, average_precision, box_iou,
                                             mask_box, mask_detections, match_detections, spatial_map, upsample_mask)
from attdistill.evaluation.temporal import (TEMPORAL_IOUS, attention_detections, normalise_weights, segment_iou,
                                            temporal_map, uniform_edges, weight_segments)


# --------------------------------------------------------------------------------------------- AP
def test_average_precision_interpolated_by_hand():
    # ranked TP, FP, TP, FP with 3 positives: precision 1, 1/2, 2/3, 1/2 at recall 1/3, 1/3, 2/3, 2/3;
    # interpolated: 1 on (0, 1/3], 2/3 on (1/3, 2/3], nothing beyond -> AP = 1/3 + 2/9
    ap = average_precision([0.6, 0.9, 0.7, 0.8], [False, True, True, False], 3)
    assert ap == pytest.approx(1 / 3 + 2 / 9)
    assert average_precision([0.5, 0.4], [True, True], 2) == pytest.approx(1.0)
    # FP first: precision 0, 1/2 -> interpolated 1/2 over recall (0, 1]
    assert average_precision([0.9, 0.1], [False, True], 1) == pytest.approx(0.5)
    assert average_precision([], [], 2) == 0.0
    assert math.isnan(average_precision([0.3], [False], 0))


def test_matching_passes_a_taken_ground_truth_to_the_next_best():
    # GT 0 = [0, 10], GT 1 = [8, 20]; det a = [0, 10] (0.9), det b = [1, 10] (0.8): tIoU(b, GT0) = 0.9,
    # tIoU(b, GT1) = 2 / 19 = 0.105
    gts = np.array([[0.0, 10.0], [8.0, 20.0]])
    pairs = [(np.array([0, 1]), segment_iou(d, gts)) for d in ([0.0, 10.0], [1.0, 10.0])]
    assert list(match_detections([0.9, 0.8], pairs, 0.1)) == [True, True]
    assert list(match_detections([0.9, 0.8], pairs, 0.2)) == [True, False]
    assert list(match_detections([0.8, 0.9], pairs, 0.95)) == [True, False]   # b ranks first, misses; a takes GT0


# --------------------------------------------------------------------------------------------- spatial
def test_box_iou_by_hand():
    boxes = np.array([[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6], [0, 0, 4, 1]], float)
    iou = box_iou((0, 0, 2, 2), boxes)
    assert iou == pytest.approx([1 / 7, 1.0, 0.0, 2 / 6])


def test_mask_box_tightest_box_and_score():
    m = np.zeros((5, 6))
    m[1, 2], m[3, 4], m[0, 0] = 0.8, 0.9, 0.5            # 0.5 is not above the threshold
    box, score = mask_box(m, 0.5)
    assert box == (2.0, 1.0, 5.0, 4.0)                    # columns 2..4, rows 1..3, exclusive ends
    assert score == pytest.approx((0.8 + 0.9) / 9)
    assert mask_box(np.full((3, 3), 0.5), 0.5) is None


def test_upsampled_mask_detection_by_hand():
    # 2x2 -> 4x4 bilinear with half-pixel centres: row 0 = 1, .75, .25, 0; row 1 = .75, .5625, .1875, 0
    up = upsample_mask(np.array([[1.0, 0.0], [0.0, 0.0]]), 4, 4)
    assert up[0] == pytest.approx([1, 0.75, 0.25, 0]) and up[1] == pytest.approx([0.75, 0.5625, 0.1875, 0])
    dets = mask_detections("v", [7, 8], np.array([[[1.0, 0.0], [0.0, 0.0]], [[0.2, 0.1], [0.0, 0.3]]]),
                           label=2, width=4, height=4, threshold=0.5)
    assert len(dets) == 1                                 # frame 8 has no pixel above 0.5
    d = dets[0]
    assert d.key == ("v", 7) and d.label == 2 and d.extent == (0.0, 0.0, 2.0, 2.0)
    assert d.score == pytest.approx((1 + 0.75 + 0.75 + 0.5625) / 4)


def test_spatial_map_by_hand():
    gt = [GroundTruth(("a", 0), 0, (0, 0, 10, 10)), GroundTruth(("a", 1), 0, (0, 0, 10, 10)),
          GroundTruth(("b", 0), 1, (0, 0, 4, 4))]
    dets = [Detection(("a", 0), 0, 0.9, (0, 0, 10, 5)),     # IoU 0.5
            Detection(("a", 1), 0, 0.8, (0, 0, 2, 5)),      # IoU 0.1
            Detection(("b", 0), 1, 0.7, (0, 0, 4, 1)),      # IoU 0.25
            Detection(("b", 1), 1, 0.9, (0, 0, 4, 4))]      # frame without ground truth: FP
    res = spatial_map(dets, gt, SPATIAL_IOUS)
    # class 0: both TP up to 0.1, only the first at 0.2 / 0.3 (AP 1/2); class 1: FP then TP (AP 1/2) up to 0.2
    assert res["ap"][0.1] == pytest.approx({0: 1.0, 1: 0.5})
    assert res["map"] == pytest.approx({0.05: 0.75, 0.1: 0.75, 0.2: 0.5, 0.3: 0.25})


# --------------------------------------------------------------------------------------------- temporal
def test_segment_iou_by_hand():
    assert segment_iou((2, 6), np.array([[0, 4], [2, 6], [6, 9], [3, 4]])) == pytest.approx([2 / 6, 1, 0, 1 / 4])


def test_normalise_and_segments_by_hand():
    assert normalise_weights([[0.1, 0.2, 0.3, 0.4], [0.3, 0.2, 0.1, 0.0]]) == pytest.approx([1, 1, 1, 1])
    assert normalise_weights(np.full(7, 1 / 7) + np.array([0, 1e-12, 0, 0, 0, 0, 0])) == pytest.approx(np.ones(7))
    imp = normalise_weights(np.array([[0.1, 0.4, 0.3, 0.2]]))
    assert imp == pytest.approx([0, 1, 2 / 3, 1 / 3])
    edges = uniform_edges(4.0, 4)
    assert edges == pytest.approx([0, 1, 2, 3, 4])
    assert weight_segments(imp, edges, 0.5) == [(1.0, 3.0, pytest.approx(5 / 6))]
    segs = weight_segments(np.array([0.9, 0.1, 0.8, 0.7, 0.5]), uniform_edges(10.0, 5), 0.5)
    assert segs == [(0.0, 2.0, 0.9), (4.0, 8.0, pytest.approx(0.75))]     # 0.5 itself is not above
    with pytest.raises(ValueError, match="edges"):
        weight_segments(imp, edges[:-1], 0.5)
    dets = attention_detections("v", np.array([[0.1, 0.4, 0.3, 0.2]]), edges, 3, 0.5)
    assert dets == [Detection("v", 3, pytest.approx(5 / 6), (1.0, 3.0))]


def test_temporal_map_by_hand():
    gt = [GroundTruth("v1", 0, (0, 10)), GroundTruth("v2", 0, (5, 15)), GroundTruth("v3", 1, (0, 4))]
    dets = [Detection("v1", 0, 0.9, (0, 10)),      # tIoU 1
            Detection("v2", 0, 0.8, (20, 30)),     # FP
            Detection("v2", 0, 0.7, (6, 15)),      # tIoU 0.9
            Detection("v3", 1, 0.5, (2, 6)),       # tIoU 1/3
            Detection("v9", 2, 0.9, (0, 1))]       # a class without ground truth: not in the mean
    res = temporal_map(dets, gt, TEMPORAL_IOUS)
    # class 0: TP, FP, TP of 2 -> 1/2 * 1 + 1/2 * 2/3 at every threshold; class 1: TP up to 0.3, then 0
    c0 = 0.5 + 0.5 * 2 / 3
    assert res["ap"][0.5] == pytest.approx({0: c0, 1: 0.0})
    assert res["map"] == pytest.approx({0.1: (c0 + 1) / 2, 0.2: (c0 + 1) / 2, 0.3: (c0 + 1) / 2,
                                        0.4: c0 / 2, 0.5: c0 / 2})


# --------------------------------------------------------------------------------------------- THUMOS'14
FIXTURE = {   # the distributed layout: name, two spaces, start and end with one decimal (CRLF in one file)
    "CliffDiving_val.txt": "video_validation_0000051  67.5 75.9\r\nvideo_validation_0000051  85.9 90.6\r\n",
    "Diving_val.txt": "video_validation_0000051  67.5 75.9\nvideo_validation_0000051  85.9 90.6\n"
                      "video_validation_0000052  2.3 5.1\n",
    "HighJump_val.txt": "video_validation_0000170  12.0 18.4\n\n",
    "Ambiguous_val.txt": "video_validation_0000170  10.9 12.0\n",
    "Diving_test.txt": "video_test_0000004  0.2 1.1\n",
}


def write_fixture(folder):
    for name, text in FIXTURE.items():
        (folder / name).write_bytes(text.encode())


def test_read_thumos14_annotations(tmp_path):
    write_fixture(tmp_path)
    ann = T14.read_annotations(tmp_path, "val")
    assert sorted(ann) == ["Ambiguous", "CliffDiving", "Diving", "HighJump"]
    assert ann["Diving"][2] == T14.Segment("video_validation_0000052", "Diving", 2.3, 5.1)
    assert ann["HighJump"] == [T14.Segment("video_validation_0000170", "HighJump", 12.0, 18.4)]
    assert T14.video_labels(ann) == {"video_validation_0000051": {"CliffDiving", "Diving"},
                                     "video_validation_0000052": {"Diving"}, "video_validation_0000170": {"HighJump"}}
    assert T14.single_label_videos(ann) == {"video_validation_0000052": "Diving",
                                            "video_validation_0000170": "HighJump"}
    assert list(T14.read_annotations(tmp_path, "test")) == ["Diving"]
    assert len(T14.THUMOS14_DETECTION_CLASSES) == 20


def test_thumos14_format_errors(tmp_path):
    (tmp_path / "Diving_val.txt").write_text("video_validation_0000051  67.5\n")
    with pytest.raises(T14.Thumos14FormatError, match="Diving_val.txt:1"):
        T14.read_annotations(tmp_path, "val")
    (tmp_path / "Diving_val.txt").write_text("video_validation_0000051  7.5 6.0\n")
    with pytest.raises(T14.Thumos14FormatError, match="start <= end"):
        T14.read_annotations(tmp_path, "val")
    with pytest.raises(T14.Thumos14FormatError, match="no '<Class>_test.txt'"):
        T14.read_annotations(tmp_path, "test")
    with pytest.raises(ValueError, match="subset"):
        T14.read_annotations(tmp_path, "train")


def test_write_thumos14_annotations_round_trip(tmp_path):
    segs = [T14.Segment("video_test_0000002", "HighJump", 12.04, 18.36),
            T14.Segment("video_test_0000001", "HighJump", 3.0, 4.5),
            T14.Segment("video_test_0000001", "Ambiguous", 2.5, 3.0)]
    paths = T14.write_annotations(segs, tmp_path / "ann", "test", classes=["Billiards"])
    assert [p.name for p in paths] == ["Ambiguous_test.txt", "Billiards_test.txt", "HighJump_test.txt"]
    assert (tmp_path / "ann" / "HighJump_test.txt").read_text() == \
        "video_test_0000001  3.0 4.5\nvideo_test_0000002  12.0 18.4\n"
    assert (tmp_path / "ann" / "Billiards_test.txt").read_text() == ""
    back = T14.read_annotations(tmp_path / "ann", "test")
    assert back["HighJump"][1] == T14.Segment("video_test_0000002", "HighJump", 12.0, 18.4)
    assert back["Ambiguous"] == [segs[2]] and back["Billiards"] == []
    with pytest.raises(ValueError, match="class name"):
        T14.write_annotations([T14.Segment("v", "High Jump", 0, 1)], tmp_path, "test")
