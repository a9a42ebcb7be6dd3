"""Image preprocessing as graph ops: whitening and random augmentation (Book §5.9).

Training images go through a random pipeline built from :data:`AUGMENTATIONS`
(the book's CIFAR-10 reader uses ``crop,flip_left_right,brightness,contrast``
followed by whitening); evaluation images through the deterministic one: a
central crop and whitening.

A known effect, worth seeing once: per-image whitening subtracts each image's
mean and divides by its standard deviation, so it cancels a random brightness
shift exactly, and a random contrast scaling all but the part that comes from
the three channels having different means (contrast scales each channel about
its own mean, whitening uses one mean for all). With whitening on, the
``brightness`` augmentation does nothing and ``contrast`` little: on a test
image the mean relative change between draws falls from 0.24 to 0.05
(``tests/test_preprocessing.py`` measures it).
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

#: Random augmentations, in the order they are applied.
AUGMENTATIONS = ("crop", "flip_left_right", "flip_up_down", "transpose", "brightness", "contrast",
                 "saturation", "hue")

#: The book's CIFAR-10 training pipeline (``cifar10_input.distorted_inputs``).
BOOK_CIFAR_AUGMENT = ("crop", "flip_left_right", "brightness", "contrast")


def whiten(image: tf.Tensor) -> tf.Tensor:
    """Per-image whitening: zero mean, unit variance (the book's ``per_image_whitening``).

    Args:
        image: float32 [height, width, channels] (or a batch [n, h, w, c]).

    Returns:
        float32 of the same shape, ``(x - mean) / max(std, 1 / sqrt(num_pixels))``.
    """
    return tf.image.per_image_standardization(image)


def _seed(seed: int | None, k: int) -> int | None:
    return None if seed is None else seed * 31 + k


def distort(image: tf.Tensor, augment: Sequence[str] = BOOK_CIFAR_AUGMENT, crop_size: int | None = 24,
            whitened: bool = True, seed: int | None = None, brightness_max_delta: float = 63.0,
            contrast_range: tuple = (0.2, 1.8), saturation_range: tuple = (0.5, 1.5),
            hue_max_delta: float = 0.1) -> tf.Tensor:
    """The random training pipeline for one image (Book §5.9, ``distorted_inputs``).

    Args:
        image: float32 [height, width, channels], pixel values 0-255.
        augment: names from :data:`AUGMENTATIONS`; each is applied at most once,
            in the order of that tuple whatever the order given.
        crop_size: side of the random crop (``crop``).
        whitened: finish with :func:`whiten`.
        seed: op-level seed base; with a graph-level seed it makes the random
            sequence reproducible.
        brightness_max_delta: the book's 63 (on the 0-255 scale).
        contrast_range: the book's (0.2, 1.8).
        saturation_range: random saturation factor range (3 channels only).
        hue_max_delta: random hue shift, in [0, 0.5] (3 channels only).

    Returns:
        float32 [crop_size, crop_size, channels] with ``crop``, else the input shape.
    """
    unknown = [a for a in augment if a not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation(s) {', '.join(unknown)}; choose from {', '.join(AUGMENTATIONS)}")
    wanted = set(augment)
    channels = image.shape[-1]
    if "crop" in wanted:
        image = tf.image.random_crop(image, [crop_size, crop_size, channels], seed=_seed(seed, 1))
    if "flip_left_right" in wanted:
        image = tf.image.random_flip_left_right(image, seed=_seed(seed, 2))
    if "flip_up_down" in wanted:
        image = tf.image.random_flip_up_down(image, seed=_seed(seed, 3))
    if "transpose" in wanted:
        coin = tf.random.uniform([], seed=_seed(seed, 4)) < 0.5
        image = tf.cond(coin, lambda: tf.image.transpose(image), lambda: image)
    if "brightness" in wanted:
        image = tf.image.random_brightness(image, max_delta=brightness_max_delta, seed=_seed(seed, 5))
    if "contrast" in wanted:
        image = tf.image.random_contrast(image, *contrast_range, seed=_seed(seed, 6))
    if "saturation" in wanted:
        if channels != 3:
            raise ValueError("saturation needs RGB images")
        image = tf.image.random_saturation(image, *saturation_range, seed=_seed(seed, 7))
    if "hue" in wanted:
        if channels != 3:
            raise ValueError("hue needs RGB images")
        # random_hue works on [0, 1] images.
        image = tf.image.random_hue(image / 255.0, hue_max_delta, seed=_seed(seed, 8)) * 255.0
    return whiten(image) if whitened else image


def eval_preprocess(image: tf.Tensor, crop_size: int | None = 24, whitened: bool = True) -> tf.Tensor:
    """The deterministic evaluation pipeline: central crop and whitening (Book §5.9, ``inputs``).

    Args:
        image: float32 [height, width, channels], pixel values 0-255.
        crop_size: side of the central crop; None keeps the full image.
        whitened: finish with :func:`whiten`.

    Returns:
        float32 [crop_size, crop_size, channels].
    """
    if crop_size is not None:
        image = tf.image.resize_with_crop_or_pad(image, crop_size, crop_size)
    return whiten(image) if whitened else image
