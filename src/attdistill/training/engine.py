"""The one training engine behind every training stage; what differs per model id is its declaration
(:class:`attdistill.methods.registry.ModelSpec`).

Paper §3.6: SGD with momentum 0.9, weight decay, dropout, learning rate divided by 10 "when the loss starts to
saturate" (``ReduceLROnPlateau``; here on the validation loss, down to ``train.plateau_floor`` x each group's
starting lr), batch norm on. Around that:

* **Validation** — every epoch on the validation split (groups carved from the official training list; the test
  split is never seen here): top-1, mean class accuracy and loss of the middle clip of each video. The plateau
  schedule steps on the validation loss.
* **Logging** — dvclive, one step per epoch: every loss term separately, train accuracy, the validation metrics,
  lr, epoch time. ``dvc plots show`` draws them.
* **Resume** — ``resume.pt`` every epoch (model, optimizer, scheduler, every rank's RNG states, epoch, dvclive
  step, config fingerprint). A rerun of a killed stage continues from it; on CPU the final weights equal those of
  an uninterrupted run bit for bit (tests/test_training.py).
* **Determinism** — seeds, deterministic algorithms, a sampler whose order depends only on (seed, epoch), and
  data augmentation drawn from (seed, epoch, item): the same config trains to identical weights.
* **Distributed** — under ``torchrun --nproc_per_node N``: DDP (gloo on CPU, NCCL on GPU), DistributedSampler,
  optional SyncBatchNorm; ``train.batch_size`` is the global batch; only rank 0 writes.
* **Speed** — channels_last_3d (``train.channels_last``, CPU and GPU), ``train.threads`` intra-op threads, bf16
  autocast on a GPU (``train.amp``); optional ``torch.compile``.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler, RandomSampler
from tqdm import tqdm

from .. import methods
from ..config import Params
from ..data.dataset import ClipDataset, make_generator, make_loader, stack_labels
from ..data.index import VideoIndex
from ..data.skips import skipped_ids
from ..evaluation.metrics import accuracy_metrics, multilabel_metrics
from ..losses import class_scores
from ..methods.registry import ModelSpec
from ..models.build import to_channels_last
from ..models.files import load_frozen
from ..models.pretrained import load_i3d_state, load_pretrained
from ..models.files import atomic_save, save_model
from .checkpoint import fingerprint, load_resume
from .distributed import DistEnv, all_gather_object, all_reduce_mean, barrier, broadcast_buffers, init_distributed
from .seeding import rng_state, seed_everything, set_rng_state, set_threads


@dataclass(frozen=True)
class TrainPaths:
    """Every file a training run reads or writes (the stage passes each one on its command line)."""

    index: Path
    frames: Path
    flow: Path | None                   # None: no flow packs (a model and teachers that read RGB only)
    out: Path                           # model.pt and resume.pt go here
    live: Path                          # dvclive logs
    skipped: tuple[Path, ...] = ()      # the frames / flow skip reports
    teachers: dict[str, Path] = field(default_factory=dict)   # role -> model file of each declared teacher
    raw: Path | None = None             # the original (larger) frames of the same videos (focused crops)


class Interrupted(RuntimeError):
    """Raised by ``stop_after`` to simulate a run killed after an epoch's checkpoint (tests only)."""


@dataclass
class Run:
    """One training run's state, built once by :func:`build_run`."""

    spec: ModelSpec
    params: Params
    env: DistEnv
    index: VideoIndex
    train_ds: ClipDataset
    val_ds: ClipDataset
    model: nn.Module
    net: nn.Module                       # the module trained (DDP / compiled wrapper of ``model``)
    teachers: dict[str, nn.Module]
    teacher_digest: dict[str, str]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    fingerprint: str
    per_rank: int
    channels_last: bool
    history: list[dict] = field(default_factory=list)
    start_epoch: int = 0

    def autocast(self):
        on_gpu = self.env.device.type == "cuda"
        if on_gpu and self.params.train.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()


def small_enough_to_cache(paths: TrainPaths, limit_bytes: float = 256e6) -> bool:
    """Keep decoded frames in memory when the packs are small (the embedded benchmark: ~20 MB), never for
    UCF101-sized data (~100 GB of packs)."""
    total = sum(f.stat().st_size for d in (paths.frames, paths.flow, paths.raw) if d is not None and Path(d).is_dir()
                for f in Path(d).rglob("*.pack"))
    return total < limit_bytes


