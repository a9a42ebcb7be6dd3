"""Preprocessing (Book §5.9): shapes, dtypes, whitening statistics, reproducibility, the whitening effect."""

import numpy as np
import pytest
import tensorflow as tf

from dlfund import preprocessing

v1 = tf.compat.v1


def _run(build, seed=0):
    with tf.Graph().as_default():
        v1.set_random_seed(seed)
        out = build()
        with v1.Session() as s:
            return s.run(out)


def _image(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (32, 32, 3)).astype(np.float32)


def test_whitened_images_have_zero_mean_unit_std():
    out = _run(lambda: preprocessing.whiten(tf.constant(_image() * 0.3 + 40)))
    assert out.dtype == np.float32 and out.shape == (32, 32, 3)
    assert abs(out.mean()) < 1e-5 and out.std() == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("augment", [("crop",), ("crop", "flip_left_right", "brightness", "contrast"),
                                     ("crop", "flip_up_down", "transpose", "saturation", "hue")])
def test_distort_shapes_and_dtypes(augment):
    out = _run(lambda: preprocessing.distort(tf.constant(_image()), augment, crop_size=24, seed=1))
    assert out.shape == (24, 24, 3) and out.dtype == np.float32
    assert abs(out.mean()) < 1e-4


def test_eval_pipeline_is_the_central_crop_whitened():
    image = _image(3)
    out = _run(lambda: preprocessing.eval_preprocess(tf.constant(image), 24))
    crop = image[4:28, 4:28]
    expected = (crop - crop.mean()) / max(crop.std(), 1 / np.sqrt(crop.size))
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_random_ops_are_reproducible_under_a_seed_and_vary_without():
    def build():
        return [preprocessing.distort(tf.constant(_image()), preprocessing.BOOK_CIFAR_AUGMENT, 24) for _ in range(4)]

    a, b = _run(build, seed=5), _run(build, seed=5)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(a[0], other) for other in a[1:])  # four draws are not all the same


def test_crop_is_a_window_of_the_image_and_flip_mirrors():
    image = _image(4)
    crop = _run(lambda: preprocessing.distort(tf.constant(image), ("crop",), 24, whitened=False, seed=2))
    windows = [image[i:i + 24, j:j + 24] for i in range(9) for j in range(9)]
    assert any(np.array_equal(crop, w) for w in windows)
    flips = _run(lambda: [preprocessing.distort(tf.constant(image), ("flip_left_right",), whitened=False, seed=3)
                          for _ in range(16)])
    assert all(np.array_equal(f, image) or np.array_equal(f, image[:, ::-1]) for f in flips)
    assert any(np.array_equal(f, image[:, ::-1]) for f in flips)


def test_whitening_largely_undoes_brightness_and_contrast():
    image = _image(6)

    def spread(augment, whitened):
        outs = _run(lambda: [preprocessing.distort(tf.constant(image), augment, whitened=whitened, seed=None)
                             for _ in range(8)], seed=11)
        return np.mean([np.abs(o - outs[0]).mean() / (np.abs(outs[0]).mean() + 1e-8) for o in outs[1:]])

    # Brightness is a constant shift: whitening removes it exactly.
    assert spread(("brightness",), whitened=False) > 0.1
    assert spread(("brightness",), whitened=True) < 1e-4
    # Contrast scales each channel about its own mean: whitening removes the common scale
    # and leaves only the shifts between channel means (measured: 0.24 -> 0.05).
    raw = spread(("contrast",), whitened=False)
    assert raw > 0.1 and spread(("contrast",), whitened=True) < raw / 3
    # Together, most of the change is gone.
    assert spread(("brightness", "contrast"), whitened=True) < spread(("brightness", "contrast"), whitened=False) / 3


def test_unknown_augmentation_is_refused():
    with pytest.raises(ValueError, match="zoom"):
        _run(lambda: preprocessing.distort(tf.constant(_image()), ("zoom",)))
