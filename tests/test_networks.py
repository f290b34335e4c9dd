"""SingleStreamNet, TwoBranchStudent, build_model and pretrained loading."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import torch

from attdistill import losses as L
from attdistill.models import (NetOutput, PretrainedError, SingleStreamNet, TwoBranchStudent, build_model,
                               export_i3d_state, load_i3d_state, load_pretrained)
from attdistill.models import pretrained as pretrained_module
from attdistill.models.attention import slice_softmax
from params import DEFAULT

REPO = Path(__file__).resolve().parents[1]
REF_DIR = Path(os.environ.get("ATTDISTILL_REFERENCE", REPO.parent / "shared" / "reference"))
REF_WEIGHTS = REF_DIR / "pytorch_i3d_rgb_random_fp16.pt"
needs_reference = pytest.mark.skipif(not REF_WEIGHTS.is_file(),
                                     reason=f"pytorch-i3d reference weights not found in {REF_DIR} "
                                            f"(set ATTDISTILL_REFERENCE to its folder)")
CPU = dict(width=DEFAULT.model.width, final_stride=DEFAULT.model.final_stride)   # params.yaml's CPU default


@pytest.fixture(autouse=True)
def _seed():
    torch.set_num_threads(2)
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def i3d_state():
    return load_i3d_state(REF_WEIGHTS)


def _check_output(out: NetOutput, branches, n, k, map_shape, channels, with_maps=True):
    assert isinstance(out, NetOutput)
    assert set(out.logits) == set(branches) and all(v.shape == (n, k) for v in out.logits.values())
    assert out.probs.shape == (n, k) and torch.allclose(out.probs.sum(1), torch.ones(n), atol=1e-5)
    assert set(out.pooled) == set(branches) and all(v.shape == (n, channels) for v in out.pooled.values())
    assert all(v.shape == (n, channels, *map_shape) for v in out.final.values())
    if with_maps:
        for d in (out.maps, out.expected_maps, out.log_maps):
            assert set(d) == set(branches) and all(v.shape == (n, *map_shape) for v in d.values())
        for m in out.maps.values():
            assert torch.allclose(m.sum(dim=(2, 3)), torch.ones(n, map_shape[0]), atol=1e-5)
    else:
        assert not out.maps and not out.expected_maps and not out.log_maps


@pytest.mark.parametrize("attention", ["none", "soft-atten", "soft-res", "prob-atten"])
def test_single_stream_cpu_default_forward_backward(attention):
    for stream, c in (("rgb", 3), ("flow", 2)):
        net = SingleStreamNet(6, stream, attention, **CPU).train()
        out = net(torch.randn(2, c, 16, 96, 96))
        _check_output(out, ["main"], 2, 6, (2, 6, 6), 128, with_maps=attention != "none")
        assert out.attention == attention
        loss, terms = L.single_stream_loss(out, torch.tensor([0, 5]))
        loss.backward()
        assert ("prior" in terms) == (attention == "prob-atten")
        if attention != "none":
            for p in (net.attention.conv.conv3d.weight, net.attention.linear.conv3d.weight):
                assert p.grad is not None and p.grad.abs().sum() > 0


def test_student_cpu_default_gradients_reach_both_heads():
    net = TwoBranchStudent(6, "prob-atten", **CPU).train()
    out = net(torch.randn(2, 3, 16, 96, 96))
    _check_output(out, ["motion", "appearance"], 2, 6, (2, 6, 6), 128)
    # Eq. 7: the prediction is the mean of the two branch softmaxes
    mean = (out.logits["motion"].softmax(1) + out.logits["appearance"].softmax(1)) / 2
    assert torch.allclose(out.probs, mean, atol=1e-6)
    teacher_map = slice_softmax(torch.randn(2, 2, 6, 6))
    loss, terms = L.student_loss(out, torch.tensor([1, 2]), teacher_map)
    loss.backward()
    assert set(terms) == {"ce", "distill", "prior"}
    for branch in (net.motion, net.appearance):
        for p in (branch.attention.conv.conv3d.weight, branch.attention.linear.conv3d.weight,
                  branch.Mixed_5c.b0.conv3d.weight, branch.logits.conv3d.weight):
            assert p.grad is not None and p.grad.abs().sum() > 0
    assert net.backbone.Conv3d_1a_7x7.conv3d.weight.grad.abs().sum() > 0


def test_student_none_is_two_average_pooling_branches():
    net = TwoBranchStudent(4, "none", **CPU)
    assert net.motion.attention is None and net.appearance.attention is None
    out = net.eval()(torch.randn(1, 3, 16, 96, 96))
    _check_output(out, ["motion", "appearance"], 1, 4, (2, 6, 6), 128, with_maps=False)


def test_reference_attention_student_uses_the_given_map():
    net = TwoBranchStudent(4, "prob-atten", motion_source="given", **CPU).eval()
    assert net.motion.attention is None and net.appearance.attention is not None
    x = torch.randn(2, 3, 16, 96, 96)
    a = slice_softmax(torch.randn(2, 2, 6, 6))
    b = torch.zeros(2, 2, 6, 6)
    b[:, :, 0, 0] = 1
    with torch.no_grad():
        out_a, out_b, out_a2 = net(x, motion_map=a), net(x, motion_map=b), net(x, motion_map=a)
    assert torch.equal(out_a.maps["motion"], a) and torch.equal(out_a.expected_maps["motion"], a)
    assert "motion" not in out_a.log_maps and "appearance" in out_a.log_maps
    assert not torch.allclose(out_a.logits["motion"], out_b.logits["motion"])     # the map changes the prediction
    assert torch.allclose(out_a.logits["appearance"], out_b.logits["appearance"])  # ... only in the motion branch
    assert torch.equal(out_a.logits["motion"], out_a2.logits["motion"])
    # with a one-hot map the motion branch pools exactly the features at that cell
    with torch.no_grad():
        feats = net.motion.features(net.backbone.features(x))
    assert torch.allclose(out_b.pooled["motion"], feats[:, :, :, 0, 0].mean(2), atol=1e-5)
    with pytest.raises(ValueError, match="motion_map"):
        net(x)
    with pytest.raises(ValueError, match="shape"):
        net(x, motion_map=torch.rand(2, 3, 6, 6))


def test_build_model_kinds():
    cfg = DEFAULT.model
    assert isinstance(build_model("rgb", 5, "soft-res", cfg), SingleStreamNet)
    flow = build_model("flow", 5, "prob-atten", cfg)
    assert flow.backbone.Conv3d_1a_7x7.conv3d.in_channels == 2
    assert build_model("student", 5, "prob-atten", cfg).motion_source == "learned"
    assert build_model("reference", 5, "prob-atten", cfg).motion_source == "given"
    with pytest.raises(ValueError, match="rgb, flow, student, reference"):
        build_model("teacher", 5, "none", cfg)
    with pytest.raises(ValueError, match="violates the probabilistic modeling"):
        build_model("student", 5, "prob-res", cfg)


def test_same_seed_same_outputs():
    outs = []
    for _ in range(2):
        torch.manual_seed(7)
        net = TwoBranchStudent(3, "prob-atten", **CPU).train()
        x = torch.randn(2, 3, 16, 64, 64)
        outs.append(net(x))
    assert torch.equal(outs[0].probs, outs[1].probs) and torch.equal(outs[0].maps["motion"], outs[1].maps["motion"])


def test_paper_size_forward_backward_width1():
    """Table 6 size: 24x224x224 input, width 1, final_stride 2 -> 3x7x7 maps, 1024-channel Mixed_5c."""
    single = SingleStreamNet(101, "rgb", "prob-atten", width=1.0, final_stride=2).train()
    out = single(torch.randn(1, 3, 24, 224, 224))
    _check_output(out, ["main"], 1, 101, (3, 7, 7), 1024)
    L.single_stream_loss(out, torch.tensor([3]))[0].backward()
    assert single.attention.linear.conv3d.weight.grad.abs().sum() > 0
    del single, out
    net = TwoBranchStudent(101, "prob-atten", width=1.0, final_stride=2).train()
    out = net(torch.randn(1, 3, 24, 224, 224))
    _check_output(out, ["motion", "appearance"], 1, 101, (3, 7, 7), 1024)
    loss, _ = L.student_loss(out, torch.tensor([3]), slice_softmax(torch.randn(1, 3, 7, 7)))
    loss.backward()
    assert net.motion.attention.linear.conv3d.weight.grad.abs().sum() > 0
    assert net.appearance.attention.conv.conv3d.weight.grad.abs().sum() > 0


# ------------------------------------------------------------------------------------------------ pretrained
@needs_reference
def test_pretrained_into_single_stream_with_new_logits(i3d_state):
    net = SingleStreamNet(5, "rgb", "prob-atten", width=1.0, final_stride=2)
    report = load_pretrained(net, i3d_state, 5)
    sd = net.state_dict()
    assert torch.equal(sd["backbone.Mixed_4f.b1b.conv3d.weight"], i3d_state["Mixed_4f.b1b.conv3d.weight"])
    assert torch.equal(sd["backbone.Conv3d_1a_7x7.bn.running_var"], i3d_state["Conv3d_1a_7x7.bn.running_var"])
    assert net.backbone.logits.conv3d.weight.shape == (5, 1024, 1, 1, 1)      # replaced, not loaded
    assert set(report["initialised"]) == {k for k in sd if k.startswith(("attention.", "backbone.logits."))}
    # with the checkpoint's class count the logits load too
    net400 = SingleStreamNet(400, "rgb", "none", width=1.0, final_stride=2)
    report = load_pretrained(net400, i3d_state, 400)
    assert report["initialised"] == []
    assert torch.equal(net400.backbone.logits.conv3d.bias, i3d_state["logits.conv3d.bias"])


@needs_reference
def test_pretrained_into_two_branch_student(i3d_state):
    net = TwoBranchStudent(400, "soft-atten", width=1.0, final_stride=2)
    report = load_pretrained(net, i3d_state, 400)
    sd = net.state_dict()
    for branch in ("motion", "appearance"):
        for key in ("Mixed_5b.b0.conv3d.weight", "Mixed_5c.b3b.bn.running_mean", "logits.conv3d.weight"):
            assert torch.equal(sd[f"{branch}.{key}"], i3d_state[key])
    assert torch.equal(sd["backbone.Mixed_4f.b0.conv3d.weight"], i3d_state["Mixed_4f.b0.conv3d.weight"])
    assert all(".attention." in k for k in report["initialised"]) and report["initialised"]
    small = TwoBranchStudent(7, "prob-atten", width=1.0, final_stride=2)
    load_pretrained(small, i3d_state, 7)
    assert small.motion.logits.conv3d.weight.shape == (7, 1024, 1, 1, 1)
    assert torch.equal(small.state_dict()["appearance.Mixed_5c.b0.bn.bias"], i3d_state["Mixed_5c.b0.bn.bias"])


@needs_reference
def test_pretrained_errors(i3d_state):
    with pytest.raises(PretrainedError, match="64 filters, this model's 8 .*fit width=1 only"):
        load_pretrained(SingleStreamNet(5, "rgb", "none", **CPU), i3d_state, 5)
    with pytest.raises(PretrainedError, match="3-channel input"):
        load_pretrained(SingleStreamNet(5, "flow", "none", width=1.0, final_stride=2), i3d_state, 5)
    with pytest.raises(PretrainedError, match="SHA-256 mismatch"):
        load_i3d_state(REF_WEIGHTS, sha256="0" * 64)


def test_exported_i3d_initialises_models_of_its_width(tmp_path):
    """An I3D trained here, exported in pytorch-i3d's format, loads like Kinetics weights into any network kind of
    the same width (heads and a new class count left fresh) and is refused by another width."""
    trained = SingleStreamNet(18, "rgb", "none", **CPU)
    with torch.no_grad():
        for t in trained.state_dict().values():
            t.add_(1)                      # no fresh initialisation can equal these
    state = export_i3d_state(trained)
    assert "logits.conv3d.weight" in state and not any(k.startswith("attention") for k in state)
    torch.save(state, tmp_path / "i3d.pt")
    state = load_i3d_state(tmp_path / "i3d.pt")
    net = SingleStreamNet(12, "rgb", "prob-atten", **CPU)
    report = load_pretrained(net, state, 12)
    sd = net.state_dict()
    assert all(torch.equal(sd[f"backbone.{k}"], v) for k, v in state.items() if not k.startswith("logits."))
    assert set(report["initialised"]) == {k for k in sd if k.startswith(("attention.", "backbone.logits."))}
    student = TwoBranchStudent(12, "prob-atten", **CPU)
    load_pretrained(student, state, 12)
    for branch in ("motion", "appearance"):
        key = "Mixed_5c.b3b.conv3d.weight"
        assert torch.equal(student.state_dict()[f"{branch}.{key}"], state[key])
    with pytest.raises(PretrainedError, match="8 filters, this model's 16"):
        load_pretrained(SingleStreamNet(12, "rgb", "none", width=0.25, final_stride=1), state, 12)
    with pytest.raises(TypeError, match="SingleStreamNet"):
        export_i3d_state(student)


def test_load_i3d_state_local_checksum_and_url_fetched_once(tmp_path, monkeypatch):
    state = {"Conv3d_1a_7x7.conv3d.weight": torch.randn(2, 3, 1, 1, 1).half(), "x.num_batches_tracked": torch.tensor(3)}
    src = tmp_path / "w.pt"
    torch.save(state, src)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    got = load_i3d_state(src, sha256=digest)
    assert got["Conv3d_1a_7x7.conv3d.weight"].dtype == torch.float32 and got["x.num_batches_tracked"] == 3
    with pytest.raises(PretrainedError, match="not found"):
        load_i3d_state(tmp_path / "missing.pt")

    calls = []

    def fake_download(url, dest, sha256="", retries=5, timeout=60):
        calls.append((url, Path(dest), sha256))
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        Path(dest).write_bytes(src.read_bytes())
        return Path(dest)

    monkeypatch.setattr(pretrained_module, "download_file", fake_download)
    cache = tmp_path / "cache"
    url = "https://example.invalid/models/rgb_imagenet.pt"
    a = load_i3d_state(url, sha256=digest, cache_dir=cache)
    b = load_i3d_state(url, sha256=digest, cache_dir=cache)
    assert len(calls) == 1 and calls[0][1] == cache / "rgb_imagenet.pt" and calls[0][2] == digest
    assert torch.equal(a["Conv3d_1a_7x7.conv3d.weight"], b["Conv3d_1a_7x7.conv3d.weight"])
    (cache / "rgb_imagenet.pt").write_bytes(b"corrupt")            # a bad cached copy is fetched again
    load_i3d_state(url, sha256=digest, cache_dir=cache)
    assert len(calls) == 2