def to_device(batch: dict, device: torch.device, channels_last: bool) -> dict:
    out = {}
    for k, v in batch.items():
        if isinstance(v, torch.Tensor):
            v = v.to(device, non_blocking=True)
            if channels_last and v.dim() == 5 and v.is_floating_point():   # clips, not uint8 original frames
                v = v.contiguous(memory_format=torch.channels_last_3d)
        out[k] = v
    return out


def _file_digest(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest() if path.exists() else ""


def param_groups(model: nn.Module, lr: float, attention_mult: float) -> list[dict]:
    """The attention heads at ``attention_mult`` x the base learning rate, everything else at ``lr``.

    The heads start from a near-uniform map (w_a ~ N(0, 0.01^2), §3.2) and must grow their logits by a few units
    to localise; the authors' related code trains its attention decoder at 10x the backbone's rate
    (Forecasting-HOI ``decoder_lr_ratio``). ReduceLROnPlateau scales both groups together.
    """
    head = [p for n, p in model.named_parameters() if ".attention." in f".{n}"]
    ids = {id(p) for p in head}
    rest = [p for p in model.parameters() if id(p) not in ids]
    groups = [{"params": rest, "lr": lr}]
    if head:
        groups.append({"params": head, "lr": lr * attention_mult})
    return groups


def make_optimizer(model: nn.Module, tp) -> torch.optim.Optimizer:
    """SGD with momentum (paper §3.6), or AdamW (``train.optimizer: adam``) for very short CPU schedules."""
    groups = param_groups(model, tp.lr, tp.attention_lr_mult)
    if tp.optimizer == "adam":
        # foreach: one multi-tensor update instead of a Python loop over ~200 parameters (identical arithmetic)
        return torch.optim.AdamW(groups, lr=tp.lr, weight_decay=tp.weight_decay, foreach=True)
    return torch.optim.SGD(groups, lr=tp.lr, momentum=tp.momentum, weight_decay=tp.weight_decay, foreach=True)


# ------------------------------------------------------------------------------------------------ building
def make_scheduler(optimizer: torch.optim.Optimizer, tp) -> torch.optim.lr_scheduler.LRScheduler:
    """``train.schedule``. ``plateau`` (paper §3.6): lr x ``plateau_factor`` when the validation loss has not
    improved by a relative ``plateau_threshold`` for ``plateau_patience`` epochs, down to ``plateau_floor`` x each
    group's starting lr. ``cosine``: every model the same curve, lr_e = lr (f + (1 - f) (1 + cos(pi e / E)) / 2)
    after epoch e of E, f = ``plateau_floor``, so the last epoch ends at the floor (the convergence criterion
    reads the floor)."""
    if tp.schedule == "cosine":
        f, epochs = tp.plateau_floor, tp.epochs
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda e: f + (1 - f) * (1 + math.cos(math.pi * min(e, epochs) / epochs)) / 2)
    floors = [g["lr"] * tp.plateau_floor for g in optimizer.param_groups]
    return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=tp.plateau_factor,
                                                      patience=tp.plateau_patience, min_lr=floors,
                                                      threshold=tp.plateau_threshold, threshold_mode="rel")


def step_schedule(scheduler: torch.optim.lr_scheduler.LRScheduler, val_loss: float) -> None:
    """One scheduler step per epoch; only the plateau rule reads the validation loss."""
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(val_loss)
    else:
        scheduler.step()


def build_data(spec: ModelSpec, params: Params, paths: TrainPaths) -> tuple[VideoIndex, ClipDataset, ClipDataset]:
    """The index, the training split (augmented) and the validation split of the per-epoch curves."""
    index = VideoIndex.load(paths.index)
    common = dict(frames_dir=paths.frames, flow_dir=paths.flow, seed=params.seed, exclude=skipped_ids(paths.skipped),
                  cache=small_enough_to_cache(paths), raw_dir=paths.raw)
    train_ds = ClipDataset(index, "train", spec.train_modality, params.clip, params.augment, train=True, **common)
    val_ds = ClipDataset(index, "val", spec.test_modality, params.clip, params.augment, train=False,
                         middle_clip_only=True, **common)
    if len(train_ds) == 0 or len(val_ds) == 0:
        raise RuntimeError(f"{spec.id}: no usable {'training' if len(train_ds) == 0 else 'validation'} videos in "
                           f"{paths.index} (all excluded by the skip reports {', '.join(map(str, paths.skipped))}?)")
    if params.train.workers > 0 and train_ds.cache:
        train_ds.preload()  # decoded once here and handed to the spawned workers, not re-decoded by each
    return index, train_ds, val_ds


