"""The ``download`` stage: get a dataset into ``data/raw`` and write ``data/raw/index.json``.

One function, :func:`prepare`, for every ``dataset.name``:

* ``synthetic`` — generate the embedded benchmark (:mod:`attdistill.data.synthetic`); nothing is downloaded;
* ``ucf101`` / ``hmdb51`` — download the official archives (URL + pinned SHA-256, resumable, into
  ``download.cache_dir`` which is *not* a DVC output, so ``dvc repro`` does not download them again), extract
  them safely (:mod:`attdistill.archive`) under ``data/raw/<dataset>/`` and parse the official split files.
  UCF101 also gets the THUMOS'13 / UCF101-24 boxes (:mod:`attdistill.data.thumos`) for the ``localize`` stage;
* ``egtea`` / ``ssv2`` — registration-only downloads: the user places the official files under
  ``download.manual_dir/<dataset>/`` (layout in :data:`MANUAL_LAYOUT` and docs/datasets.md);
  :func:`check_manual_files` lists everything missing at once before parsing.

Paths in the index (``root``, ``boxes``) are written relative to ``base`` (the repository root), so
``VideoIndex.video_path(record, base)`` finds the files.

Where the URLs and checksums come from: ``download.videos`` / ``download.splits`` / ``download.boxes`` /
``download.manual_dir`` in params.yaml (set by ``python -m attdistill.profile <dataset>``), gathered in
:class:`DatasetSources` (tests point them at a local server).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path


from attdistill.archive import extract
from attdistill.config import RemoteFile
from attdistill.data import boxes as B
from attdistill.data.index import VideoIndex, carve_val
from attdistill.download import ChecksumError, DownloadError, download_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetSources:
    """The official files of one dataset (``download.*`` params)."""

    videos: RemoteFile
    splits: RemoteFile
    boxes: RemoteFile            # THUMOS'13 boxes (ucf101 only)
    manual_dir: str              # registration-only datasets go under <manual_dir>/<name>/


# Registration-only datasets: what to place under <manual_dir>/<dataset>/ ({k} = dataset.split).
MANUAL_LAYOUT: dict[str, dict[str, tuple[str, ...]]] = {
    "egtea": {
        "action_annotation/action_idx.txt": ("action_annotation/action_idx.txt", "action_idx.txt"),
        "action_annotation/train_split{k}.txt": ("action_annotation/train_split{k}.txt", "train_split{k}.txt"),
        "action_annotation/test_split{k}.txt": ("action_annotation/test_split{k}.txt", "test_split{k}.txt"),
        "cropped_clips/": ("cropped_clips/",),
    },
    "ssv2": {
        "something-something-v2-labels.json": ("something-something-v2-labels.json", "labels/labels.json"),
        "something-something-v2-train.json": ("something-something-v2-train.json", "labels/train.json"),
        "something-something-v2-validation.json": ("something-something-v2-validation.json",
                                                   "labels/validation.json"),
        "20bn-something-something-v2/": ("20bn-something-something-v2/",),
    },
}
MANUAL_LAYOUT["charades"] = {
    "Charades/Charades_v1_classes.txt": ("Charades/Charades_v1_classes.txt", "Charades_v1_classes.txt"),
    "Charades/Charades_v1_train.csv": ("Charades/Charades_v1_train.csv", "Charades_v1_train.csv"),
    "Charades/Charades_v1_test.csv": ("Charades/Charades_v1_test.csv", "Charades_v1_test.csv"),
    "Charades_v1_480/": ("Charades_v1_480/",),
}
MANUAL_SOURCE = {
    "charades": "Charades v1 (https://prior.allenai.org/projects/charades, no registration): Charades.zip (the "
                "annotations) and Charades_v1_480.zip (the videos at 480 px), unzipped",
    "egtea": "EGTEA Gaze+ (https://cbs.ic.gatech.edu/fpv/, registration): action_annotation.zip and "
             "video_clips.tar (the trimmed action clips)",
    "ssv2": "20BN-Something-Something V2 (https://www.qualcomm.com/developer/software/something-something-v-2-dataset, "
            "registration): the labels archive and the 20bn-something-something-v2-?? video parts "
            "(cat 20bn-something-something-v2-?? | tar -xz)",
}


class ManualFilesMissing(FileNotFoundError):
    """Files of a registration-only dataset are missing; the message lists all of them and where they go."""


# --------------------------------------------------------------------------------------------- sources
def sources_for(params) -> DatasetSources:
    """The dataset's official files from ``params.download``."""
    dl = params.download
    return DatasetSources(videos=dl.videos, splits=dl.splits, boxes=dl.boxes, manual_dir=dl.manual_dir)


# --------------------------------------------------------------------------------------------- helpers
def _under(base: str | os.PathLike, path: str | os.PathLike) -> Path:
    path = Path(path)
    return path if path.is_absolute() else Path(base) / path


