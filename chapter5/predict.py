r"""Predicts the class of a reader's own pictures with a trained run (a digit, a garment, a CIFAR-10 object).

    python -m chapter5.predict --logdir=logs --run_name=quickstart my_digit.png [more.jpg ...] [a_directory/]

Each image (PNG, JPEG, GIF, BMP, WebP, HEIC or AVIF; a phone photo or scan of a digit on paper works)
is turned into an MNIST-style 28x28 input (see ``dlfund/digits.py``: turned as
its EXIF orientation says; the paper estimated and mapped to 0 whatever its
colour and lighting, the ink stretched to 1, borders and frames dropped,
strokes brought to MNIST's width, fitted into 20x20 and centred by centre of
mass; a picture already in MNIST's form, such as MNIST's own digits saved as
files, taken as it is) and the ten class probabilities are printed as bars. ``--save_preprocessed``
writes the 28x28 inputs the network saw; ``--plot`` draws each image beside its
probabilities (needs matplotlib: ``pip install -e ".[plot]"``).

A file that cannot be used gets a one-line error and the others still run; the
exit code is 1 if any file failed.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import tensorflow as tf
from absl import flags

from chapter5 import _cli, flag_defs, from_flags, rundir
from dlfund import analysis, digits, pictures
from dlfund import data as datasets
from dlfund.errors import DlfundError


def define_flags(fv: flags.FlagValues) -> None:
    flag_defs.define_trained_model_flags(fv, data_flags=("dataset",))
    d = dict(flag_values=fv)
    flags.DEFINE_string("save_preprocessed", "", "Directory to write each 28x28 network input as PNG.", **d)
    flags.DEFINE_string("plot", "", "PNG file for a figure of the images beside their probability bars "
                        "(needs matplotlib).", **d)


BAR_WIDTH = 40


def bar_chart(probabilities: np.ndarray, class_names) -> str:
    """One bar per class, the names right-aligned in a column as wide as the longest (as in chapter5.evaluate)."""
    lines = []
    best = int(probabilities.argmax())
    width = analysis.name_width(class_names)
    for i, p in enumerate(probabilities):
        mark = " <" if i == best else ""
        lines.append(f"  {class_names[i]:>{width}} |{'#' * int(round(p * BAR_WIDTH)):<{BAR_WIDTH}}| {p:.3f}{mark}")
    return "\n".join(lines)


def plot(path: str, results: list, class_names) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 3, figsize=(9, 2.6 * len(results)), squeeze=False)
    for row, (name, original, prepared, probs) in zip(axes, results, strict=True):
        row[0].imshow(original, vmin=0, vmax=1)
        row[0].set_title(os.path.basename(name), fontsize=9)
        row[1].imshow(prepared, cmap="gray", vmin=0, vmax=1)
        row[1].set_title("network input (28x28)", fontsize=9)
        row[2].barh(range(len(probs)), probs, color=["tab:green" if i == probs.argmax() else "tab:gray"
                                                     for i in range(len(probs))])
        row[2].set_yticks(range(len(probs)), [str(c) for c in class_names])
        row[2].invert_yaxis()
        row[2].set_xlim(0, 1)
        row[2].set_title(f"predicted {class_names[int(probs.argmax())]} ({probs.max():.2f})", fontsize=9)
        for ax in row[:2]:
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list, fv: flags.FlagValues) -> int:
    paths = argv[1:]
    if not paths:
        raise _cli.UsageError("give one or more image files or directories after the flags")
    if fv.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise _cli.UsageError('--plot needs matplotlib, which is not installed: pip install -e ".[plot]" '
                                  "(or pip install matplotlib)") from None
    run_dir, saved = rundir.trained_model_dir(fv)
    images = digits.list_images(paths)
    if not images:
        raise _cli.UsageError(f"no {digits.FORMATS} files in {', '.join(paths)}")
    g, sess, _ = from_flags.build_and_restore(fv, rundir.checkpoint_to_use(run_dir, fv.checkpoint))
    names = datasets.class_names(fv.dataset)
    whitened = pictures.is_whitened(g.spec, saved.whiten if saved is not None else None)
    if fv.save_preprocessed:
        os.makedirs(fv.save_preprocessed, exist_ok=True)
    failures, results = 0, []
    try:
        for name in images:
            try:
                image = digits.load_image(name)
                prepared = pictures.model_input(name, image, g.spec, whitened)
            except DlfundError as e:
                print(f"error: {e}", file=sys.stderr, flush=True)
                failures += 1
                continue
            probs = sess.run(g.probabilities, {g.x: pictures.feed(prepared, g.spec)})[0]
            best = int(probs.argmax())
            print(f"{name}: predicted {names[best]} (probability {probs[best]:.3f})")
            print(bar_chart(probs, names), flush=True)
            if fv.save_preprocessed and prepared.ndim == 2:
                save_png(os.path.join(fv.save_preprocessed, os.path.splitext(os.path.basename(name))[0] + "_28x28.png"),
                         prepared)
            results.append((name, image, prepared, probs))
    finally:
        sess.close()
    if fv.plot and results:
        plot(fv.plot, results, names)
        print(f"Figure: {fv.plot}")
    if failures:
        print(f"{failures} of {len(images)} files could not be used.", file=sys.stderr)
    return 1 if failures else 0


def save_png(path: str, prepared: np.ndarray) -> None:
    with open(path, "wb") as f:
        f.write(tf.io.encode_png((prepared[:, :, None] * 255).round().astype(np.uint8)).numpy())


if __name__ == "__main__":
    _cli.run(define_flags, main)
