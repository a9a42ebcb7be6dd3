r"""Predicts the digit in a reader's own image files with a trained run.

    python -m chapter5.predict --logdir=logs/quickstart my_digit.png [more.jpg ...] [a_directory/]

Each image (PNG, JPEG, GIF or BMP; a photo or scan of a digit on paper works)
is turned into an MNIST-style 28x28 input (see ``dlfund/digits.py``: grayscale,
invert a light background, crop to the ink, fit into 20x20, centre by centre of
mass) and the ten class probabilities are printed as bars. ``--save_preprocessed``
writes the 28x28 inputs the network saw; ``--plot`` draws each image beside its
probabilities (needs matplotlib: ``pip install -e ".[plot]"``).

A file that cannot be used gets a one-line error and the others still run; the
exit code is 1 if any file failed.
"""

from __future__ import annotations

import os
import sys

from chapter5 import _cli
from chapter5 import common
from absl import flags

import numpy as np
import tensorflow as tf

from dlfund import digits
from dlfund.errors import DataError, DlfundError
from dlfund.models import get_model

FLAGS = flags.FLAGS

common.define_model_flags(FLAGS)
common.define_data_flags(FLAGS)
flags.adopt_module_key_flags(common)  # list the model and data flags in --helpshort too
flags.DEFINE_string("logdir", None, "The run directory of a trained model (logs/<run_name>).")
flags.DEFINE_string("checkpoint", "", "Checkpoint path prefix instead of the run's latest.")
flags.DEFINE_string("save_preprocessed", "", "Directory to write each 28x28 network input as PNG.")
flags.DEFINE_string("plot", "", "PNG file for a figure of the images beside their probability bars "
                    "(needs matplotlib).")
flags.mark_flag_as_required("logdir")

BAR_WIDTH = 40


def bar_chart(probabilities: np.ndarray, class_names) -> str:
    lines = []
    best = int(probabilities.argmax())
    for i, p in enumerate(probabilities):
        mark = " <" if i == best else ""
        lines.append(f"  {class_names[i]:>3} |{'#' * int(round(p * BAR_WIDTH)):<{BAR_WIDTH}}| {p:.3f}{mark}")
    return "\n".join(lines)


def plot(path: str, results: list, class_names) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 3, figsize=(9, 2.6 * len(results)), squeeze=False)
    for row, (name, original, prepared, probs) in zip(axes, results):
        row[0].imshow(original, cmap="gray", vmin=0, vmax=1)
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


def main(argv: list) -> int:
    paths = argv[1:]
    if not paths:
        return _cli.fail("give one or more image files or directories after the flags")
    if FLAGS.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return _cli.fail('--plot needs matplotlib, which is not installed: pip install -e ".[plot]" '
                             "(or pip install matplotlib)")
    common.apply_run_flags(FLAGS, FLAGS.logdir)
    common.resolve_batch_norm(FLAGS)
    if get_model(FLAGS.model).input_shape != (784,):
        return _cli.fail(f"{FLAGS.logdir} holds a {FLAGS.model} model; predict reads digits for MNIST-format models")
    images = digits.list_images(paths)
    if not images:
        return _cli.fail(f"no PNG, JPEG, GIF or BMP files in {', '.join(paths)}")
    g, sess, path = common.build_and_restore(FLAGS, FLAGS.logdir, FLAGS.checkpoint)
    from dlfund.data.mnist import SOURCES
    class_names = SOURCES[FLAGS.dataset].class_names if FLAGS.dataset in SOURCES else [str(i) for i in range(10)]
    if FLAGS.save_preprocessed:
        os.makedirs(FLAGS.save_preprocessed, exist_ok=True)
    failures, results = 0, []
    # Not "with sess:": that would make the model's graph the default and turn the eager
    # image decoding in dlfund.digits into graph building.
    try:
        for name in images:
            try:
                gray = digits.load_grayscale(name)
                try:
                    prepared = digits.mnist_like(gray)
                except DataError as e:
                    raise DataError(f"{name}: {e}") from None
            except DlfundError as e:
                print(f"error: {e}", file=sys.stderr, flush=True)
                failures += 1
                continue
            probs = sess.run(g.probabilities, {g.x: prepared.reshape(1, 784)})[0]
            best = int(probs.argmax())
            print(f"{name}: predicted {class_names[best]} (probability {probs[best]:.3f})")
            print(bar_chart(probs, class_names), flush=True)
            if FLAGS.save_preprocessed:
                out = os.path.join(FLAGS.save_preprocessed, os.path.splitext(os.path.basename(name))[0] + "_28x28.png")
                png = tf.io.encode_png((prepared[:, :, None] * 255).round().astype(np.uint8)).numpy()
                with open(out, "wb") as f:
                    f.write(png)
            results.append((name, gray, prepared, probs))
    finally:
        sess.close()
    if FLAGS.plot and results:
        plot(FLAGS.plot, results, class_names)
        print(f"Figure: {FLAGS.plot}")
    if failures:
        print(f"{failures} of {len(images)} files could not be used.", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    _cli.run(main)