def _rel(path: str | os.PathLike, base: str | os.PathLike) -> str:
    """``path`` (relative to the working directory, or absolute) as a POSIX path relative to ``base``."""
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(base))).as_posix()


def fetch(remote: RemoteFile, cache_dir: Path, what: str, retries: int, timeout: float) -> Path:
    """Download ``remote`` into ``cache_dir`` (file name from the URL), trying mirrors on download errors."""
    if not remote.url:
        raise ValueError(f"no URL configured for the {what} (download.{what}.url)")
    name = remote.url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    dest = cache_dir / name
    errors = []
    for url in (remote.url, *remote.mirrors):
        try:
            return download_file(url, dest, sha256=remote.sha256, retries=retries, timeout=timeout)
        except ChecksumError:
            raise
        except DownloadError as exc:
            errors.append(str(exc))
            log.warning("%s", exc)
    raise DownloadError(f"could not download the {what}: " + " | ".join(errors))


def _extract_once(archive: Path, target: Path, nested: bool = False) -> None:
    """Extract unless this very archive (name and size) was already extracted into ``target``."""
    stamp = target / f".{archive.name}.extracted"
    key = f"{archive.name} {archive.stat().st_size}\n"
    if stamp.is_file() and stamp.read_text() == key:
        log.info("%s already extracted into %s", archive.name, target)
        return
    log.info("extracting %s into %s", archive.name, target)
    extract(archive, target, nested=nested)
    stamp.write_text(key)


def _find_dir(root: Path, accept, what: str) -> Path:
    """The shallowest folder under ``root`` (``root`` included) for which ``accept(folder)`` holds."""
    level = [root]
    for _ in range(4):
        for d in level:
            if accept(d):
                return d
        level = sorted(c for d in level for c in d.iterdir() if c.is_dir() and not c.name.startswith("."))
    raise FileNotFoundError(f"{root}: no {what} found after extraction")


def _has_class_folders(d: Path, ext: str) -> bool:
    for c in d.iterdir():
        if c.is_dir() and any(f.suffix.lower() == ext for f in c.iterdir()):
            return True
    return False


def _provenance(sources: DatasetSources, *names: str) -> dict:
    return {n: {"url": getattr(sources, n).url, "sha256": getattr(sources, n).sha256} for n in names
            if getattr(sources, n).url}


# --------------------------------------------------------------------------------------------- datasets
def _prepare_synthetic(params, raw: Path, base: Path, workers: int) -> VideoIndex:
    from attdistill.data import synthetic

    out = raw / "synthetic"
    synthetic.generate(params.synthetic, params.seed, out, workers=workers)
    return synthetic.build_index(out, params.synthetic)


def _prepare_ucf101(params, raw: Path, base: Path, sources: DatasetSources) -> VideoIndex:
    from attdistill.data.thumos import parse_thumos
    from attdistill.data.ucf101 import parse_ucf101

    dl = params.download
    cache = _under(base, dl.cache_dir)
    target = raw / "ucf101"
    videos = fetch(sources.videos, cache, "videos", dl.retries, dl.timeout)
    splits = fetch(sources.splits, cache, "splits", dl.retries, dl.timeout)
    _extract_once(splits, target)
    _extract_once(videos, target)
    splits_dir = _find_dir(target, lambda d: (d / "classInd.txt").is_file(), "classInd.txt")
    videos_dir = _find_dir(target, lambda d: _has_class_folders(d, ".avi"), "folder of <Class>/*.avi videos")
    index = parse_ucf101(splits_dir, videos_dir, split=params.dataset.split, dataset="ucf101")
    index.flip_invariant = True        # no UCF101 class depends on horizontal direction
    index.metric = "mean_class"
    index.meta = {"sources": _provenance(sources, "videos", "splits", "boxes")}
    if sources.boxes.url:
        pkl = fetch(sources.boxes, cache, "boxes", dl.retries, dl.timeout)
        tests = {v.video_id for v in index.split("test")}
        boxes = parse_thumos(pkl, index.classes, video_ids=tests)
        B.save(boxes, raw / "boxes.json")
        index.boxes = str(raw / "boxes.json")
        index.meta["boxes_videos"] = len(boxes)
    return index


def _prepare_hmdb51(params, raw: Path, base: Path, sources: DatasetSources) -> VideoIndex:
    from attdistill.data.hmdb51 import SPLIT_FILE_RE, parse_hmdb51

    dl = params.download
    cache = _under(base, dl.cache_dir)
    target = raw / "hmdb51"
    videos = fetch(sources.videos, cache, "videos", dl.retries, dl.timeout)
    splits = fetch(sources.splits, cache, "splits", dl.retries, dl.timeout)
    _extract_once(splits, target / "splits")
    _extract_once(videos, target / "videos", nested=True)     # hmdb51_org.rar is a RAR of 51 RARs
    splits_dir = _find_dir(target / "splits", lambda d: any(SPLIT_FILE_RE.match(f.name) for f in d.iterdir()),
                           "<class>_test_split<k>.txt files")
    videos_dir = _find_dir(target / "videos", lambda d: _has_class_folders(d, ".avi"),
                           "folder of <class>/*.avi videos")
    index = parse_hmdb51(splits_dir, videos_dir, split=params.dataset.split, dataset="hmdb51")
    index.meta = {"sources": _provenance(sources, "videos", "splits")}
    return index


