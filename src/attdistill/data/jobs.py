"""One runner for the per-video stages (``frames``, ``flow``): parallel, shardable, resumable, with a skip report.

:func:`run_jobs` applies a per-video function to the videos of an index:

* **parallel** over videos: ``workers`` processes (``spawn``), each single-threaded in OpenCV (and torch, if
  loaded), so ``workers`` = cores uses the machine without oversubscription; ``workers=1`` runs in-process.
* **shardable**: ``shard=(k, n)`` takes every n-th video starting at k (:func:`attdistill.data.index.shard`).
  :func:`parse_shard` reads ``--shard k/N``, else ``RANK`` / ``WORLD_SIZE`` as torchrun sets them.
  Shards write disjoint packs into the same folders, so they may run at the same time on one file system.
* **resumable**: a video whose outputs are already complete (``is_complete``) is not redone. Packs are written
  by :func:`attdistill.data.packs.write_pack` (temp file + rename), so an interrupted run leaves either a whole
  pack or none; stale temp files of this shard's videos are removed at start.
* **skip report**: a job raising :class:`VideoError` or :class:`PackError` (corrupt, empty or undecodable video,
  missing input pack) is skipped and listed with its reason; the run still succeeds. Any other exception is a
  bug and stops the run.

:func:`run_stage_cli` is the ``main`` of both stage scripts (params and index checked before any work).

Reports are JSON lists ``[{"video_id", "path", "reason"}, ...]`` sorted by ``video_id`` (``[]`` when nothing was
skipped). The unsharded run writes the canonical file (``reports/data/frames_skipped.json``); shard k of n writes
``frames_skipped.shard-k-of-n.json`` beside it. After all n shards have finished, merge them into the canonical
file with :func:`merge_reports` (``python -m attdistill.data.jobs merge reports/data/frames_skipped.json N``),
then ``dvc commit`` the stage.

Resuming under DVC: ``dvc repro`` deletes a stage's outputs before it runs, so resume applies when the stage
command itself is re-run (by hand, or per shard on a cluster), followed by ``dvc commit``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import cv2
from tqdm import tqdm

from attdistill.data.decode import VideoError
from attdistill.data.index import VideoIndex, VideoRecord, shard as shard_items
from attdistill.data.packs import Pack, PackError

# Errors that mean "this video's data is bad": the video is skipped and reported, the stage succeeds.
SKIPPABLE = (VideoError, PackError)


@dataclass
class JobSummary:
    """What a run did: ``done`` jobs ran, ``present`` were already complete, ``skipped`` failed with a reason."""

    total: int = 0
    done: int = 0
    present: int = 0
    skipped: list[dict] = field(default_factory=list)
    shard: tuple[int, int] = (0, 1)
    report: str = ""

    @property
    def all_failed(self) -> bool:
        """Every video of the dataset was skipped: a systematic problem (codec, paths), not a few bad files.
        (A shard of a sharded run may legitimately hold only bad videos, so this looks at unsharded runs.)"""
        return self.shard[1] == 1 and self.total > 0 and self.done + self.present == 0

    def failure_message(self) -> str:
        first = self.skipped[0]["reason"] if self.skipped else "?"
        return (f"all {self.total} videos were skipped (see {self.report}); the first reason: {first}")

    def exit_code(self) -> int:
        """A stage's exit status: 1 (the reason on stderr) when every video failed, else 0."""
        if self.all_failed:
            print(f"error: {self.failure_message()}", file=sys.stderr)
            return 1
        return 0

    def as_dict(self) -> dict:
        return {"total": self.total, "done": self.done, "present": self.present, "skipped": len(self.skipped),
                "shard": f"{self.shard[0]}/{self.shard[1]}", "report": self.report}

    def __str__(self) -> str:
        return (f"{self.total} videos (shard {self.shard[0]}/{self.shard[1]}): {self.done} done, "
                f"{self.present} already present, {len(self.skipped)} skipped")


