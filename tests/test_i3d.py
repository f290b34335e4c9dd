"""InceptionI3d: conformance with pytorch-i3d (reference fixture), names and counts, width, final_stride, heads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from attdistill.models import ENDPOINTS, InceptionI3d
from attdistill.models.i3d import same_padding

REPO = Path(__file__).resolve().parents[1]
REF_DIR = Path(os.environ.get("ATTDISTILL_REFERENCE", REPO.parent / "shared" / "reference"))
REF_JSON = REF_DIR / "pytorch_i3d_reference.json"
REF_WEIGHTS = REF_DIR / "pytorch_i3d_rgb_random_fp16.pt"

needs_reference = pytest.mark.skipif(
    not (REF_JSON.is_file() and REF_WEIGHTS.is_file()),
    reason=f"pytorch-i3d reference fixture not found in {REF_DIR} (set ATTDISTILL_REFERENCE to its folder)")


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(REF_JSON.read_text())


def reference_input(spec: dict) -> torch.Tensor:
    """x[c,t,h,w] = sin(0.9c + 0.37t + 0.051h + 0.083w) * cos(0.021*h*w/7 + 0.5t), float64 -> float32."""
    assert "sin(0.9c + 0.37t + 0.051h + 0.083w)" in spec["formula"]      # the formula we implement
    n, c, t, h, w = spec["shape"]
    cc, tt, hh, ww = np.meshgrid(np.arange(c), np.arange(t), np.arange(h), np.arange(w), indexing="ij")
    x = np.sin(0.9 * cc + 0.37 * tt + 0.051 * hh + 0.083 * ww) * np.cos(0.021 * hh * ww / 7 + 0.5 * tt)
    return torch.from_numpy(x.astype(np.float32))[None].expand(n, -1, -1, -1, -1).contiguous()


def close(actual, expected, rel=1e-4, floor=1e-5) -> bool:
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return bool(np.all(np.abs(actual - expected) <= np.maximum(rel * np.abs(expected), floor)))


@needs_reference
def test_matches_pytorch_i3d_reference(reference):
    ref = reference["rgb"]
    state = torch.load(REF_WEIGHTS, map_location="cpu", weights_only=True)
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    model = InceptionI3d(400, in_channels=3)
    model.load_state_dict(state, strict=True)
    model.eval()
    x = reference_input(ref["input"])
    with torch.no_grad():
        feats = model.extract_features(x, list(ref["endpoints"]))
        per_step = model.forward_reference(x)
        robust = model(x)
    for name, st in ref["endpoints"].items():
        f = feats[name]
        assert list(f.shape) == st["shape"], name
        assert close(f.mean().item(), st["mean"]), (name, f.mean().item(), st["mean"])
        assert close(f.std().item(), st["std"]), (name, f.std().item(), st["std"])
        assert close(f.flatten()[:8].numpy(), st["first8"]), name
    assert list(per_step.shape) == ref["logits_shape"]
    assert close(per_step.mean(2)[0].numpy(), ref["logits_time_averaged"])
    # the robust head equals the time-averaged reference head at 7x7
    assert close(robust[0].numpy(), ref["logits_time_averaged"])


@needs_reference
@pytest.mark.parametrize("stream,in_channels", [("rgb", 3), ("flow", 2)])
def test_state_dict_keys_shapes_and_parameter_count(reference, stream, in_channels):
    ref = reference[stream]
    model = InceptionI3d(400, in_channels=in_channels)
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert ours == ref["keys_and_shapes"]
    # num_parameters counts trainable tensors (conv weights, logits bias, BN affine), not BN running statistics
    assert sum(p.numel() for p in model.parameters()) == ref["num_parameters"]


def test_same_padding_rule():
    # pad = max(k - s, 0) if n % s == 0 else max(k - n % s, 0); front = pad // 2
    assert same_padding((24, 224, 224), (7, 7, 7), (2, 2, 2)) == (2, 3, 2, 3, 2, 3)
    assert same_padding((5, 7, 7), (3, 3, 3), (2, 2, 2)) == (1, 1, 1, 1, 1, 1)
    assert same_padding((6, 14, 14), (2, 3, 3), (2, 2, 2)) == (0, 1, 0, 1, 0, 0)
    assert same_padding((4, 6, 6), (1, 3, 3), (1, 1, 1)) == (1, 1, 1, 1, 0, 0)


def test_width_final_stride_and_small_input_head():
    torch.manual_seed(0)
    model = InceptionI3d(7, width=0.125, final_stride=1).eval()
    assert model.channels["Mixed_4f"] == 104 and model.channels["Mixed_5c"] == 128
    x = torch.randn(2, 3, 16, 96, 96)
    with torch.no_grad():
        f = model.extract_features(x, ("Mixed_4f", "Mixed_5c"))
        logits = model(x)
    assert f["Mixed_4f"].shape == (2, 104, 4, 6, 6)
    assert f["Mixed_5c"].shape == (2, 128, 2, 6, 6)          # final_stride 1: Mixed_5 keeps the 6x6 grid
    assert logits.shape == (2, 7) and torch.isfinite(logits).all()
    with torch.no_grad():   # a tiny clip (1x1 Mixed_5c) still works with the robust head
        assert model(torch.randn(1, 3, 4, 16, 16)).shape == (1, 7)
    stride2 = InceptionI3d(7, width=0.125, final_stride=2).eval()
    with torch.no_grad():
        assert stride2.extract_features(x, ["Mixed_5c"])["Mixed_5c"].shape == (2, 128, 2, 3, 3)


def test_endpoints_replace_logits_and_dropout_semantics():
    model = InceptionI3d(400, final_endpoint="Mixed_4f", width=0.25)
    assert model.endpoints == list(ENDPOINTS[: ENDPOINTS.index("Mixed_4f") + 1])
    assert not hasattr(model, "logits")
    with pytest.raises(ValueError, match="not built"):
        model.extract_features(torch.randn(1, 3, 8, 32, 32), ["Mixed_5c"])
    with pytest.raises(ValueError, match="valid endpoints"):
        InceptionI3d(final_endpoint="Mixed_6a")
    full = InceptionI3d(400, width=0.25, dropout=0.7)
    assert full.dropout.p == 0.7                              # a drop probability, not pytorch-i3d's "keep" prob
    full.replace_logits(11)
    assert full.logits.conv3d.weight.shape == (11, 256, 1, 1, 1) and full.logits.conv3d.bias is not None
    assert not hasattr(full.logits, "bn")


def test_deterministic_forward():
    torch.manual_seed(3)
    model = InceptionI3d(5, width=0.125, final_stride=1).eval()
    x = torch.randn(2, 3, 8, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


@pytest.mark.parametrize("kernel,stride,size", [(3, 1, (5, 7, 6)), ((1, 3, 3), (1, 2, 2), (4, 9, 10)),
                                                 (3, 2, (5, 7, 7)), (2, (2, 1, 1), (6, 5, 5)),
                                                 ((2, 3, 3), (2, 2, 2), (6, 5, 7))])
@pytest.mark.parametrize("channels_last", [False, True])
def test_maxpool_kernel_padding_equals_zero_padding_on_nonnegative_input(kernel, stride, size, channels_last):
    # The fast path (the pooling kernel's own -inf padding) must give the zero-padded pytorch-i3d result bit for bit
    # on x >= 0, for symmetric and asymmetric SAME padding alike; a negative input must take the F.pad path.
    from attdistill.models.i3d import MaxPool3dSame
    torch.manual_seed(0)
    x = torch.relu(torch.randn(2, 3, *size))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    fast, slow = MaxPool3dSame(kernel, stride, nonnegative_input=True), MaxPool3dSame(kernel, stride)
    k, s = fast.kernel_size, fast.stride
    reference = torch.nn.functional.max_pool3d(torch.nn.functional.pad(x, same_padding(size, k, s)), k, s)
    assert torch.equal(fast(x), reference) and torch.equal(slow(x), reference)
    neg = -x - 1.0                                                  # all negative: zero padding wins at the borders
    ref_neg = torch.nn.functional.max_pool3d(torch.nn.functional.pad(neg, same_padding(size, k, s)), k, s)
    assert torch.equal(slow(neg), ref_neg)


def test_maxpool_kernel_padding_differs_on_negative_input():
    # why the fast path needs the promise x >= 0: on negative input -inf padding and zero padding disagree
    x = -torch.rand(1, 1, 3, 4, 4) - 1.0
    zero_padded = torch.nn.functional.max_pool3d(torch.nn.functional.pad(x, (1, 1, 1, 1, 1, 1)), 3, 1)
    assert not torch.equal(torch.nn.functional.max_pool3d(x, 3, 1, 1), zero_padded)
