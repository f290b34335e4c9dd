"""Kinetics initialisation from pytorch-i3d's checkpoints (paper §3.6: "The weights are initialized from Kinetics
pre-trained models provided by the authors of [3]").

* :func:`load_i3d_state` reads a state_dict from a local file or from a URL, fetched once into a cache directory
  through :func:`attdistill.download.download_file`, SHA-256-verified when a checksum is given.
* :func:`load_pretrained` puts it into an :class:`InceptionI3d`, a :class:`SingleStreamNet` or a
  :class:`~.w3_i3d.W3I3D` (their ``backbone``; W3 and AFR keep their fresh initialisation) or a
  :class:`TwoBranchStudent` (trunk to Mixed_4f; ``Mixed_5b``/``Mixed_5c``/``logits`` copied into *both* branches),
  with ``strict=True`` semantics: every checkpoint tensor must find its place with the same shape, and the only
  parameters left at their fresh initialisation are the attention heads and, when the class count differs from the
  checkpoint's (400 for Kinetics), the ``logits`` layers.

pytorch-i3d's checkpoints exist for ``width=1`` only; the flow checkpoint needs ``in_channels=2`` (stream ``flow``).
A network trained here exports its I3D in the same format (:func:`export_i3d_state`), which initialises a
model of the same width the same way (e.g. an I3D trained on another benchmark, as Kinetics is for the paper).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from ..download import download_file, sha256sum
from .i3d import InceptionI3d
from .networks import BRANCH_ENDPOINTS, SingleStreamNet, TwoBranchStudent
from .w3_i3d import W3I3D


class PretrainedError(ValueError):
    """A checkpoint cannot be loaded into this model (wrong width, channels, checksum or format)."""


def _verify(path: Path, sha256: str) -> None:
    expected = sha256.strip().lower()
    if not expected:
        return
    if not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise PretrainedError(f"sha256 for {path} must be 64 hex digits, got {sha256!r}")
    actual = sha256sum(path)
    if actual != expected:
        raise PretrainedError(f"{path}: SHA-256 mismatch: expected {expected}, got {actual}")


def is_url(s: str) -> bool:
    return urlparse(str(s)).scheme in ("http", "https")


def load_i3d_state(path_or_url: str | os.PathLike, sha256: str = "", cache_dir: str | os.PathLike | None = None,
                   retries: int = 5, timeout: float = 60.0) -> dict[str, torch.Tensor]:
    """A pytorch-i3d state_dict (float tensors as float32) from a local file or an http(s) URL.

    A URL is downloaded once to ``cache_dir/<file name>`` (later calls reuse the cached file); ``sha256`` ("" = no
    check) is verified for local files, cached files and fresh downloads. Raises :class:`PretrainedError`.
    """
    src = str(path_or_url)
    if is_url(src):
        if cache_dir is None:
            raise PretrainedError(f"{src}: a URL needs a cache_dir to download into (params download.cache_dir)")
        name = Path(urlparse(src).path).name or "weights.pt"
        dest = Path(cache_dir) / name
        if dest.is_file():
            try:
                _verify(dest, sha256)
            except PretrainedError:
                dest.unlink()        # a stale or corrupt cached copy: fetch again
        if not dest.is_file():
            download_file(src, dest, sha256=sha256, retries=retries, timeout=timeout)
        path = dest
    else:
        path = Path(src)
        if not path.is_file():
            raise PretrainedError(f"pretrained weights {path} not found (a local file or an http(s) URL is expected)")
    _verify(path, sha256)
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise PretrainedError(f"{path} is not a state_dict (a mapping of parameter names to tensors)")
    return {k.removeprefix("module."): (v.float() if v.is_floating_point() else v) for k, v in obj.items()}


def _mapping(model: nn.Module) -> tuple[InceptionI3d, list[tuple[str, str]]]:
    """(backbone, [(checkpoint prefix, model prefix)]) for each kind of network."""
    if isinstance(model, InceptionI3d):
        return model, [("", "")]
    if isinstance(model, (SingleStreamNet, W3I3D)):          # W3's modules and AFR keep their initialisation
        return model.backbone, [("", "backbone.")]
    if isinstance(model, TwoBranchStudent):
        pairs = [(f"{ep}.", f"backbone.{ep}.") for ep in model.backbone.endpoints]
        for branch in ("motion", "appearance"):
            pairs += [(f"{ep}.", f"{branch}.{ep}.") for ep in (*BRANCH_ENDPOINTS, "logits")]
        return model.backbone, pairs
    raise TypeError(f"load_pretrained: unsupported model type {type(model).__name__}")


def load_pretrained(model: nn.Module, state: Mapping[str, torch.Tensor], num_classes: int | None = None) -> dict:
    """Initialise ``model`` from a pytorch-i3d state_dict (strict: every tensor used, every shape equal).

    The ``logits`` layer(s) are loaded when the checkpoint's class count equals ``num_classes`` and otherwise keep
    their fresh initialisation (the model was built with ``num_classes`` outputs; an :class:`InceptionI3d` with
    another count has its logits replaced first). Returns ``{"loaded": [...], "initialised": [...]}`` (model keys).
    """
    backbone, pairs = _mapping(model)
    key = "Conv3d_1a_7x7.conv3d.weight"
    if key not in state:
        raise PretrainedError(f"not a pytorch-i3d state_dict: no {key!r}")
    filters, own = state[key].shape[0], backbone.Conv3d_1a_7x7.conv3d.out_channels
    if filters != own:
        raise PretrainedError(f"the checkpoint's first convolution has {filters} filters, this model's {own} "
                              f"(width={backbone.width}): pytorch-i3d's weights fit width=1 only (set model.width: 1 "
                              f"and a GPU-sized clip); a state_dict from export_i3d_state fits its own width")
    ckpt_in = state[key].shape[1]
    if ckpt_in != backbone.in_channels:
        which = {3: "RGB (rgb_imagenet.pt)", 2: "optical flow (flow_imagenet.pt)"}
        raise PretrainedError(f"checkpoint expects {ckpt_in}-channel input ({which.get(ckpt_in, 'unknown')}) but the "
                              f"model takes {backbone.in_channels} channels: use the "
                              f"{'flow' if backbone.in_channels == 2 else 'rgb'} checkpoint for this stream")
    ckpt_classes = state["logits.conv3d.weight"].shape[0] if "logits.conv3d.weight" in state else None
    if num_classes is None:
        num_classes = ckpt_classes
    if isinstance(model, InceptionI3d) and model.num_classes != num_classes:
        model.replace_logits(num_classes)
    take_logits = ckpt_classes == num_classes

    target = model.state_dict()
    new: dict[str, torch.Tensor] = {}
    unused = []
    for k, v in state.items():
        if k.startswith("logits.") and not take_logits:
            continue
        dests = [mp + k[len(cp):] for cp, mp in pairs if k.startswith(cp)]
        dests = [d for d in dests if d in target] if dests else []
        if not dests:
            unused.append(k)
            continue
        for d in dests:
            if tuple(target[d].shape) != tuple(v.shape):
                raise PretrainedError(f"{k}: checkpoint shape {tuple(v.shape)} does not fit {d} "
                                      f"{tuple(target[d].shape)}")
            new[d] = v
    if unused:
        raise PretrainedError(f"{len(unused)} checkpoint tensors have no place in {type(model).__name__}: "
                              f"{', '.join(unused[:5])}{' ...' if len(unused) > 5 else ''}")
    initialised = [k for k in target if k not in new]
    expected_fresh = ("attention.", "logits.", "w3.", "afr.")   # heads, W3 modules, AFR: not in an I3D checkpoint
    odd = [k for k in initialised if not any(p in k for p in expected_fresh)]
    if odd:
        raise PretrainedError(f"the checkpoint lacks {len(odd)} backbone tensors of {type(model).__name__}: "
                              f"{', '.join(odd[:5])}{' ...' if len(odd) > 5 else ''}")
    model.load_state_dict({**target, **new}, strict=True)
    return {"loaded": sorted(new), "initialised": initialised}


def export_i3d_state(model: SingleStreamNet) -> dict[str, torch.Tensor]:
    """The I3D of a trained single-stream network as a pytorch-i3d-format state_dict (``backbone.`` dropped,
    ``logits`` included, the attention head left out): what :func:`load_pretrained` reads."""
    if not isinstance(model, SingleStreamNet):
        raise TypeError(f"export_i3d_state: a SingleStreamNet is expected, got {type(model).__name__}")
    return {k: v.detach().clone() for k, v in model.backbone.state_dict().items()}