# --------------------------------------------------------------------------------------------- sharding
def parse_shard(text: str | None = None, env: Mapping[str, str] | None = None) -> tuple[int, int]:
    """``"k/N"`` -> ``(k, N)``; ``None`` -> ``(RANK, WORLD_SIZE)`` from the environment, else ``(0, 1)``."""
    env = os.environ if env is None else env
    if text is None:
        if "RANK" in env and "WORLD_SIZE" in env:
            text = f"{env['RANK']}/{env['WORLD_SIZE']}"
        else:
            return (0, 1)
    try:
        k, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise ValueError(f"shard {text!r}: expected k/N with integers, e.g. 0/4") from None
    if not 0 <= k < n:
        raise ValueError(f"shard {text!r}: need 0 <= k < N")
    return (k, n)


def open_sharded_index(index_path: str | os.PathLike,
                       shard_text: str | None = None) -> tuple[VideoIndex, tuple[int, int]]:
    """``(VideoIndex, (k, n))`` for a per-video stage: the index file and this process's shard
    (:func:`parse_shard`). Raises OSError / ValueError with a readable message."""
    return VideoIndex.load(index_path), parse_shard(shard_text)


def shard_report_path(report: str | os.PathLike, shard: tuple[int, int]) -> Path:
    """The report of shard ``k`` of ``n``: ``x.json`` -> ``x.shard-k-of-n.json`` (unsharded: ``x.json`` itself)."""
    report = Path(report)
    k, n = shard
    if n == 1:
        return report
    return report.with_name(f"{report.stem}.shard-{k}-of-{n}{report.suffix}")


