r"""How well ``chapter5.predict`` reads each family of pictures a reader may give it, as files.

    python scripts/digit_families.py logs/quickstart

Each picture is written to a file and read back the way ``chapter5.predict``
reads it (``dlfund.digits.load_image``, then ``dlfund.pictures.model_input``); the
network is the run's. One line per family, for docs/digits.md:

* MNIST's own test digits (the 1,000 of the bundled sample) as 28x28 PNG files,
  against ``chapter5.evaluate``'s accuracy on the same digits;
* JPEGs carrying each EXIF orientation (2-8): the photo-like digits stored turned
  or mirrored, and their upright copies (the same decoded pixels turned back, as
  PNG): how many are read exactly as their upright copy;
* light on dark: the photo-like digits inverted (chalk on a board), and MNIST
  digits drawn large in white on a dark-mode drawing app's grey (#121212);
* transparent: MNIST digits drawn large on a transparent background, in white,
  black and blue ink;
* the 400 photo-like digits and the 40 rendered printed digits of
  ``tests/photo_digits.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import photo_digits  # noqa: E402
import tensorflow as tf  # noqa: E402

import chapter5  # noqa: E402,F401  (quiet TensorFlow)
from chapter5 import from_flags, rundir  # noqa: E402
from dlfund import digits, pictures  # noqa: E402
from dlfund.data import mnist  # noqa: E402
from dlfund.errors import DataError  # noqa: E402


def read_all(paths: list, sess, g) -> tuple[np.ndarray, np.ndarray]:
    """(predicted digits, the 28x28 inputs) of files read as chapter5.predict reads them (-1: refused)."""
    inputs, ok = [], []
    for path in paths:
        try:
            inputs.append(pictures.model_input(path, digits.load_image(path), g.spec, False).reshape(784))
            ok.append(True)
        except DataError:
            inputs.append(np.zeros(784, np.float32))
            ok.append(False)
    inputs = np.stack(inputs)
    predicted = sess.run(g.output, {g.x: inputs}).argmax(1)
    return np.where(ok, predicted, -1), inputs


def write(directory: str, name: str, data: bytes) -> str:
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


png = photo_digits.png


def large(image28: np.ndarray, side: int = 280) -> np.ndarray:
    """An MNIST digit drawn large: [side, side] in [0, 1], smooth edges (bilinear)."""
    return np.clip(tf.image.resize(image28.reshape(28, 28, 1), [side, side]).numpy()[:, :, 0], 0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    args = parser.parse_args()
    fv = rundir.read_flags(rundir.flagfile(args.run_dir))
    g, sess, _ = from_flags.build_and_restore(fv, rundir.checkpoint_to_use(args.run_dir, ""))
    test = mnist.read_data_sets("", dataset="mnist_sample", one_hot=False).test
    images28, labels = test.images.reshape(-1, 28, 28), test.label_ids
    photos, photo_labels, _ = photo_digits.photo_set(images28, labels, 400)
    forty, forty_labels = photo_digits.rendered_forty()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        evaluate = (sess.run(g.output, {g.x: test.images}).argmax(1) == labels).mean()
        paths = [write(d, f"mnist_{i:04d}.png", png((im * 255).round().astype(np.uint8)[:, :, None]))
                 for i, im in enumerate(images28)]
        read, _ = read_all(paths, sess, g)
        rows.append(("MNIST's own test digits as 28x28 PNG files (1,000)", (read == labels).mean(),
                     f"chapter5.evaluate on the same digits: {evaluate:.3f}"))

        turned, upright, truth = [], [], []
        for i, photo in enumerate(photos[:70]):
            orientation = 2 + i % 7
            stored = np.ascontiguousarray(photo_digits.STORED[orientation](photo))
            turned.append(write(d, f"turned_{i:03d}.jpg", photo_digits.jpeg(stored, orientation, quality=90)))
            decoded = photo_digits.decoded_as_stored(open(turned[-1], "rb").read())
            viewer = photo_digits.VIEWER[orientation](decoded)  # what a viewer shows of the same pixels
            upright.append(write(d, f"upright_{i:03d}.png", png(np.ascontiguousarray(viewer))))
            truth.append(photo_labels[i])
        (read_turned, in_turned), (read_upright, in_upright) = read_all(turned, sess, g), read_all(upright, sess, g)
        same = np.all(np.abs(in_turned - in_upright) < 1e-6, axis=1)
        rows.append(("JPEGs with EXIF orientations 2-8 (70 photo-like digits, 10 each)",
                     (read_turned == np.array(truth)).mean(),
                     f"read exactly as their upright copies: {same.sum()}/{len(same)}; upright copies "
                     f"{(read_upright == np.array(truth)).mean():.3f}"))
        for fmt, extension in (("HEIF", "heic"), ("WEBP", "webp"), ("AVIF", "avif")):
            files = [write(d, f"turned_{i:03d}.{extension}", photo_digits.encode(
                np.ascontiguousarray(photo_digits.STORED[2 + i % 7](photo)), fmt, 2 + i % 7, quality=90))
                for i, photo in enumerate(photos[:70])]
            read, _ = read_all(files, sess, g)
            rows.append((f"the same 70 saved as {extension.upper()} with those orientations", (read == truth).mean(),
                         f"the same answer as their JPEG copy: {(read == read_turned).sum()}/70"))

        inverted = [write(d, f"chalk_{i:03d}.png", png(255 - p)) for i, p in enumerate(photos)]
        rows.append(("light on dark: the photo-like digits inverted (400)",
                     (read_all(inverted, sess, g)[0] == photo_labels).mean(), ""))
        dark_mode = []
        for i, im in enumerate(images28[:200]):
            grey = 18 + (255 - 18) * large(im)
            dark_mode.append(write(d, f"dark_{i:03d}.png", png(np.repeat(grey[:, :, None], 3, 2).round()
                                                               .astype(np.uint8))))
        rows.append(("light on dark: white on a dark-mode app's #121212 (200 MNIST test digits, 280x280)",
                     (read_all(dark_mode, sess, g)[0] == labels[:200]).mean(), ""))
        for ink_name, ink in (("white", (255, 255, 255)), ("black", (0, 0, 0)), ("blue", (30, 60, 200))):
            files = []
            for i, im in enumerate(images28[:200]):
                alpha = (large(im) * 255).round().astype(np.uint8)
                rgba = np.concatenate([np.broadcast_to(np.array(ink, np.uint8), (280, 280, 3)), alpha[:, :, None]],
                                      axis=2)
                files.append(write(d, f"alpha_{ink_name}_{i:03d}.png", png(rgba)))
            rows.append((f"transparent background, {ink_name} ink (200 MNIST test digits, 280x280 RGBA)",
                         (read_all(files, sess, g)[0] == labels[:200]).mean(), ""))

        files = [write(d, f"photo_{i:03d}.png", png(p)) for i, p in enumerate(photos)]
        rows.append(("the photo-like digits (400)", (read_all(files, sess, g)[0] == photo_labels).mean(), ""))
        files = [write(d, f"printed_{i:02d}.png", png(p)) for i, p in enumerate(forty)]
        right = (read_all(files, sess, g)[0] == forty_labels).sum()
        rows.append(("rendered printed digits, dark on light (40)", right / 40, f"{right}/40"))
    sess.close()
    print(f"model: {args.run_dir}")
    print("| input family | accuracy | |")
    print("| --- | --- | --- |")
    for name, accuracy, note in rows:
        print(f"| {name} | {accuracy:.3f} | {note} |")


if __name__ == "__main__":
    main()
