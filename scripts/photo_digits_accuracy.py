"""Measures how well a trained MNIST model reads photo-like digits, with each preprocessing step left out in turn.

    python scripts/photo_digits_accuracy.py logs/quickstart [--photos=400]

The digits are made by ``tests/photo_digits.py``: 40 plain rendered digits (4 fonts x 10, dark on light,
off-centre, non-square) and a mixed set of rendered and handwritten (MNIST test) digits photographed with
uneven light, blur, noise, JPEG, coloured ink and paper, borders and frames, thin and thick strokes. For
each variant of ``dlfund.digits.mnist_like`` it prints the accuracy on both sets, and per condition on the
mixed one, and the stroke-width step alone on very thin and very thick strokes. docs/digits.md reports
its output.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import photo_digits  # noqa: E402

import chapter5  # noqa: E402,F401  (quiet TensorFlow)
from chapter5 import from_flags, rundir  # noqa: E402
from dlfund import digits  # noqa: E402
from dlfund.data import mnist  # noqa: E402
from dlfund.errors import DataError  # noqa: E402


def predict(sess, g, images, steps):
    inputs = []
    for image in images:
        try:
            inputs.append(digits.mnist_like(image, steps=steps).reshape(784))
        except DataError:
            inputs.append(np.zeros(784, np.float32))  # counted as wrong unless it happens to say the label
    return sess.run(g.output, {g.x: np.stack(inputs)}).argmax(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--photos", type=int, default=400)
    args = parser.parse_args()
    fv = rundir.read_flags(rundir.flagfile(args.run_dir))
    g, sess, _ = from_flags.build_and_restore(fv, rundir.checkpoint_to_use(args.run_dir, ""))
    test = mnist.read_data_sets("", dataset="mnist_sample", one_hot=False).test
    forty, forty_labels = photo_digits.rendered_forty()
    photos, labels, notes = photo_digits.photo_set(test.images.reshape(-1, 28, 28), test.label_ids, args.photos)
    variants = [("all steps", digits.STEPS)] + [(f"without {s}", tuple(t for t in digits.STEPS if t != s))
                                                for s in digits.STEPS] + [("no step (crop, resize, centre)", ())]
    # The conditions each step is for: accuracy on the photo-like digits that have them.
    subsets = {
        "uneven light": [n["gradient"] >= 0.5 for n in notes],
        "noise 0.05": [n["noise"] == 0.05 for n in notes],
        "JPEG q40": [n["jpeg"] == 40 for n in notes],
        "thin strokes": [n["stroke"] <= 0.35 for n in notes],
        "thick strokes": [n["stroke"] >= 2.4 for n in notes],
        "coloured ink": [n["ink_colour"] not in ("black", "pencil") for n in notes],
        "orange on yellow": [n["ink_colour"] == "orange" and n["paper"] in ("yellow", "cream") for n in notes],
        "border": [n["border"] for n in notes],
        "frame": [n["frame"] for n in notes],
        "chalk": [n["light_on_dark"] for n in notes],
    }
    print(f"model: {args.run_dir}; {len(forty)} rendered digits; {len(photos)} photo-like digits")
    print("| preprocessing | 40 rendered | photo-like | " + " | ".join(subsets) + " |")
    print("| --- " * (3 + len(subsets)) + "|")
    counts = " | ".join(f"({sum(v)})" for v in subsets.values())
    print(f"| (images) | ({len(forty)}) | ({len(photos)}) | {counts} |")
    for name, steps in variants:
        right_forty = predict(sess, g, forty, steps) == forty_labels
        right = predict(sess, g, photos, steps) == labels
        cells = " | ".join(f"{right[np.array(m)].mean():.2f}" for m in subsets.values())
        print(f"| {name} | {right_forty.sum()}/{len(forty)} | {right.mean():.3f} | {cells} |", flush=True)
    print("\nstroke width alone: the 40 fonts' digits, 200 pixels high, clean, with and without stroke_width")
    rng = np.random.default_rng(3)
    no_width = tuple(t for t in digits.STEPS if t != "stroke_width")
    for width in (1.5, 3, 14, 38):
        images = [photo_digits.photograph(photo_digits.render(d, font, 200, width), rng)
                  for font in photo_digits.FONTS for d in range(10)]
        truth = np.tile(np.arange(10), len(photo_digits.FONTS))
        right = [(predict(sess, g, images, steps) == truth).sum() for steps in (digits.STEPS, no_width)]
        print(f"  {width} px strokes ({width / 200:.1%} of the height): {right[0]}/40 with, {right[1]}/40 without")
    sess.close()


if __name__ == "__main__":
    main()