def load_teachers(spec: ModelSpec, paths: TrainPaths, device) -> tuple[dict[str, nn.Module], dict[str, str]]:
    """The declared teachers from the files the stage passed (role -> frozen module, role -> file digest)."""
    declared = {t.role for t in spec.teachers}
    unknown, missing = set(paths.teachers) - declared, declared - set(paths.teachers)
    if unknown or missing:
        raise ValueError(f"{spec.id}: teachers are {sorted(declared) or 'none'}; missing {sorted(missing)}, "
                         f"unknown {sorted(unknown)} (pass each as --teacher ROLE=PATH)")
    modules = {role: load_frozen(Path(path), device)[0] for role, path in paths.teachers.items()}
    return modules, {role: _file_digest(Path(path)) for role, path in paths.teachers.items()}


def build_model(spec: ModelSpec, params: Params, num_classes: int, env: DistEnv, channels_last: bool) -> nn.Module:
    """The network with identical initial weights on every rank, optionally Kinetics-initialised."""
    torch.manual_seed(params.seed)
    model = spec.build(num_classes, params)
    src, sha = params.model.pretrained(spec.input)
    if spec.load_weights is not None:        # a network of its own (STAM's frame CNN): its own weights
        spec.load_weights(model, params)
    elif src:
        dl = params.download
        state = load_i3d_state(src, sha, cache_dir=dl.cache_dir, retries=dl.retries, timeout=dl.timeout)
        load_pretrained(model, state, num_classes)
    model = model.to(env.device)
    if channels_last:
        model = to_channels_last(model)
    if env.distributed and params.train.sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model


def build_run(model_id: str, params: Params, paths: TrainPaths) -> Run:
    env = init_distributed()
    set_threads(params.train.threads)
    seed_everything(params.seed)
    spec, tp = methods.get(model_id), params.train
    if tp.batch_size % env.world_size:
        raise ValueError(f"train.batch_size {tp.batch_size} is not divisible by {env.world_size} processes")
    channels_last = tp.channels_last
    index, train_ds, val_ds = build_data(spec, params, paths)
    model = build_model(spec, params, index.num_classes, env, channels_last)
    teachers, digests = load_teachers(spec, paths, env.device)
    if spec.init is not None:                # e.g. STAM's second step: the fine-tuned frame CNN, frozen
        spec.init(model, teachers, params)
    net = DistributedDataParallel(model) if env.distributed else model
    if tp.compile:
        net = torch.compile(net)
    # Different Gumbel/dropout noise per rank, still a pure function of (seed, rank).
    torch.manual_seed(params.seed * 1000 + env.rank + 1)
    optimizer = make_optimizer(model, tp)
    scheduler = make_scheduler(optimizer, tp)
    fp = fingerprint({**spec.fingerprint_config(params), "teachers": digests, "world_size": env.world_size})
    return Run(spec, params, env, index, train_ds, val_ds, model, net, teachers, digests, optimizer, scheduler, fp,
               tp.batch_size // env.world_size, channels_last)


def restore(run: Run, resume_path: Path) -> bool:
    """Continue from ``resume_path`` when it belongs to this configuration; True when it did."""
    state = load_resume(resume_path, run.fingerprint)
    if state is None:
        return False
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    set_rng_state(state["rng"][run.env.rank])
    run.start_epoch, run.history = state["epoch"], state["history"]
    return True


def open_live(run: Run, live_dir: Path, resumed: bool):
    """The dvclive logger (rank 0 only); a fresh run starts fresh curves."""
    if not run.env.is_main:
        return None
    from dvclive import Live

    if not resumed and live_dir.exists():
        shutil.rmtree(live_dir)
    return Live(str(live_dir), resume=resumed, dvcyaml=None, save_dvc_exp=False, report=None)


# ------------------------------------------------------------------------------------------------ epochs
def epoch_loader(run: Run, epoch: int):
    run.train_ds.set_epoch(epoch)
    seed, env = run.params.seed, run.env
    if env.distributed:
        sampler = DistributedSampler(run.train_ds, env.world_size, env.rank, shuffle=True, seed=seed, drop_last=True)
        sampler.set_epoch(epoch)
    else:
        sampler = RandomSampler(run.train_ds, generator=make_generator(seed * 100003 + epoch))
    return make_loader(run.train_ds, run.per_rank, sampler, run.params.train.workers, seed + epoch, drop_last=True,
                       pin_memory=env.device.type == "cuda")


def train_one_epoch(run: Run, epoch: int, progress: bool) -> dict[str, float]:
    """One pass over the training split; the epoch's mean loss terms and accuracy (averaged over ranks)."""
    sums: dict[str, float] = {}
    seen, correct = 0, 0
    run.net.train()
    bar = tqdm(epoch_loader(run, epoch), desc=f"{run.spec.id} epoch {epoch + 1}/{run.params.train.epochs}",
               disable=not (progress and run.env.is_main), leave=False)
    for batch in bar:
        batch = to_device(batch, run.env.device, run.channels_last)
        target = batch["label"]
        with run.autocast():
            out, t_out = run.spec.run(run.net, batch, run.teachers, run.params)
            loss, terms = run.spec.loss(out, target, t_out, run.params)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{run.spec.id}: loss became {float(loss)} at epoch {epoch + 1}; "
                                     f"lower train.lr (now {run.optimizer.param_groups[0]['lr']})")
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        n = len(target)
        seen += n
        pred = out.probs.argmax(1)
        correct += int((target.gather(1, pred[:, None]) > 0).sum() if target.dim() == 2 else (pred == target).sum())
        sums["loss"] = sums.get("loss", 0.0) + float(loss.detach()) * n
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + v * n
        bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
    logs = {f"train/{k}": v / max(seen, 1) for k, v in sums.items()}
    logs["train/acc"] = correct / max(seen, 1)
    return all_reduce_mean(run.env, logs)


