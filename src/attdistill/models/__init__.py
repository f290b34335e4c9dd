"""Networks of the paper: the Inception-I3D backbone, attention (Eq. 1-5) and the single-stream / two-branch nets.

* :mod:`.i3d` — :class:`InceptionI3d`, parameter-compatible with pytorch-i3d (Kinetics weights load strictly);
* :mod:`.attention` — attention heads (Eq. 1-2, Table 6 rows 14-21) and attention pooling (Eq. 4-5);
* :mod:`.networks` — :class:`SingleStreamNet` (Table 1, teacher), :class:`TwoBranchStudent` (Table 6, Eq. 7),
  :class:`NetOutput`;
* :mod:`.w3`, :mod:`.afr`, :mod:`.w3_i3d` — W3 / CBAM attention, AFR, Inception-I3D with them (papers/001);
* :mod:`.build` — :func:`build_model`, the constructor of every model kind;
* :mod:`.pretrained` — :func:`load_i3d_state`, :func:`load_pretrained`, :func:`export_i3d_state`.

Losses (Eq. 3, 6, 8) are in :mod:`attdistill.losses`.
"""

from .attention import (AttentionHead, AttentionMaps, attention_pool, average_pool,
                        gumbel_sample, parse_attention)
from .i3d import ENDPOINTS, InceptionI3d, InceptionModule, MaxPool3dSame, Unit3D
from .networks import NetOutput, SingleStreamNet, TwoBranchStudent
from .pretrained import PretrainedError, export_i3d_state, load_i3d_state, load_pretrained
from .afr import AttentionFeatureRefinement
from .w3 import W3Attention, W3Output, cbam
from .w3_i3d import (STAGE_ENDPOINTS, VARIANTS, W3_ENDPOINTS, W3I3D, attention_gflops, build_variant, build_w3,
                     count_gflops)
from .build import KINDS, build_model, to_channels_last
from .convlstm import ConvLSTMCell
from .stam import (STAM, FrameAverageNet, ImportanceMask, ResNet50Frames, SmallFrameCNN, StamOutput,
                   TemporalAttention, build_stam, frame_features, load_resnet50_state)

__all__ = [
    "ENDPOINTS", "AttentionHead", "AttentionMaps", "InceptionI3d", "InceptionModule",
    "MaxPool3dSame", "NetOutput", "PretrainedError", "SingleStreamNet", "TwoBranchStudent", "Unit3D",
    "attention_pool", "average_pool", "build_model", "export_i3d_state", "gumbel_sample", "load_i3d_state",
    "load_pretrained",
    "parse_attention",
    "AttentionFeatureRefinement", "STAGE_ENDPOINTS", "W3Attention", "W3I3D", "W3Output", "W3_ENDPOINTS",
    "attention_gflops", "build_variant", "build_w3", "KINDS", "VARIANTS", "to_channels_last", "cbam", "count_gflops",
    "ConvLSTMCell", "STAM", "FrameAverageNet", "ImportanceMask", "ResNet50Frames", "SmallFrameCNN", "StamOutput",
    "TemporalAttention", "build_stam", "frame_features", "load_resnet50_state",
]
