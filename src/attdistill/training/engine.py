"""The one training engine behind every training stage (Table-1 baselines, teacher, distill, MFR, controls).

Paper §3.6: SGD with momentum 0.9, weight decay, dropout, learning rate divided by 10 "when the loss starts to
saturate" (``ReduceLROnPlateau`` on the epoch's training loss), batch norm on. Around that:

* **Logging** — dvclive, one step per epoch: every loss term separately, train accuracy, test-split accuracy
  (top-1 and mean class accuracy of the middle clip of each video), lr, epoch time. ``dvc plots show`` draws them.
* **Resume** — ``resume.pt`` every epoch (model, optimizer, scheduler, every rank's RNG states, epoch, dvclive
  step, config fingerprint). A rerun of a killed stage continues from it; on CPU the final weights equal those of
  an uninterrupted run bit for bit (tests/test_training.py).
* **Determinism** — seeds, deterministic algorithms, a sampler whose order depends only on (seed, epoch), and
  data augmentation drawn from (seed, epoch, item): the same config trains to identical weights.
* **Distributed** — under ``torchrun --nproc_per_node N``: DDP (gloo on CPU, NCCL on GPU), DistributedSampler,
  optional SyncBatchNorm; ``train.batch_size`` is the global batch; only rank 0 writes.
* **GPU** — bf16 autocast and channels_last_3d when on a GPU; optional ``torch.compile``.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler, RandomSampler
from tqdm import tqdm

from ..config import Params
from ..data.dataset import ClipDataset, make_generator, make_loader
from ..data.index import VideoIndex
from ..evaluation.metrics import accuracy_metrics
from ..models.pretrained import load_i3d_state, load_pretrained
from .checkpoint import atomic_save, fingerprint, load_resume, save_model
from .distributed import DistEnv, all_gather_object, all_reduce_mean, barrier, init_distributed
from .recipes import Recipe, load_frozen, make_recipe
from .seeding import rng_state, seed_everything, set_rng_state, set_threads


@dataclass
class Paths:
    """Where a training run reads and writes (all relative to the repository root by default)."""

    index: Path = Path("data/raw/index.json")
    frames: Path = Path("data/frames")
    flow: Path = Path("data/flow")
    out: Path = Path("models/rgb-none")            # model.pt and resume.pt go here
    live: Path = Path("reports/train/rgb-none")    # dvclive logs
    skipped: tuple[Path, ...] = (Path("reports/data/frames_skipped.json"), Path("reports/data/flow_skipped.json"))


class Interrupted(RuntimeError):
    """Raised by ``stop_after`` to simulate a run killed after an epoch's checkpoint (tests only)."""


def skipped_ids(reports) -> set[str]:
    """Video ids listed in the frames/flow skip reports (missing reports count as empty)."""
    import json

    ids: set[str] = set()
    for r in reports:
        r = Path(r)
        if r.exists():
            data = json.loads(r.read_text())
            items = data.get("skipped", data) if isinstance(data, dict) else data
            ids.update(x["video_id"] for x in items)
    return ids


def small_enough_to_cache(paths: Paths, limit_bytes: float = 256e6) -> bool:
    """Keep decoded frames in memory when the packs are small (the embedded benchmark: ~20 MB), never for
    UCF101-sized data (~100 GB of packs)."""
    total = sum(f.stat().st_size for d in (paths.frames, paths.flow) if Path(d).is_dir()
                for f in Path(d).rglob("*.pack"))
    return total < limit_bytes


def to_device(batch: dict, device: torch.device, channels_last: bool) -> dict:
    out = {}
    for k, v in batch.items():
        if isinstance(v, torch.Tensor):
            v = v.to(device, non_blocking=True)
            if channels_last and v.dim() == 5:
                v = v.contiguous(memory_format=torch.channels_last_3d)
        out[k] = v
    return out


def run_config(recipe: Recipe, params: Params) -> dict:
    """The part of the configuration a run depends on (its resume fingerprint)."""
    p = params.to_dict()
    keep = ["seed", "clip", "augment", "model", "train", "frames", "flow", "dataset"]
    if recipe.kind in ("student", "reference") or recipe.model_id == "mfr":
        keep += ["distill", "attention"]
    if recipe.model_id == "feature-distill":
        keep.append("feature_distill")
    if recipe.model_id == "mfr":
        keep.append("mfr")
    return {"model_id": recipe.model_id, **{k: p[k] for k in keep}}


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
        return torch.optim.AdamW(groups, lr=tp.lr, weight_decay=tp.weight_decay)
    return torch.optim.SGD(groups, lr=tp.lr, momentum=tp.momentum, weight_decay=tp.weight_decay)