VIEW_KEYS = ("rgb", "flow", "raw", "geometry", "focus_u")   # per-view entries of a test item


def _middle_clips(ds: ClipDataset, videos: range, batch_size: int):
    """Batches of the middle clip of each of ``videos``, with the videos' labels (``ds`` decodes only that clip);
    the batch holds the labels too (a test-time saliency of the CE loss reads them)."""
    items, labels = [], []
    for i in videos:
        it = ds[i]
        items.append({key: it[key][0] for key in VIEW_KEYS if key in it})   # its only clip
        labels.append(it["label"])
        if len(items) == batch_size or i == videos[-1]:
            batch = {k: torch.stack([x[k] for x in items]) for k in items[0]}
            yield {**batch, "label": stack_labels(labels)}, labels
            items, labels = [], []


def _validation_scores(run: Run) -> tuple[np.ndarray, list]:
    """Class scores (V, K) and labels of every validation video, in index order. Under DDP each rank scores every
    world_size-th video with rank 0's network (its buffers broadcast first) and the shards are gathered, so every
    rank gets the scores one process would get, at 1 / world_size of the cost."""
    env = run.env
    broadcast_buffers(env, run.model)
    run.model.eval()
    teachers = {t.role: run.teachers[t.role] for t in run.spec.test_teachers}
    num_videos, num_classes = len(run.val_ds), run.index.num_classes
    probs, labels = [np.zeros((0, num_classes), np.float32)], []      # the zeros: a rank with no video
    for batch, lab in _middle_clips(run.val_ds, range(env.rank, num_videos, env.world_size), max(run.per_rank, 8)):
        batch = to_device(batch, env.device, False)
        with torch.no_grad(), run.autocast():
            out, _ = run.spec.run(run.model, batch, teachers, run.params)
        probs.append(class_scores(out, run.val_ds.multilabel).float().cpu().numpy())
        labels += lab
    run.model.train()
    scores, all_labels = np.empty((num_videos, num_classes), np.float32), [None] * num_videos
    for rank, (p, lab) in enumerate(all_gather_object(env, (np.concatenate(probs), labels))):
        scores[rank::env.world_size], all_labels[rank::env.world_size] = p, lab     # rank r scored r, r + W, ...
    return scores, all_labels


def validate(run: Run) -> dict[str, float]:
    """Validation accuracy and loss (mean negative log-likelihood of the true class) from the middle clip of every
    video (a cheap per-epoch curve; the evaluate stage scores every clip of the test split). A multi-label dataset
    gives {"top1": top-scored class positive, "map": video mAP, "loss": mean per-class BCE} of the sigmoids. The
    same on every rank (:func:`_validation_scores`)."""
    probs, labels = _validation_scores(run)
    if run.val_ds.multilabel:
        y, p = stack_labels(labels).numpy(), np.clip(probs, 1e-12, 1 - 1e-7)
        bce = float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())
        return {**multilabel_metrics(probs, y), "loss": bce}
    labels = np.asarray(labels)
    nll = float(-np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, None)).mean())
    return {**accuracy_metrics(probs, labels), "loss": nll}