def write_report(path: str | os.PathLike, skipped: Iterable[dict]) -> None:
    """Write a skip report atomically: a JSON list sorted by video id."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(sorted(skipped, key=lambda s: s["video_id"]), indent=1) + "\n")
    os.replace(tmp, path)


def merge_reports(report: str | os.PathLike, n: int, remove: bool = False) -> list[dict]:
    """Merge the n shard reports of ``report`` into ``report`` itself; returns the merged list.

    Every shard's report must exist (a missing one means that shard has not finished: :class:`FileNotFoundError`).
    ``remove=True`` deletes the shard files afterwards.
    """
    parts = [shard_report_path(report, (k, n)) for k in range(n)]
    missing = [str(p) for p in parts if not p.exists()]
    if missing:
        raise FileNotFoundError(f"shard reports missing (shard not finished?): {', '.join(missing)}")
    merged: dict[str, dict] = {}
    for p in parts:
        for entry in json.loads(p.read_text()):
            merged[entry["video_id"]] = entry
    write_report(report, merged.values())
    if remove and n > 1:
        for p in parts:
            p.unlink()
    return sorted(merged.values(), key=lambda s: s["video_id"])


# --------------------------------------------------------------------------------------------- completeness
def pack_complete(path: str | os.PathLike, meta: Mapping | None = None, frames: int | None = None) -> bool:
    """True if ``path`` opens as a complete pack whose ``meta`` contains ``meta`` (and has ``frames`` frames).

    A truncated/partial file fails the end-marker and index checksum checks of :class:`Pack`; comparing the
    recorded config in ``meta`` keeps a resumed run from reusing packs made with other parameters.
    """
    try:
        with Pack(path) as p:
            if frames is not None and len(p) != frames:
                return False
            return all(p.meta.get(k) == v for k, v in (meta or {}).items())
    except (PackError, OSError, ValueError):
        return False


def remove_stale_temps(paths: Iterable[Path]) -> int:
    """Delete temp files that :func:`write_pack` leaves when killed (``.<name>.<pid>.tmp``) for ``paths``."""
    removed = 0
    for path in paths:
        if path.parent.is_dir():
            for tmp in path.parent.glob(f".{path.name}.*.tmp"):
                tmp.unlink(missing_ok=True)
                removed += 1
    return removed


# --------------------------------------------------------------------------------------------- running
def _init_worker() -> None:
    """Each worker process is single-threaded: parallelism comes from running ``workers`` videos at once."""
    os.environ["OMP_NUM_THREADS"] = "1"
    cv2.setNumThreads(1)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _run_one(job: Callable[[VideoRecord], object], record: VideoRecord) -> tuple[str, str | None]:
    """Run one job; a skippable error becomes its reason (a string), anything else propagates."""
    try:
        job(record)
    except SKIPPABLE as exc:
        return record.video_id, f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        raise RuntimeError(f"{record.video_id}: {type(exc).__name__}: {exc}") from exc
    return record.video_id, None


def run_jobs(records: Sequence[VideoRecord], job: Callable[[VideoRecord], object], *,
             is_complete: Callable[[VideoRecord], bool], outputs: Callable[[VideoRecord], list[Path]],
             workers: int = 1, shard: tuple[int, int] = (0, 1), report: str | os.PathLike | None = None,
             progress: bool | None = None, desc: str = "videos") -> JobSummary:
    """Run ``job(record)`` for this shard's records whose outputs are not complete yet.

    Args:
        records: all videos, in index order (sharding is round-robin over this order).
        job: picklable (a module-level function or ``functools.partial`` of one); writes the video's outputs.
        is_complete: True if the record's outputs already exist whole (then it is counted as present).
        outputs: the record's output paths (for removing stale temp files).
        workers: processes; 1 runs in this process.
        shard: ``(k, n)``.
        report: skip-report path (the shard's own file when ``n > 1``, see :func:`shard_report_path`).
        progress: tqdm bar; ``None`` = only when stderr is a terminal.

    Returns:
        A :class:`JobSummary`. Raises the first non-skippable job error.
    """
    k, n = shard
    mine = shard_items(records, k, n)
    summary = JobSummary(total=len(mine), shard=(k, n))
    todo = []
    for rec in mine:
        if is_complete(rec):
            summary.present += 1
        else:
            remove_stale_temps(outputs(rec))
            todo.append(rec)
    by_id = {r.video_id: r for r in todo}
    disable = (not sys.stderr.isatty()) if progress is None else not progress
    bar = tqdm(total=len(mine), initial=summary.present, desc=desc, unit="video", disable=disable,
               dynamic_ncols=True)

    def record_result(video_id: str, reason: str | None) -> None:
        if reason is None:
            summary.done += 1
        else:
            summary.skipped.append({"video_id": video_id, "path": by_id[video_id].path, "reason": reason})
            bar.set_postfix(skipped=len(summary.skipped))
        bar.update(1)

    try:
        if workers <= 1 or len(todo) <= 1:
            threads = cv2.getNumThreads()
            cv2.setNumThreads(1)
            try:
                for rec in todo:
                    record_result(*_run_one(job, rec))
            finally:
                cv2.setNumThreads(threads)
        else:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(min(workers, len(todo)), mp_context=ctx, initializer=_init_worker) as pool:
                futures = {pool.submit(_run_one, job, rec) for rec in todo}
                try:
                    while futures:
                        finished, futures = wait(futures, return_when=FIRST_EXCEPTION)
                        for fut in finished:
                            record_result(*fut.result())   # re-raises a job's non-skippable error
                except BaseException:
                    pool.shutdown(wait=True, cancel_futures=True)   # running jobs finish or die; none start
                    raise
    finally:
        bar.close()
    if report is not None:
        path = shard_report_path(report, shard)
        write_report(path, summary.skipped)
        summary.report = str(path)
    summary.skipped.sort(key=lambda s: s["video_id"])
    return summary


def run_stage_cli(ap, argv: list[str] | None,
                  run: Callable[..., tuple[JobSummary, str]]) -> int:
    """``main`` of a per-video stage (frames, flow) whose parser ``ap`` has ``--params``, ``--index`` and ``--shard``.

    Parses ``argv``, loads the params and opens the index with this process's shard (a bad value of either prints
    ``error: ...`` and returns 2 before any work), then calls ``run(args, params, index, shard)``, which returns
    ``(JobSummary, line)``; prints the line and returns the summary's exit code.
    """
    from attdistill.config import params_from_cli

    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2
    try:
        index, shard = open_sharded_index(args.index, args.shard)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary, line = run(args, params, index, shard)
    print(line)
    return summary.exit_code()


def main(argv: list[str] | None = None) -> int:
    """``python -m attdistill.data.jobs merge REPORT N``: merge the N shard reports into REPORT."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("merge", help="merge shard skip reports into the canonical report")
    m.add_argument("report")
    m.add_argument("n", type=int)
    m.add_argument("--remove", action="store_true", help="delete the shard reports afterwards")
    args = ap.parse_args(argv)
    try:
        merged = merge_reports(args.report, args.n, remove=args.remove)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.report}: {len(merged)} skipped videos from {args.n} shards")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