def evaluate_middle_clip(model: nn.Module, recipe: Recipe, teachers: dict, ds: ClipDataset, env: DistEnv,
                         batch_size: int, autocast) -> dict[str, float]:
    """Test-split accuracy from the middle clip of every video (a cheap per-epoch curve; the evaluate stage
    scores every clip)."""
    model.eval()
    probs, labels = [], []
    items = []

    def flush():
        if not items:
            return
        batch = {k: torch.stack([it[k] for it in items]) for k in items[0] if isinstance(items[0][k], torch.Tensor)}
        batch = to_device(batch, env.device, False)
        with torch.no_grad(), autocast():
            out, _ = recipe.forward(model, batch, teachers)
        probs.append(out.probs.float().cpu().numpy())
        items.clear()

    for i in range(len(ds)):
        it = ds[i]
        mid = {}
        for key in ("rgb", "flow"):
            if key in it:
                mid[key] = it[key][len(it[key]) // 2]
        items.append(mid)
        labels.append(it["label"])
        if len(items) == batch_size:
            flush()
    flush()
    model.train()
    return accuracy_metrics(np.concatenate(probs), np.asarray(labels))


def train(model_id: str, params: Params, paths: Paths, *, teacher_files: dict[str, str] | None = None,
          stop_after: int | None = None, progress: bool | None = None) -> dict:
    """Train ``model_id`` with ``params``; write ``paths.out / model.pt`` (rank 0). Returns a summary dict.

    ``teacher_files`` overrides the recipe's default teacher locations (role -> model file).
    ``stop_after`` raises :class:`Interrupted` right after that epoch's checkpoint (to test resume).
    """
    env = init_distributed()
    set_threads()
    seed_everything(params.seed)
    recipe = make_recipe(model_id, params)
    tp = params.train
    if tp.batch_size % env.world_size:
        raise ValueError(f"train.batch_size {tp.batch_size} is not divisible by {env.world_size} processes")
    per_rank = tp.batch_size // env.world_size
    on_gpu = env.device.type == "cuda"
    channels_last = on_gpu and tp.channels_last
    progress = sys.stderr.isatty() if progress is None else progress

    def autocast():
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=on_gpu and tp.amp)

    # ---------------------------------------------------------------- data
    index = VideoIndex.load(paths.index)
    exclude = skipped_ids(paths.skipped)
    common = dict(frames_dir=paths.frames, flow_dir=paths.flow, seed=params.seed, exclude=exclude,
                  cache=small_enough_to_cache(paths))
    train_ds = ClipDataset(index, "train", recipe.modality, params.clip, params.augment, train=True, **common)
    val_ds = ClipDataset(index, "test", recipe.test_modality, params.clip, params.augment, train=False, **common)
    if len(train_ds) == 0 or len(val_ds) == 0:
        raise RuntimeError(f"{model_id}: no usable {'training' if len(train_ds) == 0 else 'test'} videos in "
                           f"{paths.index} (all excluded by the skip reports {', '.join(map(str, paths.skipped))}?)")
    if tp.workers > 0 and train_ds.cache:
        train_ds.preload()  # decoded once here and handed to the spawned workers, not re-decoded by each

    # ---------------------------------------------------------------- model, teachers
    torch.manual_seed(params.seed)  # identical initial weights on every rank and every run
    model = recipe.build(index.num_classes)
    src, sha = params.model.pretrained(recipe.pretrained_stream)
    if src:
        load_pretrained(model, load_i3d_state(src, sha, cache_dir=params.download.cache_dir,
                                                   retries=params.download.retries, timeout=params.download.timeout), index.num_classes)
    model = model.to(env.device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
    if env.distributed and tp.sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    teachers, teacher_digest = {}, {}
    for role, default in recipe.teachers.items():
        path = Path((teacher_files or {}).get(role, default))
        teachers[role], _ = load_frozen(path, env.device)
        teacher_digest[role] = _file_digest(path)
    net = DistributedDataParallel(model) if env.distributed else model
    if tp.compile:
        net = torch.compile(net)
    # Different Gumbel/dropout noise per rank, still a pure function of (seed, rank).
    torch.manual_seed(params.seed * 1000 + env.rank + 1)

    optimizer = make_optimizer(model, tp)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=tp.plateau_factor,
                                                           patience=tp.plateau_patience)

    # ---------------------------------------------------------------- resume
    fp = fingerprint({**run_config(recipe, params), "teachers": teacher_digest, "world_size": env.world_size})
    resume_path = paths.out / "resume.pt"
    state = load_resume(resume_path, fp)
    start_epoch, history = 0, []
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"][env.rank])
        start_epoch, history = state["epoch"], state["history"]
    live = None
    if env.is_main:
        from dvclive import Live

        if state is None and paths.live.exists():
            shutil.rmtree(paths.live)  # a fresh run starts fresh curves
        live = Live(str(paths.live), resume=state is not None, dvcyaml=None, save_dvc_exp=False, report=None)

    # ---------------------------------------------------------------- epochs
    for epoch in range(start_epoch, tp.epochs):
        t0 = time.time()
        train_ds.set_epoch(epoch)
        if env.distributed:
            sampler = DistributedSampler(train_ds, env.world_size, env.rank, shuffle=True, seed=params.seed,
                                         drop_last=True)
            sampler.set_epoch(epoch)
        else:
            sampler = RandomSampler(train_ds, generator=make_generator(params.seed * 100003 + epoch))
        loader = make_loader(train_ds, per_rank, sampler, tp.workers, params.seed + epoch, drop_last=True,
                             pin_memory=on_gpu)
        sums: dict[str, float] = {}
        seen, correct = 0, 0
        net.train()
        bar = tqdm(loader, desc=f"{model_id} epoch {epoch + 1}/{tp.epochs}", disable=not (progress and env.is_main),
                   leave=False)
        for batch in bar:
            batch = to_device(batch, env.device, channels_last)
            target = batch["label"]
            with autocast():
                out, t_out = recipe.forward(net, batch, teachers)
                loss, terms = recipe.loss(out, target, t_out)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{model_id}: loss became {float(loss)} at epoch {epoch + 1}; "
                                         f"lower train.lr (now {optimizer.param_groups[0]['lr']})")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            n = len(target)
            seen += n
            correct += int((out.probs.argmax(1) == target).sum())
            sums["loss"] = sums.get("loss", 0.0) + float(loss.detach()) * n
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v * n
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
        logs = {f"train/{k}": v / max(seen, 1) for k, v in sums.items()}
        logs["train/acc"] = correct / max(seen, 1)
        logs = all_reduce_mean(env, logs)
        scheduler.step(logs["train/loss"])
        if env.is_main and ((epoch + 1) % tp.val_every == 0 or epoch + 1 == tp.epochs):
            val = evaluate_middle_clip(model, recipe, recipe.test_teachers(teachers), val_ds, env, max(per_rank, 8),
                                       autocast)
            logs.update({"test/top1": val["top1"], "test/mean_class": val["mean_class"]})
        logs["lr"] = optimizer.param_groups[0]["lr"]
        logs["epoch_time_s"] = time.time() - t0
        history.append({"epoch": epoch + 1, **logs})
        barrier(env)
        # Every rank's RNG state, so a resumed DDP run continues every stream exactly.
        rngs = all_gather_object(env, rng_state())
        if env.is_main:
            for k, v in logs.items():
                live.log_metric(k, v)
            live.next_step()
            atomic_save({"fingerprint": fp, "finished": epoch + 1 == tp.epochs, "epoch": epoch + 1,
                         "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                         "scheduler": scheduler.state_dict(), "rng": rngs, "history": history}, resume_path)
            msg = " ".join(f"{k}={v:.4f}" for k, v in logs.items() if isinstance(v, float))
            print(f"[{model_id}] epoch {epoch + 1}/{tp.epochs} {msg}", flush=True)
        barrier(env)
        if stop_after is not None and epoch + 1 >= stop_after and epoch + 1 < tp.epochs:
            raise Interrupted(f"stopped after epoch {epoch + 1} (simulated interruption)")

    # ---------------------------------------------------------------- final weights
    # DDP keeps parameters identical on every rank (BN running statistics stay per rank unless train.sync_bn).
    digests = all_gather_object(env, state_digest(model, params_only=True))
    summary = {"model_id": model_id, "epochs": tp.epochs, "world_size": env.world_size,
               "history": history, "rank_weight_digests": digests, "fingerprint": fp}
    if env.is_main:
        # no wall-clock times in model.pt: the same run gives the same bytes, so DVC skips unchanged downstream stages
        curves = [{k: v for k, v in h.items() if k != "epoch_time_s"} for h in history]
        save_model(paths.out / "model.pt", model, recipe.arch, index.classes,
                   {"model_id": model_id, "history": curves, "fingerprint": fp, "world_size": env.world_size,
                    "rank_weight_digests": digests, "teachers": teacher_digest,
                   # the input format predict.py must reproduce for this model
                   "frames": {"fps": params.frames.fps, "width": params.frames.width, "height": params.frames.height},
                   "clip": {"frames": params.clip.frames}})
        if live is not None:
            live.end()
    barrier(env)
    return summary


def state_digest(model: nn.Module, params_only: bool = False) -> str:
    """SHA-256 over every tensor of a state dict (or only the parameters): equal digests mean identical weights."""
    h = hashlib.sha256()
    tensors = dict(model.named_parameters()) if params_only else model.state_dict()
    for k, v in sorted(tensors.items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
