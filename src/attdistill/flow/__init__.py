"""Optical flow estimators and the flow storage format (no stage logic: that is :mod:`attdistill.data.flow_packs`).

* :mod:`.opencv` -- :func:`flow_tvl1` (``cv2.optflow.DualTVL1OpticalFlow``, the paper's TV-L1 flow, as in I3D /
  MARS / MMAction2) with every parameter from ``flow.tvl1``; :func:`flow_dis` (``cv2.DISOpticalFlow``) and
  :func:`flow_farneback`, the documented fast alternatives.
* :mod:`.methods` -- :func:`compute_flow`, the dispatch on ``flow.method`` (:data:`METHODS`).
* :mod:`.encoding` -- :func:`quantize` / :func:`dequantize` (clip to +-bound, ``(f + bound) * 255 / (2 * bound)``:
  the DeepMind / denseflow / MMAction2 convention), :func:`reverse_by_negation` (``flow.reverse: negate``) and
  :func:`to_gray`.

Flow fields are ``(H, W, 2)`` float32 ``(dx, dy)`` in pixels with OpenCV's convention
``prev[y, x] ~ next[y + dy, x + dx]``. The names below are re-exported so that callers write
``attdistill.flow.compute_flow``. See docs/flow.md for the parameters, the measurements behind the defaults and
the benchmark (``python -m attdistill.benchmark.flow``).
"""

from .encoding import dequantize, quantize, reverse_by_negation, to_gray
from .methods import METHODS, compute_flow
from .opencv import flow_dis, flow_farneback, flow_tvl1

__all__ = ["METHODS", "compute_flow", "dequantize", "flow_dis", "flow_farneback", "flow_tvl1", "quantize",
           "reverse_by_negation", "to_gray"]
