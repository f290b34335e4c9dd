"""The ``training`` section of ``reports/speed.json``: training throughput of every network kind at the configured
shapes, against the same run's matmul peaks, and the data loader's time per batch against the compute time.

Network kinds come from the registry (each distinct :attr:`ModelSpec.network` with its own input, except the
reference-attention student, whose motion map comes from a frozen network: its step is the student's plus that
network's forward). Each kind is timed as it trains: ``train.batch_size`` clips of ``clip.frames x crop x crop``,
the configured memory format (``train.channels_last``), AdamW (foreach) or SGD as configured, and
``train.threads`` intra-op threads. One more row times the RGB kind under bf16 autocast (a choice we measured and
did not keep on CPU: docs/speed.md). The loader is the real training loader of the RGB kind (decoded packs
preloaded into memory, augmentation per item), without the network.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .. import methods
from ..models.build import to_channels_last
from ..config import Params
from ..data.dataset import ClipDataset, make_generator, make_loader
from ..data.index import VideoIndex
from ..data.packs import pack_path
from ..training.engine import make_optimizer
from ..training.seeding import thread_count
from .training import benchmark_training

IN_CHANNELS = {"rgb": 3, "flow": 2}


def network_kinds() -> dict[str, str]:
    """network kind -> its input stream, for every kind the registry trains on one stream."""
    kinds: dict[str, str] = {}
    for spec in methods.MODELS:
        if spec.input in IN_CHANNELS and spec.network != "reference":
            kinds.setdefault(spec.network, spec.input)
    return kinds


def _nll(out) -> torch.Tensor:
    """Mean negative log-likelihood of class 0 of the prediction (a cross entropy, on synthetic targets)."""
    return -torch.log(out.probs[:, 0].clamp_min(1e-12)).mean()


def _loader(params: Params, index_path: Path, frames_dir: Path):
    if not (index_path.is_file() and frames_dir.is_dir()):
        return None
    index = VideoIndex.load(index_path)
    # videos the frames stage skipped have no pack; the benchmark times the loader on the others
    absent = [v.video_id for v in index.split("train") if not pack_path(frames_dir, v.video_id).is_file()]
    ds = ClipDataset(index, "train", "rgb", params.clip, params.augment, frames_dir=frames_dir, flow_dir=frames_dir,
                     train=True, cache=True, exclude=absent)
    if len(ds) == 0:
        return None
    ds.preload()   # decoded once, as training has them after its first epoch: the loader's steady state
    sampler = torch.utils.data.RandomSampler(ds, generator=make_generator(0))
    return make_loader(ds, params.train.batch_size, sampler, params.train.workers, 0, drop_last=True)


def _kind_row(params: Params, kind: str, stream: str, num_classes: int, device, autocast=None, loader=None) -> dict:
    """One network kind timed by :func:`benchmark_training` at ``train.threads`` threads."""
    spec = next(s for s in methods.MODELS if s.network == kind)
    torch.manual_seed(0)
    model = spec.build(num_classes, params).to(device)
    cl = params.train.channels_last
    if cl:
        model = to_channels_last(model)
    tp, c = params.train, params.clip
    shape = (tp.batch_size, IN_CHANNELS[stream], c.frames, c.crop, c.crop)
    r = benchmark_training(model, shape, _nll, make_optimizer(model, tp), steps=params.benchmark.repeats,
                           repeats=params.benchmark.repeats, warmup=1, threads=thread_count(tp.threads),
                           autocast_dtype=autocast, channels_last=cl, loader=loader)
    return {"network": kind, "input": stream, **r}


def training_report(params: Params, num_classes: int, index_path: str | os.PathLike,
                    frames_dir: str | os.PathLike, device) -> dict:
    """{"threads", "kinds": {kind: row}, "rgb_bf16": row}; a row as :func:`benchmark_training` gives it."""
    loader = _loader(params, Path(index_path), Path(frames_dir))
    kinds = {kind: _kind_row(params, kind, stream, num_classes, device, loader=loader if kind == "rgb" else None)
             for kind, stream in network_kinds().items()}
    bf16 = _kind_row(params, "rgb", "rgb", num_classes, device, autocast=torch.bfloat16)
    return {"threads": thread_count(params.train.threads), "optimizer": params.train.optimizer, "kinds": kinds,
            "rgb_bf16": bf16}
