"""MNIST-format data sets, read like the book's ``input_data.read_data_sets`` (Book §3, §5.8).

``read_data_sets(train_dir, one_hot=True)`` returns ``train``, ``validation`` and
``test`` :class:`DataSet` objects whose ``images`` are float32 [N, 784] in [0, 1]
and whose ``labels`` are one-hot float32 [N, 10]; ``next_batch(batch_size)``
hands out mini-batches. The validation set is the first ``validation_size``
training images (5,000 for MNIST), as in the book.

How the batches are drawn differs from the book's reader (``input_data.py``,
errata E13): that one visits the first epoch in file order and reshuffles from
the second on, with NumPy's global random state; and a batch that would run
past the end of an epoch is not taken from it: the remaining examples are
skipped, the set is reshuffled and the batch starts the new epoch. Here every
epoch, the first included, has its own order drawn from ``(seed, epoch)``, so
a resumed run sees the batches an uninterrupted one would; and a batch that
runs past the end takes the rest of the epoch and then the start of the next,
so no example is skipped. With the book's sizes (55,000 images, batches of
100) no batch runs past an epoch's end, and only the first epoch's order differs
(``first_epoch_in_order=True`` keeps that one too).

Three data sets are known:

* ``mnist``: the four official IDX files, downloaded from mirrors and verified
  against their published SHA-256 when missing;
* ``fashion_mnist``: Zalando's Fashion-MNIST, same file names and format;
* ``mnist_sample``: 5,000 real MNIST digits shipped inside this package (see
  ``dlfund/data/mnist_sample/README.md``), so everything runs offline.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
from collections.abc import Callable

import numpy as np

from dlfund.data import Datasets, batches, download, idx
from dlfund.errors import DataError, DataUnavailable, DownloadError

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

SAMPLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mnist_sample")


@dataclasses.dataclass(frozen=True)
class IdxSource:
    """Where an MNIST-format data set comes from and how to recognise it.

    Attributes:
        name: data set name, as given to ``--dataset``.
        urls: mirror base URLs, tried in order.
        download_checksums: file name -> (algorithm, hex digest) of the
            published compressed file, checked on every download.
        content_sha256: file name -> SHA-256 of the uncompressed content, used to
            recognise a local copy that was recompressed (e.g. Debian's).
        validation_size: how many leading training images form the validation set.
        class_names: the ten label names.
        short_names: the same, short enough for table columns.
    """
    name: str
    urls: tuple[str, ...]
    download_checksums: dict
    content_sha256: dict
    validation_size: int
    class_names: tuple[str, ...]
    short_names: tuple[str, ...] = ()


MNIST = IdxSource(
    name="mnist",
    urls=("https://storage.googleapis.com/cvdf-datasets/mnist/",
          "https://ossci-datasets.s3.amazonaws.com/mnist/"),
    download_checksums={
        TRAIN_IMAGES: ("sha256", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        TRAIN_LABELS: ("sha256", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        TEST_IMAGES: ("sha256", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        TEST_LABELS: ("sha256", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    },
    content_sha256={},
    validation_size=5000,
    class_names=tuple(str(d) for d in range(10)),
)

FASHION_MNIST = IdxSource(
    name="fashion_mnist",
    urls=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    download_checksums={
        TRAIN_IMAGES: ("md5", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        TRAIN_LABELS: ("md5", "25c81989df183df01b3e8a0aad5dffbe"),
        TEST_IMAGES: ("md5", "bef4ecab320f06d8554ea6380940ec79"),
        TEST_LABELS: ("md5", "bb300cfdad3c16e7a12a480ee83cd310"),
    },
    content_sha256={
        TRAIN_IMAGES: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        TRAIN_LABELS: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        TEST_IMAGES: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        TEST_LABELS: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    validation_size=5000,
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    short_names=("top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"),
)

MNIST_SAMPLE = IdxSource(
    name="mnist_sample",
    urls=(),
    download_checksums={},
    content_sha256={},
    validation_size=500,
    class_names=MNIST.class_names,
)

SOURCES = {s.name: s for s in (MNIST, FASHION_MNIST, MNIST_SAMPLE)}


def _permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    # One generator per (seed, epoch): the order of epoch e does not depend on
    # how many batches were drawn before, so a resumed run sees the same batches.
    return np.random.default_rng([seed, epoch]).permutation(n)


class DataSet:
    """A labelled image set that hands out mini-batches (the book's ``mnist.train``).

    Attributes:
        images: float32 [N, rows * cols], pixel values scaled to [0, 1].
        labels: float32 one-hot [N, num_classes] if ``one_hot`` else int64 [N].
        label_ids: int64 [N], the class index of every example.
        num_examples: N.
        epochs_completed: passes over the data finished by ``next_batch``.
        image_shape: (rows, cols) of one image.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, one_hot: bool = True,
                 num_classes: int = 10, shuffle: bool = True, sort_by_label: bool = False,
                 seed: int = 0, first_epoch_in_order: bool = False) -> None:
        """Builds the set from uint8 images [N, rows, cols] and integer labels [N].

        Args:
            images: uint8 [N, rows, cols] (or float already in [0, 1], [N, D]).
            labels: integer class indices [N].
            one_hot: give labels as one-hot float32 rows (the book's choice).
            num_classes: number of classes for the one-hot encoding.
            shuffle: draw a new random order every epoch; if False the stored
                order is kept.
            sort_by_label: visit the examples sorted by class every epoch (the
                experiment ``chapter5.compare --suite=shuffle``); overrides ``shuffle``.
            seed: seed of the per-epoch orders.
            first_epoch_in_order: with ``shuffle``, visit the first epoch in
                stored order and shuffle from the second, as the book's reader
                does (errata E13).
        """
        images = np.asarray(images)
        labels = np.asarray(labels)
        if images.shape[0] != labels.shape[0]:
            raise DataError(f"{images.shape[0]} images but {labels.shape[0]} labels")
        self.image_shape = tuple(images.shape[1:]) if images.ndim == 3 else (images.shape[1],)
        pixels = int(np.prod(images.shape[1:]))  # not -1: an empty set (validation_size=0) has no size to infer
        if images.dtype == np.uint8:
            # Scale once here, so a mini-batch is a plain row gather with no arithmetic.
            flat = images.reshape(images.shape[0], pixels).astype(np.float32)
            flat *= np.float32(1.0 / 255.0)
        else:
            flat = np.ascontiguousarray(images.reshape(images.shape[0], pixels), dtype=np.float32)
        self.images = flat
        self.label_ids = labels.astype(np.int64)
        if self.label_ids.size and (self.label_ids.min() < 0 or self.label_ids.max() >= num_classes):
            raise DataError(f"labels must lie in [0, {num_classes}), "
                            f"found {self.label_ids.min()}..{self.label_ids.max()}")
        if one_hot:
            self.labels = np.eye(num_classes, dtype=np.float32)[self.label_ids]
        else:
            self.labels = self.label_ids
        self.num_examples = int(flat.shape[0])
        self.shuffle = shuffle
        self.sort_by_label = sort_by_label
        self.seed = seed
        self.first_epoch_in_order = first_epoch_in_order
        self.epochs_completed = 0
        self._index_in_epoch = 0
        self._order = self._order_for(0)

    def _order_for(self, epoch: int) -> np.ndarray | None:
        if self.sort_by_label:
            return np.argsort(self.label_ids, kind="stable")
        if self.shuffle and not (self.first_epoch_in_order and epoch == 0):
            return _permutation(self.num_examples, self.seed, epoch)
        return None  # stored order: batches are zero-copy slices

    def _take(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        if self._order is None:
            return self.images[start:end], self.labels[start:end]
        rows = self._order[start:end]
        return self.images[rows], self.labels[rows]

    def seek(self, examples_consumed: int) -> None:
        """Positions the stream as if ``examples_consumed`` examples had been drawn.

        A resumed run calls this with ``global_step * batch_size`` so that it
        continues with exactly the batches an uninterrupted run would have seen.
        """
        if self.num_examples == 0:
            return
        self.epochs_completed, self._index_in_epoch = divmod(int(examples_consumed), self.num_examples)
        self._order = self._order_for(self.epochs_completed)

    def next_batch(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """Returns the next ``batch_size`` examples (Book §3: ``mnist.train.next_batch``).

        A batch that runs past the end of an epoch takes the rest of this epoch
        and the start of the next (newly ordered) one; the book's reader skips
        the rest instead (see the module docstring).

        Args:
            batch_size: number of examples, at most ``num_examples``.

        Returns:
            (images [batch_size, D] float32, labels [batch_size, 10] or [batch_size]).
        """
        if not 0 < batch_size <= self.num_examples:
            raise ValueError(f"batch_size must be in 1..{self.num_examples}, got {batch_size}")
        start = self._index_in_epoch
        if start + batch_size <= self.num_examples:
            self._index_in_epoch += batch_size
            return self._take(start, start + batch_size)
        rest_images, rest_labels = self._take(start, self.num_examples)
        self.epochs_completed += 1
        self._order = self._order_for(self.epochs_completed)
        self._index_in_epoch = batch_size - rest_images.shape[0]
        new_images, new_labels = self._take(0, self._index_in_epoch)
        return (np.concatenate([rest_images, new_images]), np.concatenate([rest_labels, new_labels]))

    def batches(self, batch_size: int):
        """Yields the whole set once, in stored order, in batches (for evaluation)."""
        return batches(self.images, self.labels, batch_size)


def _verify_note(source: IdxSource, paths: dict) -> str:
    """Says whether local files are the official ones (format was already checked)."""
    if source.name == MNIST_SAMPLE.name:
        return "bundled MNIST sample (dlfund/data/mnist_sample)"
    unverified = []
    for name, path in paths.items():
        algo, digest = source.download_checksums.get(name, ("sha256", None))
        if digest and download.file_digest(path, algo) == digest:
            continue
        content = source.content_sha256.get(name)
        if content:
            with gzip.open(path, "rb") as f:
                if hashlib.sha256(f.read()).hexdigest() == content:
                    continue
        unverified.append(name)
    if not unverified:
        return f"official {source.name} files (checksums verified)"
    return (f"note: {', '.join(unverified)} in {os.path.dirname(next(iter(paths.values())))} "
            f"are valid IDX files but not byte-identical to the official {source.name} release")


def unavailable(source: IdxSource, data_dir: str, missing: list, reason: str | None) -> DataUnavailable:
    """The error for a data set whose files are missing and were not (``reason`` None) or could not be downloaded."""
    problem = (f"The {source.name} files {', '.join(missing)} are not in {data_dir} "
               + ("(downloading is off)" if reason is None else
                  f"and could not be downloaded ({reason}). Mirrors tried: {', '.join(source.urls)}"))
    remedy = (f"Either copy the four files ({', '.join(FILES)}) into {data_dir} (uncompressed or gzipped IDX "
              "both work)")
    return DataUnavailable(problem, source.name, data_dir, missing, reason, remedy)


def _local_files(source: IdxSource, data_dir: str, download_missing: bool,
                 progress: Callable[[str, int, int | None], None] | None) -> dict:
    """``{file name: local path}`` of the four files (uncompressed copies preferred), downloading missing ones."""
    paths = {}
    for name in FILES:
        plain = os.path.join(data_dir, name[:-3])
        paths[name] = plain if os.path.exists(plain) else os.path.join(data_dir, name)
    missing = [n for n, p in paths.items() if not os.path.exists(p)]
    if missing and source is MNIST_SAMPLE:
        raise DataError(f"missing {', '.join(missing)} in {data_dir}: the package's bundled sample is incomplete; "
                        "reinstall dlfund")
    if missing and not download_missing:
        raise unavailable(source, data_dir, missing, None)
    for name in missing:
        cb = (lambda done, total, _n=name: progress(_n, done, total)) if progress else None
        try:
            paths[name] = download.maybe_download(name, data_dir, source.urls, source.download_checksums[name],
                                                  progress=cb)
        except DownloadError as e:
            raise unavailable(source, data_dir, missing, str(e)) from None
    return paths


def _read_checked(paths: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reads the four files; checks counts, label range and image sizes agree. Raises DataError naming files."""
    train_images = idx.read_idx_images(paths[TRAIN_IMAGES])
    train_labels = idx.read_idx_labels(paths[TRAIN_LABELS])
    test_images = idx.read_idx_images(paths[TEST_IMAGES])
    test_labels = idx.read_idx_labels(paths[TEST_LABELS])
    for images_name, labels_name, images, labels in (
            (TRAIN_IMAGES, TRAIN_LABELS, train_images, train_labels),
            (TEST_IMAGES, TEST_LABELS, test_images, test_labels)):
        if images.shape[0] != labels.shape[0]:
            raise DataError(f"{paths[images_name]} has {images.shape[0]} images but "
                            f"{paths[labels_name]} has {labels.shape[0]} labels")
        if labels.size and labels.max() > 9:
            raise DataError(f"{paths[labels_name]}: label {labels.max()} is not a digit class 0-9")
    if test_images.shape[1:] != train_images.shape[1:]:
        raise DataError(f"{paths[TEST_IMAGES]}: images are {test_images.shape[1:]} but training "
                        f"images are {train_images.shape[1:]}")
    return train_images, train_labels, test_images, test_labels


def local_files(train_dir: str, dataset: str = "mnist", download_missing: bool = True,
                progress: Callable[[str, int, int | None], None] | None = None) -> dict:
    """``{file name: local path}`` of a data set's four IDX files, downloading missing ones; nothing is read.

    Args and raises as for :func:`read_data_sets` (whose first step this is).
    """
    if dataset not in SOURCES:
        raise DataError(f"unknown dataset {dataset!r}; choose one of {', '.join(SOURCES)}")
    source = SOURCES[dataset]
    return _local_files(source, SAMPLE_DIR if source is MNIST_SAMPLE else train_dir, download_missing, progress)


def read_data_sets(train_dir: str, one_hot: bool = True, dataset: str = "mnist",
                   validation_size: int | None = None, shuffle: bool = True,
                   sort_by_label: bool = False, seed: int = 0, download_missing: bool = True,
                   progress: Callable[[str, int, int | None], None] | None = None,
                   first_epoch_in_order: bool = False) -> Datasets:
    """Reads (downloading if needed) an MNIST-format data set (Book §3, §5.8).

    Args:
        train_dir: directory holding the four IDX files (ignored for
            ``mnist_sample``, which is read from the package).
        one_hot: one-hot float32 labels (True, the book's choice) or int64 ids.
        dataset: ``mnist``, ``fashion_mnist`` or ``mnist_sample``.
        validation_size: leading training images kept for validation; defaults
            to the data set's own (5,000; 500 for the sample).
        shuffle: reshuffle the training set every epoch.
        sort_by_label: visit the training set sorted by class (for experiments).
        seed: seed of the training set's per-epoch orders.
        download_missing: download missing files from the mirrors.
        progress: optional callback ``(filename, bytes_done, bytes_total)``.
        first_epoch_in_order: the book's order: the first epoch unshuffled (errata E13).

    Returns:
        Datasets(train, validation, test, source, data_dir, note).

    Raises:
        DataError: a file is malformed or image and label counts differ.
        DataUnavailable: files are missing, and downloading is off or failed
            (``missing``, ``data_dir`` and ``reason`` say which and why).
    """
    paths = local_files(train_dir, dataset, download_missing, progress)
    source, data_dir = SOURCES[dataset], os.path.dirname(paths[TRAIN_IMAGES])
    train_images, train_labels, test_images, test_labels = _read_checked(paths)

    if validation_size is None:
        validation_size = source.validation_size
    if not 0 <= validation_size < train_images.shape[0]:
        raise DataError(f"validation_size {validation_size} must be in 0..{train_images.shape[0] - 1} "
                        f"for {paths[TRAIN_IMAGES]} ({train_images.shape[0]} images)")
    note = _verify_note(source, paths)
    return Datasets(
        train=DataSet(train_images[validation_size:], train_labels[validation_size:], one_hot,
                      shuffle=shuffle, sort_by_label=sort_by_label, seed=seed,
                      first_epoch_in_order=first_epoch_in_order),
        validation=DataSet(train_images[:validation_size], train_labels[:validation_size], one_hot,
                           shuffle=False),
        test=DataSet(test_images, test_labels, one_hot, shuffle=False),
        source=source, data_dir=data_dir, note=note)
