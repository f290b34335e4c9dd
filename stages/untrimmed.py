"""DVC stage: the untrimmed variant of the embedded benchmark (STAM Table 4), from the trimmed one's test videos.

    python stages/untrimmed.py --index data/raw/index.json --out data/untrimmed

Writes ``OUT/videos/``, ``OUT/annotations/<Class>_test.txt`` (THUMOS'14's format), ``OUT/index.json`` and
``OUT/untrimmed.json`` (:mod:`attdistill.data.untrimmed`). Reads params ``seed`` and ``synthetic``. For a real
dataset (``dataset.name`` not synthetic) it writes an empty index and a note: THUMOS'14's own annotations are read
by :mod:`attdistill.data.thumos14`, which this stage does not download.
"""

import argparse
import json
from pathlib import Path

from attdistill.config import add_params_arguments, params_from_cli
from attdistill.data.index import VideoIndex
from attdistill.data.untrimmed import generate_untrimmed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(ap)
    ap.add_argument("--index", required=True, help="the trimmed dataset's index.json (its name and classes)")
    ap.add_argument("--out", required=True, help="folder written")
    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2
    trimmed, out = VideoIndex.load(args.index), Path(args.out)
    if trimmed.dataset != "synthetic":
        out.mkdir(parents=True, exist_ok=True)
        (out / "annotations").mkdir(exist_ok=True)
        VideoIndex(trimmed.dataset, str(out / "videos"), trimmed.classes, []).save(out / "index.json")
        note = f"{trimmed.dataset}: no untrimmed variant (THUMOS'14 annotations: attdistill.data.thumos14)"
        (out / "untrimmed.json").write_text(json.dumps({"note": note}) + "\n")
        print(f"untrimmed: {note}")
        return 0
    index = generate_untrimmed(params.synthetic, params.seed, out)
    print(f"untrimmed: {len(index.videos)} test videos -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
