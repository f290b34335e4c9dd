"""GFLOPs of I3D, I3D + CBAM and I3D + W3 (the W3 paper's Table 6), counted by ``torch.utils.flop_counter`` on the
meta device (nothing is computed), at the configuration's clip shape and, optionally, at the paper profile's.

Counted: matrix products and convolutions, 2 FLOPs per multiply-add (:func:`attdistill.models.w3_i3d.count_gflops`);
the attention's element-wise products, sigmoids and poolings are not, so the overhead is a lower bound (as the W3
paper's, which does not say what it counts either).
"""

from __future__ import annotations

from ..config import Params
from ..models.w3_i3d import attention_gflops


def setting_gflops(params: Params, num_classes: int) -> dict:
    """{"frames", "size", "width", "i3d", "cbam", "w3", "cbam_overhead_pct", "w3_overhead_pct"} for one clip of
    params ``clip`` through networks sized by params ``model`` and ``w3`` (W3 with AFR, CBAM without)."""
    m, c = params.model, params.clip
    i3d, cb, w3 = attention_gflops(num_classes, c.frames, c.crop, width=m.width, final_stride=m.final_stride,
                                   reduction=params.w3.reduction, depthwise=params.w3.depthwise, afr=True)
    return {"frames": c.frames, "size": c.crop, "width": m.width, "final_stride": m.final_stride,
            "i3d": i3d, "cbam": cb, "w3": w3,
            "cbam_overhead_pct": 100.0 * (cb - i3d) / i3d, "w3_overhead_pct": 100.0 * (w3 - i3d) / i3d}


def flops_report(params: Params, num_classes: int, paper: Params | None = None) -> dict:
    """The report of the ``flops`` stage: ``ours`` at params, ``paper_profile`` at the paper profile's shapes."""
    report = {"num_classes": num_classes, "ours": setting_gflops(params, num_classes)}
    if paper is not None:
        report["paper_profile"] = setting_gflops(paper, num_classes)
    return report
