"""Data readers: IDX (MNIST, Fashion-MNIST), the bundled MNIST sample, CIFAR-10.

Every reader returns a :class:`Datasets`: ``train`` hands out mini-batches with
``next_batch(batch_size)`` (and ``seek`` for resuming), ``validation`` and
``test`` are evaluated in order with ``batches(batch_size)``.
"""

from typing import Any, NamedTuple

import numpy as np


class Datasets(NamedTuple):
    """The three splits of a data set, plus what was read (for the run's log).

    Attributes:
        train: the training stream (``next_batch``, ``seek``, ``num_examples``).
        validation: evaluated at display steps (``batches``, ``num_examples``).
        test: evaluated at the end (``batches``, ``num_examples``).
        source: where the data came from; has ``name`` and ``class_names``.
        data_dir: the directory the files were read from.
        note: one line for the reader (verified? which split choices?).
    """
    train: Any
    validation: Any
    test: Any
    source: Any
    data_dir: str
    note: str


def batches(images: np.ndarray, labels: np.ndarray, batch_size: int):
    """Yields ``(images, labels)`` slices of ``batch_size`` in stored order (views, no copies)."""
    for start in range(0, len(images), batch_size):
        yield images[start:start + batch_size], labels[start:start + batch_size]


#: The class names in Korean, for a page shown in Korean (the API and the programs keep the English names).
KOREAN_CLASS_NAMES = {
    "fashion_mnist": ("티셔츠/상의", "바지", "풀오버", "드레스", "코트", "샌들", "셔츠", "운동화", "가방", "앵클 부츠"),
    "cifar10": ("비행기", "자동차", "새", "고양이", "사슴", "개", "개구리", "말", "배", "트럭"),
}


def class_names(dataset: str, language: str = "en") -> list:
    """The ten class names of a data set (the ``--dataset`` names): MNIST's digits ``"0"``..``"9"``,
    Fashion-MNIST's clothes, CIFAR-10's objects, as the data set's readers name them; with ``language="ko"``,
    in Korean (:data:`KOREAN_CLASS_NAMES`; digits stay digits)."""
    if language == "ko" and dataset in KOREAN_CLASS_NAMES:
        return list(KOREAN_CLASS_NAMES[dataset])
    if dataset == "cifar10":
        from dlfund.data import cifar10

        return list(cifar10.CLASS_NAMES)
    from dlfund.data import mnist

    source = mnist.SOURCES.get(dataset, mnist.MNIST)
    return list(source.class_names)


def test_pictures(dataset: str, data_dir: str) -> tuple[np.ndarray, np.ndarray]:
    """The test set as the pictures it was made from, in file order: what a reader would save as files.

    Args:
        dataset: ``mnist``, ``fashion_mnist``, ``mnist_sample`` or ``cifar10``.
        data_dir: the directory the data set's files were read from (:attr:`Datasets.data_dir`).

    Returns:
        (uint8 images [n, 28, 28] or CIFAR-10's [n, 32, 32, 3], int64 labels [n]).

    Raises:
        DataError, DataUnavailable: the files are not there or are malformed (nothing is downloaded).
    """
    if dataset == "cifar10":
        import os

        from dlfund.data import cifar10

        images, labels = cifar10.read_cifar10_file(os.path.join(data_dir, cifar10.TEST_FILES[0]))
        return images, labels.astype(np.int64)
    from dlfund.data import mnist

    test = mnist.read_data_sets(data_dir, one_hot=False, dataset=dataset, validation_size=0, shuffle=False,
                                download_missing=False).test
    return (test.images.reshape(-1, 28, 28) * 255).round().astype(np.uint8), test.label_ids
