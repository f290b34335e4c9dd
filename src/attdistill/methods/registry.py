"""The model registry: every model id is declared once, as a :class:`ModelSpec` (a trained model) or a
:class:`FusionSpec` (a late fusion of trained models), in the module of its method.

A declaration holds everything that differs between model ids:

* the network it builds (``network``: a :func:`attdistill.models.build_model` kind, its attention module, and
  ``options``, the kind's own arguments from params, for a kind that has some);
* its input (``input``: ``rgb`` or ``flow``); what the data loader reads at train and at test time derives from
  it and from the teachers' inputs;
* its frozen teachers (:class:`Teacher`: a role, the model id whose checkpoint it is, the input it reads, and
  whether it still runs at test time);
* its loss, as its own small function ``loss(out, target, teacher_outputs, params) -> (loss, terms)``;
* an optional forward (``forward(model, batch, teacher_outputs) -> NetOutput``) when the model does not simply
  read its input, an optional ``init(model, teachers, params)`` that starts it from its frozen teachers (STAM's
  second training step), and an optional ``load_weights(model, params)`` for a network that is not an I3D
  (the engine otherwise loads params ``model.pretrained_*`` into the I3D);
* optional ``views(batch, teachers, params, training) -> batch``, extra inputs made from the batch with the frozen
  teacher modules (the focused view of focused crops), ``train_params(params) -> params`` for a model that trains
  on its own schedule (a fine-tune), and ``weights_of``, for a test-time variant that scores another id's trained
  model file under its own forward and trains nothing;
* the params sections it reads beyond the common training ones (``sections``; its dvc.yaml stage declares
  exactly the common ones plus these);
* the table rows it appears in (:class:`Row`) and the attention maps it contributes to localisation
  (``maps``: localisation id -> branch).

Everything else (the stage CLIs' choices, summary.json's ids, the tables' rows, the localisation maps, the fusion
pairs, the dvc.yaml consistency test) reads these declarations; no shared function branches on a model id.
Adding a model is one declaration in its method's module plus its dvc.yaml stage.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from ..config import Params
from ..models import build_model
from ..models.networks import NetOutput

INPUTS: tuple[str, ...] = ("rgb", "flow")
# Params sections every training stage reads (the data and the optimisation); a spec adds its own ``sections``.
# The training seed is not among them: each stage gets its seed (one of params ``seeds``) on its command line.
TRAIN_SECTIONS: tuple[str, ...] = ("clip", "augment", "model", "train", "download")
# Sections of the resume fingerprint every run shares (what the trained weights depend on).
FINGERPRINT_SECTIONS: tuple[str, ...] = ("seed", "clip", "augment", "model", "train", "frames", "flow", "dataset")

LossFn = Callable[[NetOutput, torch.Tensor, dict, Params], tuple[torch.Tensor, dict]]
ForwardFn = Callable[[nn.Module, dict, dict], NetOutput]
ViewsFn = Callable[[dict, dict, Params, bool], dict]    # (batch, teachers, params, training) -> batch


@dataclass(frozen=True)
class Teacher:
    """A frozen teacher: ``role`` names it in the loss; ``model`` is the model id whose checkpoint it is (the
    stage passes that file as ``--teacher ROLE=models/<model>/model.pt``); ``input`` is what it reads."""

    role: str
    model: str
    input: str
    at_test: bool = False      # still needed by a test-time forward (reference attention, focused crops)
    scores: bool = True        # run on its input before the model (False: only the model's ``views`` use it)


@dataclass(frozen=True)
class Row:
    """A row of one of our tables: ``table`` is the file stem (``table2``), ``label`` the row label (the paper's
    label where the paper has the row), ``note`` what our model is, when the label does not say it."""

    table: str
    label: str
    note: str = ""
    key: str = ""              # the localisation id, for a row of a map (Table 4) rather than of the model


def main_attention(params: Params) -> str:
    """The attention module of the main method (params ``attention``)."""
    return params.attention


def fixed_attention(name: str) -> Callable[[Params], str]:
    """An attention module that does not follow params ``attention``."""
    def attention(params: Params) -> str:
        return name
    return attention


@dataclass(frozen=True)
class ModelSpec:
    """One trained model id (see the module docstring)."""

    id: str
    description: str
    stage: str                                  # dvc.yaml stage (base name of a matrix stage) that trains it
    network: str                                # build_model kind: rgb | flow | student | reference | w3 | stam
    attention: Callable[[Params], str]
    input: str                                  # rgb | flow
    loss: LossFn
    teachers: tuple[Teacher, ...] = ()
    sections: tuple[str, ...] = ()              # params sections read beyond TRAIN_SECTIONS
    rows: tuple[Row, ...] = ()
    maps: dict[str, str] = field(default_factory=dict)   # localisation id -> branch of NetOutput.expected_maps
    forward: ForwardFn | None = None
    model_overrides: dict = field(default_factory=dict)  # ModelConfig fields this model fixes (a reading ablation)
    evaluated: bool = True      # scored on the test split; False: a choice made on validation only (never tested)
    options: Callable[[Params], dict] | None = None   # params -> the kind's own build_model options (W3's)
    init: Callable[[nn.Module, dict, Params], None] | None = None   # start from the frozen teachers (role -> net)
    load_weights: Callable[[nn.Module, Params], None] | None = None  # pretrained weights of a non-I3D network
    views: ViewsFn | None = None                 # extra inputs made from the batch and the teachers (focused crops)
    train_params: Callable[[Params], Params] | None = None   # params -> the params it trains with (a fine-tune's)
    weights_of: str = ""        # a test-time variant: scores the model file of this trained id, trains nothing

    def __post_init__(self) -> None:
        if self.input not in INPUTS or any(t.input not in INPUTS for t in self.teachers):
            raise ValueError(f"{self.id}: inputs must be among {INPUTS}")

    # ------------------------------------------------------------------ network
    def model_config(self, params: Params):
        """params ``model`` with this model's overrides applied."""
        return dataclasses.replace(params.model, **self.model_overrides)

    def arch(self, params: Params) -> dict:
        """What model.pt records to rebuild the network (:func:`attdistill.models.files.model_from_file`)."""
        arch = {"kind": self.network, "attention": self.attention(params), "model": self.model_config(params).__dict__}
        if self.options is not None:              # only kinds with options record the key (older files lack it)
            arch["options"] = self.options(params)
        return arch

    def build(self, num_classes: int, params: Params) -> nn.Module:
        return build_model(self.network, num_classes, self.attention(params), self.model_config(params),
                           self.options(params) if self.options else None)

    # ------------------------------------------------------------------ inputs
    @property
    def train_modality(self) -> str:
        """What the loader reads for training: the model's input and every teacher's."""
        return _modality({self.input, *(t.input for t in self.teachers)})

    @property
    def test_modality(self) -> str:
        """What the loader reads at test time: the model's input and its test-time teachers'."""
        return _modality({self.input, *(t.input for t in self.test_teachers)})

    @property
    def test_teachers(self) -> tuple[Teacher, ...]:
        return tuple(t for t in self.teachers if t.at_test)

    # ------------------------------------------------------------------ forward / loss
    def run(self, model: nn.Module, batch: dict, teachers: dict[str, nn.Module],
            params: Params | None = None) -> tuple[NetOutput, dict]:
        """Run the frozen ``teachers`` (role -> module, under no_grad) and the model on a batch. A model with
        ``views`` first adds its extra inputs to the batch (they may need ``params`` and the model's mode)."""
        if self.views is not None:
            if params is None:
                raise ValueError(f"{self.id}: its views need the params")
            batch = self.views(batch, teachers, params, model.training)
        declared = {t.role: t for t in self.teachers}
        with torch.no_grad():
            t_out = {role: net(batch[declared[role].input]) for role, net in teachers.items()
                     if declared[role].scores}
        out = self.forward(model, batch, t_out) if self.forward else model(batch[self.input])
        return out, t_out

    def fingerprint_config(self, params: Params) -> dict:
        """The part of the configuration the trained weights depend on (the resume fingerprint)."""
        keep = [*FINGERPRINT_SECTIONS, *(s for s in self.sections if s not in FINGERPRINT_SECTIONS)]
        return {"model_id": self.id, **{k: param_value(params, k) for k in keep}}