def end_epoch(run: Run, epoch: int, logs: dict, live, resume_path: Path) -> None:
    """Log the epoch, and checkpoint every rank's state for resume (rank 0 writes)."""
    barrier(run.env)
    rngs = all_gather_object(run.env, rng_state())   # every rank's RNG, so a resumed DDP run continues exactly
    if run.env.is_main:
        for k, v in logs.items():
            live.log_metric(k, v)
        live.next_step()
        atomic_save({"fingerprint": run.fingerprint, "finished": epoch + 1 == run.params.train.epochs,
                     "epoch": epoch + 1, "model": run.model.state_dict(), "optimizer": run.optimizer.state_dict(),
                     "scheduler": run.scheduler.state_dict(), "rng": rngs, "history": run.history}, resume_path)
        msg = " ".join(f"{k}={v:.4f}" for k, v in logs.items() if isinstance(v, float))
        print(f"[{run.spec.id}] epoch {epoch + 1}/{run.params.train.epochs} {msg}", flush=True)
    barrier(run.env)


def save_final(run: Run, out_dir: Path) -> dict:
    """model.pt (rank 0) and the run's summary. DDP keeps parameters identical on every rank (BN running
    statistics stay per rank unless train.sync_bn)."""
    digests = all_gather_object(run.env, state_digest(run.model, params_only=True))
    p = run.params
    if run.env.is_main:
        # no wall-clock times in model.pt: the same run gives the same bytes, so DVC skips unchanged downstream stages
        curves = [{k: v for k, v in h.items() if k != "epoch_time_s"} for h in run.history]
        save_model(out_dir / "model.pt", run.model, run.spec.arch(p), run.index.classes,
                   {"model_id": run.spec.id, "history": curves, "fingerprint": run.fingerprint,
                    "world_size": run.env.world_size, "rank_weight_digests": digests, "teachers": run.teacher_digest,
                    # the input format predict.py must reproduce for this model
                    "frames": {"fps": p.frames.fps, "width": p.frames.width, "height": p.frames.height},
                    "clip": {"frames": p.clip.frames}})
    return {"model_id": run.spec.id, "epochs": p.train.epochs, "world_size": run.env.world_size,
            "history": run.history, "rank_weight_digests": digests, "fingerprint": run.fingerprint}


def train(model_id: str, params: Params, paths: TrainPaths, *, stop_after: int | None = None,
          progress: bool | None = None) -> dict:
    """Train ``model_id`` with ``params``; write ``paths.out / model.pt`` (rank 0). Returns a summary dict.

    ``stop_after`` raises :class:`Interrupted` right after that epoch's checkpoint (to test resume).
    """
    spec = methods.get(model_id)
    if spec.weights_of:
        raise ValueError(f"{model_id} is a test-time variant of {spec.weights_of}: train that id")
    if spec.train_params is not None:        # a fine-tune's own schedule (focused crops)
        params = spec.train_params(params)
    run = build_run(model_id, params, paths)
    tp = params.train
    progress = sys.stderr.isatty() if progress is None else progress
    resume_path = paths.out / "resume.pt"
    live = open_live(run, paths.live, restore(run, resume_path))
    for epoch in range(run.start_epoch, tp.epochs):
        t0 = time.time()
        logs = train_one_epoch(run, epoch, progress)
        val = validate(run)      # the same on every rank, so every rank's scheduler takes the same step
        if run.val_ds.multilabel:     # literal keys: the same key objects every epoch, so model.pt pickles alike
            picked = {"val/top1": val["top1"], "val/map": val["map"], "val/loss": val["loss"]}
        else:
            picked = {"val/top1": val["top1"], "val/mean_class": val["mean_class"], "val/loss": val["loss"]}
        logs.update(picked)
        step_schedule(run.scheduler, logs["val/loss"])
        logs["lr"] = run.optimizer.param_groups[0]["lr"]
        logs["epoch_time_s"] = time.time() - t0
        run.history.append({"epoch": epoch + 1, **logs})
        end_epoch(run, epoch, logs, live, resume_path)
        if stop_after is not None and epoch + 1 >= stop_after and epoch + 1 < tp.epochs:
            raise Interrupted(f"stopped after epoch {epoch + 1} (simulated interruption)")
    summary = save_final(run, paths.out)
    if live is not None:
        live.end()
    barrier(run.env)
    return summary


def state_digest(model: nn.Module, params_only: bool = False) -> str:
    """SHA-256 over every tensor of a state dict (or only the parameters): equal digests mean identical weights."""
    h = hashlib.sha256()
    tensors = dict(model.named_parameters()) if params_only else model.state_dict()
    for k, v in sorted(tensors.items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
