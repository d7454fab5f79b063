#!/usr/bin/env python
"""Write the built-in sample set to disk: an ImageFolder of PNGs, or a raw uint8 .npz.

Useful to try the folder/.npz code paths (``--calib-data DIR``) on real files,
or to look at the images.

Example:
  python scripts/make_sample_data.py --split calib --out /tmp/calib            # class folders
  python scripts/make_sample_data.py --split eval --out /tmp/eval.npz --limit 200
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=["train", "calib", "eval"], default="calib")
    ap.add_argument("--out", type=Path, required=True, help="a directory, or a file ending in .npz")
    ap.add_argument("--limit", type=int, default=None, help="write only the first N images")
    args = ap.parse_args(argv)

    from PIL import Image

    from resnet_deploy.data import SAMPLE_CLASSES, sample_arrays

    x, y = sample_arrays(args.split)
    if args.limit is not None:
        x, y = x[: args.limit], y[: args.limit]
    if args.out.suffix == ".npz":
        args.out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.out, images=x, labels=y)
    else:
        for i, (img, label) in enumerate(zip(x, y, strict=True)):
            d = args.out / SAMPLE_CLASSES[int(label)]
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(d / f"{args.split}_{i:05d}.png")
    print(f"wrote {len(x)} {args.split} images to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