def check_manual_files(dataset: str, root: str | os.PathLike, split: int = 1) -> dict[str, Path]:
    """Resolve the files of a registration-only dataset under ``root``; list every missing one in one error."""
    root = Path(root)
    found: dict[str, Path] = {}
    missing: list[str] = []
    for want, alternatives in MANUAL_LAYOUT[dataset].items():
        want = want.format(k=split)
        hit = None
        for alt in alternatives:
            p = root / alt.format(k=split)
            if (p.is_dir() if alt.endswith("/") else p.is_file()):
                hit = p
                break
        if hit is None:
            missing.append(want)
        else:
            found[want] = hit
    if missing:
        layout = "\n".join(f"  {root / w.format(k=split)}" for w in MANUAL_LAYOUT[dataset])
        raise ManualFilesMissing(
            f"{dataset}: {len(missing)} required file(s) missing under {root}: {', '.join(missing)}.\n"
            f"This dataset is placed by hand: download {MANUAL_SOURCE[dataset]} and place them as:\n{layout}\n"
            f"(see docs/datasets.md)")
    return found


def _placed(name: str, base: Path, sources: DatasetSources, annotation: str, videos: str, parse, expected: int,
            what: str, split: int = 1) -> VideoIndex:
    """A hand-placed dataset: check its files under ``<manual_dir>/<name>/`` (all missing ones in one error), parse
    them (``parse(annotations folder, videos folder)``), warn when the class count is not the paper's."""
    files = check_manual_files(name, _under(base, sources.manual_dir) / name, split)
    index = parse(files[annotation].parent, files[videos])
    if index.num_classes != expected:
        log.warning("%s: the annotations list %d %s, the paper uses %d", name, index.num_classes, what, expected)
    return index


def _prepare_egtea(params, raw: Path, base: Path, sources: DatasetSources) -> VideoIndex:
    from attdistill.data.egtea import NUM_ACTIONS, parse_egtea

    k = params.dataset.split
    return _placed("egtea", base, sources, "action_annotation/action_idx.txt", "cropped_clips/",
                   lambda ann, vids: parse_egtea(ann, vids, split=k, dataset="egtea"), NUM_ACTIONS, "actions", k)


def _prepare_charades(params, raw: Path, base: Path, sources: DatasetSources) -> VideoIndex:
    from attdistill.data.charades import NUM_CLASSES, parse_charades

    return _placed("charades", base, sources, "Charades/Charades_v1_classes.txt", "Charades_v1_480/",
                   lambda ann, vids: parse_charades(ann, vids, dataset="charades"), NUM_CLASSES, "classes")


def _prepare_ssv2(params, raw: Path, base: Path, sources: DatasetSources) -> VideoIndex:
    from attdistill.data.ssv2 import NUM_TEMPLATES, parse_ssv2

    return _placed("ssv2", base, sources, "something-something-v2-labels.json", "20bn-something-something-v2/",
                   lambda ann, vids: parse_ssv2(ann, vids, dataset="ssv2"), NUM_TEMPLATES, "templates")


# --------------------------------------------------------------------------------------------- entry point
def prepare(params, raw_dir: str | os.PathLike, base: str | os.PathLike = ".",
            sources: DatasetSources | None = None, workers: int = 1) -> VideoIndex:
    """Get ``params.dataset.name`` into ``raw_dir``, write ``raw_dir/index.json`` and return the index.

    ``raw_dir``, ``download.cache_dir`` and ``download.manual_dir`` are relative to ``base`` unless absolute;
    ``sources`` overrides the configured URLs/checksums (tests point them at a local server);
    ``workers`` parallelises the synthetic generator (its output does not depend on it).
    """
    base = Path(base)
    raw = _under(base, raw_dir)
    raw.mkdir(parents=True, exist_ok=True)
    name = params.dataset.name
    if name == "synthetic":
        index = _prepare_synthetic(params, raw, base, workers)
    else:
        sources = sources or sources_for(params)
        prepare_one = {"ucf101": _prepare_ucf101, "hmdb51": _prepare_hmdb51,
                       "egtea": _prepare_egtea, "ssv2": _prepare_ssv2, "charades": _prepare_charades}.get(name)
        if prepare_one is None:
            raise ValueError(f"unknown dataset {name!r}")
        index = prepare_one(params, raw, base, sources)
    # Paths built above are relative to the working directory (or absolute); store them relative to base.
    index.root = _rel(index.root, base)
    if index.boxes:
        index.boxes = _rel(index.boxes, base)
    carve_val(index, params.dataset.val_fraction)
    index.save(raw / "index.json")
    return index
