r"""Times the picture path (``dlfund.digits``) against its version at another commit, in one process.

    python scripts/bench_digits.py --against=b9b948f [--rounds=40]

The two versions of ``dlfund/digits.py`` (the working tree's and ``git show
REV:dlfund/digits.py``) are imported side by side and called in alternation on:

* a 280x280 drawing, dark strokes on white (a canvas exported as PNG, decoded): ``mnist_like`` only;
* the same drawing white on black (a dark canvas: MNIST's own form): ``mnist_like``;
* a photographed digit (uneven light, noise) at 280x280: ``mnist_like``, every step of the photo path;
* a 12-megapixel JPEG (4000x3000) of a photographed digit: ``load_image`` + ``mnist_like``.

It prints the median milliseconds of each and the median of the per-round ratios
(before / now), and how much the two versions' 28x28 results differ.
docs/performance.md reports its output.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import photo_digits  # noqa: E402

import chapter5  # noqa: E402,F401  (quiet TensorFlow)
from dlfund import digits  # noqa: E402


def module_at(rev: str, directory: str):
    """``dlfund/digits.py`` as it was at ``rev``, imported as a module of its own."""
    path = os.path.join(directory, "digits_before.py")
    with open(path, "w") as f:
        f.write(subprocess.run(["git", "show", f"{rev}:dlfund/digits.py"], check=True, capture_output=True,
                               text=True).stdout)
    spec = importlib.util.spec_from_file_location("digits_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def inputs(directory: str) -> dict:
    """The three test inputs: two decoded drawings and the path of a 12-megapixel JPEG."""
    from PIL import Image

    stroke = photo_digits.render(2, "hand", height=200, width_px=14)  # ink in [0, 1]
    canvas = np.zeros((280, 280), np.float32)
    canvas[40:40 + stroke.shape[0], 60:60 + stroke.shape[1]] = stroke[:240, :220]
    dark_on_white = np.repeat(((1 - canvas) * 255).astype(np.uint8)[:, :, None], 3, axis=2)
    white_on_black = 255 - dark_on_white
    photo = photo_digits.photograph(photo_digits.render(5, "plain", height=300, width_px=18),
                                    np.random.default_rng(0), gradient=0.3, noise=0.02)
    big = Image.fromarray((photo * 255).astype(np.uint8)).resize((4000, 3000), Image.BICUBIC)
    path = os.path.join(directory, "photo_12mp.jpg")
    big.save(path, quality=90)
    small = np.asarray(Image.fromarray((photo * 255).astype(np.uint8)).resize((280, 280), Image.BICUBIC))
    return {"drawing 280x280, dark on white": dark_on_white, "drawing 280x280, white on black": white_on_black,
            "photo 280x280 (the photo path: every step)": small,
            "12-megapixel JPEG (load_image + mnist_like)": path}


def run(module, x):
    return module.mnist_like(module.load_image(x) if isinstance(x, str) else x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, help="the commit to compare with")
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        before, cases = module_at(args.against, d), inputs(d)
        print(f"picture path: {args.against} ('before') against the working tree ('now'), {args.rounds} rounds")
        print("| input | before: median ms | now: median ms | before / now (median of pairs) | "
              "largest difference of the 28x28 results |")
        print("| --- | --- | --- | --- | --- |")
        for name, x in cases.items():
            for module in (before, digits):
                run(module, x)  # warm-up
            times = {before: [], digits: []}
            for r in range(args.rounds):
                for module in ((before, digits) if r % 2 == 0 else (digits, before)):
                    start = time.perf_counter()
                    run(module, x)
                    times[module].append(time.perf_counter() - start)
            b, n = np.array(times[before]) * 1e3, np.array(times[digits]) * 1e3
            difference = np.abs(run(before, x) - run(digits, x)).max()
            print(f"| {name} | {np.median(b):.1f} | {np.median(n):.1f} | {np.median(b / n):.1f}x | "
                  f"{difference:.3f} |")


if __name__ == "__main__":
    main()