@dataclass(frozen=True)
class FusionSpec:
    """A late fusion: the equal-weight mean of its members' softmax scores (evaluated, never trained)."""

    id: str
    description: str
    members: Callable[[Params], tuple[str, ...]]
    sections: tuple[str, ...] = ()              # params its member list reads
    rows: tuple[Row, ...] = ()


def param_value(params: Params, key: str):
    """The plain value of a params key, dotted for a nested one (``distill.lambda2``)."""
    node = params.to_dict()
    for part in key.split("."):
        node = node[part]
    return node


@dataclass(frozen=True)
class Quantity:
    """One number of ``summary.json`` per seed: a model's metric (``kind="model"``), a localisation map's
    (``"localization"``), or a model's drop under time reversal, ``mean_class - mean_class_reversed``
    (``"reversal"``)."""

    kind: str
    id: str
    metric: str = "mean_class"

    def per_seed(self, summary: dict) -> dict[str, float]:
        if self.kind == "reversal":
            m = summary["models"][self.id]["per_seed"]
            return {s: v["mean_class"] - v["mean_class_reversed"] for s, v in m.items()}
        section = "models" if self.kind == "model" else "localization"
        return {s: v[self.metric] for s, v in summary[section][self.id]["per_seed"].items()}

    def label(self) -> str:
        what = {"model": self.metric, "localization": f"localisation {self.metric}",
                "reversal": "drop under time reversal"}[self.kind]
        return f"`{self.id}` {what}"


@dataclass(frozen=True)
class Claim:
    """A claim of a paper that the embedded study can test: ``better`` exceeds ``worse``. ``paper`` gives the
    paper's two numbers (better, worse), as printed, on the dataset named in ``where``."""

    table: str
    text: str
    better: Quantity
    worse: Quantity
    paper: tuple[float, float]
    where: str


def _modality(inputs: set[str]) -> str:
    return "+".join(i for i in INPUTS if i in inputs)
