"""DVC stage ``download``: put ``dataset.name`` into data/raw and write data/raw/index.json.

    python stages/download.py --out data/raw [--params params.yaml] [--workers N] [--pretraining]

``--pretraining``: the pretraining benchmark instead (params ``pretrain``; pretrain/dvc.yaml).

``synthetic`` is generated (no network); ``ucf101`` / ``hmdb51`` are downloaded from their official URLs
with pinned SHA-256 (cached in ``download.cache_dir``, outside the DVC output), extracted safely and parsed;
``egtea`` / ``ssv2`` need registration: the stage checks the files placed under ``download.manual_dir`` and
lists whatever is missing. Parameters are validated before any work (exit code 2 on a bad value).
See docs/datasets.md.
"""

import argparse
import logging
import os
import sys

from attdistill.config import add_params_arguments, add_pretraining_argument, params_from_cli


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(ap)
    add_pretraining_argument(ap)
    ap.add_argument("--out", required=True, help="output folder (the DVC output); index.json goes inside")
    ap.add_argument("--base", default=".", help="repository root that index paths are relative to")
    ap.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                    help="processes for the synthetic generator (output does not depend on it)")
    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2
    logging.basicConfig(level=logging.INFO, format="download: %(message)s")

    # Imported after the params check, so bad params fail in milliseconds.
    from attdistill.archive import RarToolMissing, UnsafeArchiveError
    from attdistill.data.prepare import prepare
    from attdistill.download import DownloadError

    try:
        index = prepare(params, raw_dir=args.out, base=args.base, workers=args.workers)
    except (FileNotFoundError, DownloadError, UnsafeArchiveError, RarToolMissing, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    train, val, test = (len(index.split(s)) for s in ("train", "val", "test"))
    out = args.out if os.path.isabs(args.out) else os.path.join(args.base, args.out)
    print(f"download: {index.dataset}: {index.num_classes} classes, {train} train / {val} val / {test} test videos "
          f"-> {os.path.normpath(os.path.join(out, 'index.json'))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
