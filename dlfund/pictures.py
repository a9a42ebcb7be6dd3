"""A picture's bytes turned into the input a given network expects (Book §5.8 for MNIST, §5.9 for CIFAR-10).

One path for every reader of pictures: ``chapter5.predict`` (files),
``chapter5.draw`` (the drawing page and its API) and the notebooks.

* An MNIST-format network (input 784 pixels: ``mnist_conv``, ``lenet5``,
  ``mlp`` and their ``_bn`` variants) gets the digit in MNIST's form, 28x28 in
  [0, 1] (:func:`dlfund.digits.mnist_like`).
* A CIFAR-10 network gets the picture's central square reduced to 32x32, then
  the evaluation pipeline (central crop, per-image whitening where the run was
  trained with it): :func:`dlfund.data.cifar10.picture_input`.

:data:`MAX_PICTURE_BYTES` is the one size limit for a picture, a file or a
request body alike.
"""

from __future__ import annotations

import numpy as np

from dlfund import digits
from dlfund.errors import DataError
from dlfund.models import ModelSpec

#: The largest picture read, as a file or as a request's body (a phone photo is a few MB).
MAX_PICTURE_BYTES = digits.MAX_FILE_BYTES


def reads_digits(spec: ModelSpec) -> bool:
    """Whether the network takes MNIST's 28x28 grey pictures (so a drawn digit is an input for it)."""
    return spec.input_shape == (784,)


def is_whitened(spec: ModelSpec, whiten: bool | None) -> bool:
    """Whether the network's input is whitened per image: a CIFAR-10 network trained with ``--whiten``.

    Args:
        spec: the network.
        whiten: the run's saved ``--whiten``; None when the run's flags are not
            known (a bare checkpoint), which takes the listing's default (True).
    """
    return not reads_digits(spec) and (True if whiten is None else bool(whiten))


def model_input(name: str, image: np.ndarray, spec: ModelSpec, whitened: bool, trace: dict | None = None
                ) -> np.ndarray:
    """The network input of one decoded picture; errors name it.

    Args:
        name: what messages call the picture (a path, or "the picture sent").
        image: RGB float [h, w, 3] in [0, 1] (:func:`dlfund.digits.decode_image`).
        spec: the network.
        whitened: :func:`is_whitened` for the run.
        trace: for an MNIST-format network, a dict that :func:`dlfund.digits.mnist_like` fills with its
            steps (the ink's box, the crop, the fit, where the input lies in the picture).

    Returns:
        An MNIST-format network's float32 [28, 28] in [0, 1], or a CIFAR
        network's float32 [24, 24, 3].

    Raises:
        DataError: no digit found in the picture; the message starts with ``name``.
    """
    if not reads_digits(spec):
        from dlfund.data import cifar10  # TensorFlow's ops: only where a CIFAR network reads

        return cifar10.picture_input(digits.to_rgb(image), whitened, spec.input_shape[0])
    try:
        return digits.mnist_like(image, trace=trace)
    except DataError as e:
        raise DataError(f"{name}: {e}") from None


def prepare_picture(data: bytes, name: str, spec: ModelSpec, whitened: bool, trace: dict | None = None
                    ) -> np.ndarray:
    """A picture file's bytes as the network's input (:func:`dlfund.digits.decode_image`, then :func:`model_input`).

    Raises:
        DataError: not a picture, damaged, too large, or blank; the message starts with ``name``.
    """
    return model_input(name, digits.decode_image(data, name), spec, whitened, trace)


def feed(image: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """One prepared input as a batch of one for the ``x`` placeholder: float32 [1, *spec.input_shape]."""
    return np.asarray(image, np.float32).reshape(1, *spec.input_shape)
