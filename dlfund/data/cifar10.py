"""CIFAR-10 binary reader on ``tf.data``, like the book's ``cifar10_input.py`` (Book §5.11).

The binary release holds ``data_batch_1.bin`` .. ``data_batch_5.bin`` (training)
and ``test_batch.bin``, each 10,000 records of 3,073 bytes: one label byte, then
the 32x32 red, green and blue planes, row-major.

The book's functions keep their names and arguments:

* :func:`read_cifar10` decodes records (a ``tf.data`` pipeline instead of the
  deprecated filename queue);
* :func:`distorted_inputs` gives training batches: random 24x24 crop, random
  left-right flip, random brightness (max delta 63) and contrast (0.2-1.8),
  per-image whitening;
* :func:`inputs` gives evaluation batches: central 24x24 crop, whitening.

Both return graph-mode tensors (``tf.compat.v1.data`` iterators) that the
training loop runs and feeds into the model's placeholders, as the book's
listing does. :func:`read_data_sets` wraps them in objects with the same
interface as the MNIST reader (``train.next_batch``, ``test.batches``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from dlfund import preprocessing
from dlfund.data import Datasets, batches, download
from dlfund.errors import DataError, DataUnavailable, DownloadError

v1 = tf.compat.v1

URL = "https://www.cs.toronto.edu/~kriz/"
ARCHIVE = "cifar-10-binary.tar.gz"
ARCHIVE_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
BATCHES_DIR = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)
#: The side of the crops fed to the network: the book's ``IMAGE_SIZE`` (``cifar10_input.py`` line 31).
IMAGE_SIZE = 24
#: The side of the stored images.
STORED_SIZE = 32
LABEL_BYTES = 1
IMAGE_BYTES = STORED_SIZE * STORED_SIZE * 3
RECORD_BYTES = LABEL_BYTES + IMAGE_BYTES
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SHORT_NAMES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def check_files(filenames: Sequence[str]) -> int:
    """Checks every file exists and is a whole number of records; returns the total record count.

    Raises:
        DataError: naming the first missing or malformed file.
    """
    total = 0
    for name in filenames:
        if not os.path.exists(name):
            raise DataError(f"{name}: file not found")
        size = os.path.getsize(name)
        if size == 0 or size % RECORD_BYTES:
            raise DataError(f"{name}: {size} bytes is not a whole number of {RECORD_BYTES}-byte CIFAR-10 "
                            "records; the file is truncated or not CIFAR-10 binary")
        total += size // RECORD_BYTES
    return total


def read_cifar10_file(filename: str) -> tuple[np.ndarray, np.ndarray]:
    """Reads one binary batch file into NumPy (for inspection and tests).

    Returns:
        (uint8 images [N, 32, 32, 3], uint8 labels [N]).
    """
    check_files([filename])
    raw = np.fromfile(filename, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    labels = raw[:, 0]
    if labels.max() > 9:
        raise DataError(f"{filename}: label {labels.max()} is not a CIFAR-10 class 0-9")
    images = raw[:, 1:].reshape(-1, 3, STORED_SIZE, STORED_SIZE).transpose(0, 2, 3, 1)
    return images, labels


# The functions mapped over records have no data-dependent Python control flow, so AutoGraph's
# conversion (on by default in tf.data's map) would only cost time: about a second per pipeline.
_plain = tf.autograph.experimental.do_not_convert


@_plain
def _decode(record: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    raw = tf.io.decode_raw(record, tf.uint8)
    label = tf.cast(raw[0], tf.int32)
    # Stored as [depth, height, width] planes; the network wants [height, width, depth].
    image = tf.transpose(tf.reshape(raw[LABEL_BYTES:], [3, STORED_SIZE, STORED_SIZE]), [1, 2, 0])
    return image, label


def read_cifar10(filenames: Sequence[str]) -> tf.data.Dataset:
    """Records of the given files as (uint8 image [32, 32, 3], int32 label) pairs (Book §5.11).

    Args:
        filenames: CIFAR-10 binary batch files (checked with :func:`check_files`).

    Returns:
        A ``tf.data.Dataset``, in file order.
    """
    check_files(filenames)
    return tf.data.FixedLengthRecordDataset(list(filenames), RECORD_BYTES).map(_decode)


def train_dataset(filenames: Sequence[str], batch_size: int, augment: Sequence[str] = preprocessing.BOOK_CIFAR_AUGMENT,
                  whitened: bool = True, crop_size: int = IMAGE_SIZE, shuffle: bool = True, seed: int | None = None,
                  shuffle_buffer: int = 20000, skip: int = 0) -> tf.data.Dataset:
    """Endless shuffled, augmented training batches: (float32 [batch, crop, crop, 3], int32 [batch]).

    ``skip`` leaves out the first records (those held out for validation).
    """
    ds = read_cifar10(filenames).skip(skip)
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.repeat()

    @_plain
    def distorted(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        image = tf.cast(image, tf.float32)
        if "crop" not in augment:
            image = tf.image.resize_with_crop_or_pad(image, crop_size, crop_size)
        return preprocessing.distort(image, augment, crop_size, whitened, seed), label

    ds = ds.map(distorted, num_parallel_calls=tf.data.AUTOTUNE, deterministic=seed is not None)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def eval_dataset(filenames: Sequence[str], batch_size: int, whitened: bool = True,
                 crop_size: int = IMAGE_SIZE, take: int = -1) -> tf.data.Dataset:
    """One pass of centrally cropped, whitened batches: (float32 [batch, crop, crop, 3], int32 [batch]).

    ``take`` limits the pass to the first records (-1: all).
    """

    @_plain
    def cropped(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return preprocessing.eval_preprocess(tf.cast(image, tf.float32), crop_size, whitened), label

    ds = read_cifar10(filenames).take(take).map(cropped, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def picture_input(rgb: np.ndarray, whitened: bool = True, crop_size: int = IMAGE_SIZE) -> np.ndarray:
    """A reader's own picture as the network's evaluation input (Book §5.9, ``inputs``).

    CIFAR-10's pictures are 32x32 photos of one object filling the frame: the
    picture's central square is reduced to that size by area averaging, then
    goes through the evaluation pipeline itself
    (:func:`dlfund.preprocessing.eval_preprocess`: central crop, whitening).

    Args:
        rgb: float RGB [h, w, 3] in [0, 1] (``dlfund.digits.decode_image``).
        whitened: per-image whitening, as the run was trained (``--whiten``).
        crop_size: the network's input side.

    Returns:
        float32 [crop_size, crop_size, 3].
    """
    from dlfund.digits import area_resize

    h, w = rgb.shape[:2]
    side = min(h, w)
    square = rgb[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
    image = area_resize(square, 32, 32) * 255.0
    return preprocessing.eval_preprocess(tf.constant(image, tf.float32), crop_size, whitened).numpy()


def distorted_inputs(data_dir: str, batch_size: int, augment: Sequence[str] = preprocessing.BOOK_CIFAR_AUGMENT,
                     whitened: bool = True, seed: int | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """Training batches as graph tensors (Book §5.11, ``cifar10_input.distorted_inputs``).

    Args:
        data_dir: the ``cifar-10-batches-bin`` directory.
        batch_size: images per batch.
        augment: random augmentations (default: the book's).
        whitened: per-image whitening last.
        seed: shuffle and augmentation seed.

    Returns:
        images float32 [batch_size, 24, 24, 3], labels int32 [batch_size]; each
        ``sess.run`` of them gives the next batch.
    """
    files = [os.path.join(data_dir, f) for f in TRAIN_FILES]
    ds = train_dataset(files, batch_size, augment, whitened, seed=seed)
    return v1.data.make_one_shot_iterator(ds).get_next()


def inputs(eval_data: bool, data_dir: str, batch_size: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Evaluation batches as graph tensors (Book §5.11, ``cifar10_input.inputs``).

    Args:
        eval_data: True for the test set, False for the training set.
        data_dir: the ``cifar-10-batches-bin`` directory.
        batch_size: images per batch (the last batch may be smaller).

    Returns:
        images float32 [<=batch_size, 24, 24, 3], labels int32 [<=batch_size];
        one pass over the set, then ``tf.errors.OutOfRangeError``.
    """
    files = [os.path.join(data_dir, f) for f in (TEST_FILES if eval_data else TRAIN_FILES)]
    return v1.data.make_one_shot_iterator(eval_dataset(files, batch_size)).get_next()


def unavailable(data_dir: str, reason: str | None) -> DataUnavailable:
    """The error for CIFAR-10 missing from ``data_dir``, not downloaded (``reason`` None) or failing to download."""
    problem = f"CIFAR-10 is not in {data_dir} " + ("(downloading is off)" if reason is None else
                                                   f"and could not be downloaded ({reason})")
    remedy = f"Put the extracted {BATCHES_DIR}/ of {URL}{ARCHIVE} (170 MB, MD5 {ARCHIVE_MD5}) into {data_dir}"
    return DataUnavailable(problem, "cifar10", data_dir, TRAIN_FILES + TEST_FILES, reason, remedy)


def maybe_download_and_extract(data_dir: str, progress: Callable[[int, int | None], None] | None = None,
                               download_missing: bool = True) -> str:
    """Returns the ``cifar-10-batches-bin`` directory, downloading and extracting it if needed.

    Looks for the batch files in ``data_dir``, ``data_dir/cifar-10-batches-bin``
    and ``data_dir/cifar10/cifar-10-batches-bin``; a whole set (:func:`incomplete`)
    is used as it is. Otherwise the archive in ``data_dir/cifar10`` is used if its
    MD5 matches, or downloaded over https (and its MD5 checked), and extracted
    without letting any member escape. Both steps run again whenever a batch
    file is missing or cut short (the book's version never retried them once
    the archive existed).

    Args:
        data_dir: where to look, and where to download into (``data_dir/cifar10``).
        progress: optional download callback ``(done, total)``.
        download_missing: download when missing; False: raise instead.

    Raises:
        DataUnavailable: offline, downloading off, or checksum mismatch; the
            message says where to put a copy.
        DataError: the archive is broken.
    """
    for candidate in (data_dir, os.path.join(data_dir, BATCHES_DIR), os.path.join(data_dir, "cifar10", BATCHES_DIR)):
        if incomplete(candidate) is None:
            return candidate
    target = os.path.join(data_dir, "cifar10")
    if not download_missing and not os.path.exists(os.path.join(target, ARCHIVE)):
        raise unavailable(data_dir, None)
    try:
        # An archive already there is checked too: an interrupted copy must not break every later run.
        archive = download.maybe_download(ARCHIVE, target, [URL], ("md5", ARCHIVE_MD5), progress=progress,
                                          verify_existing=True)
    except DownloadError as e:
        reason = str(e).replace(f"could not download {ARCHIVE} into {target}: ", "")  # one directory named, not two
        raise unavailable(data_dir, reason) from None
    download.extract_tar(archive, target)
    batches = os.path.join(target, BATCHES_DIR)
    problem = incomplete(batches)
    if problem:
        raise DataError(f"{archive}: extracted, but {problem}")
    return batches


def incomplete(directory: str) -> str | None:
    """What keeps ``directory`` from being a whole set of CIFAR-10 batch files, or None if it is one.

    All six files must be there, each a whole, non-zero number of records, and
    the five training files of one size (the release's are 10,000 records
    each): an extraction cut short leaves a file missing or shorter.
    """
    sizes = {}
    for name in TRAIN_FILES + TEST_FILES:
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            return f"{path} is missing"
        sizes[name] = os.path.getsize(path)
        if not sizes[name] or sizes[name] % RECORD_BYTES:
            return f"{path} is not a whole number of {RECORD_BYTES}-byte records ({sizes[name]} bytes)"
    if len({sizes[n] for n in TRAIN_FILES}) > 1:
        return f"the training files in {directory} differ in size: {', '.join(f'{n} {sizes[n]}' for n in TRAIN_FILES)}"
    return None


class TrainStream:
    """Augmented training batches with the interface of ``mnist.DataSet`` (next_batch, seek).

    The ``tf.data`` pipeline runs in a graph and session of its own; each
    ``next_batch`` is one ``sess.run`` of :func:`distorted_inputs`' tensors, whose
    map and prefetch stages work in background threads meanwhile. The first
    ``skip`` records (held out for validation) are never drawn.
    """

    def __init__(self, filenames: Sequence[str], augment: Sequence[str], whitened: bool, crop_size: int,
                 shuffle: bool, seed: int, threads: int = 0, skip: int = 0) -> None:
        self.filenames = list(filenames)
        self.skip = skip
        self.num_examples = check_files(self.filenames) - skip
        self.augment, self.whitened, self.crop_size = tuple(augment), whitened, crop_size
        self.shuffle, self.seed, self.threads = shuffle, seed, threads
        self.epochs_completed = 0
        self._consumed = 0
        self._batch_size = None
        self._sess = None
        self._preview = None

    def _build(self, batch_size: int) -> None:
        self.close()
        graph = tf.Graph()
        with graph.as_default():
            # A resumed run reshuffles from a seed tied to its position: reproducible,
            # though not the exact order an uninterrupted run would have drawn.
            seed = self.seed * 1_000_003 + self._consumed
            v1.set_random_seed(seed)  # the pipeline's random ops draw the same in every run
            ds = train_dataset(self.filenames, batch_size, self.augment, self.whitened, self.crop_size,
                               self.shuffle, seed, skip=self.skip)
            self._next = v1.data.make_one_shot_iterator(ds).get_next()
        config = v1.ConfigProto(intra_op_parallelism_threads=self.threads, inter_op_parallelism_threads=self.threads)
        self._sess = v1.Session(graph=graph, config=config)
        self._batch_size = batch_size

    def seek(self, examples_consumed: int) -> None:
        """Restarts the stream as at ``examples_consumed`` (resume)."""
        self._consumed = int(examples_consumed)
        self.epochs_completed = self._consumed // self.num_examples
        self.close()

    def next_batch(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """Returns (float32 [batch_size, crop, crop, 3], int32 [batch_size])."""
        if self._sess is None or batch_size != self._batch_size:
            self._build(batch_size)
        images, labels = self._sess.run(self._next)
        self._consumed += batch_size
        self.epochs_completed = self._consumed // self.num_examples
        return images, labels

    def preview(self, n: int = 8) -> list:
        """TensorBoard images of the first ``n`` training images and a fresh random augmentation of each.

        Three image summaries: ``original_images`` (32x32 as stored),
        ``augmented_images`` (after crop, flip, brightness, contrast: what the
        augmentation did) and ``distorted_images`` (the book's tag: the
        network's input, after whitening, rescaled per image for display).
        """
        if self._preview is None:
            self._preview = AugmentationPreview(self.filenames, n, self.augment, self.crop_size, self.skip, self.seed)
        return self._preview.summaries()

    def close(self) -> None:
        if self._sess is not None:
            self._sess.close()
            self._sess = None


class AugmentationPreview:
    """A few fixed training images and the book's augmentation applied to them anew at every call.

    Runs in a graph and session of its own, PNG encoding included, so it can be
    called while another graph is the default (during training).
    """

    def __init__(self, filenames: Sequence[str], n: int, augment: Sequence[str], crop_size: int, skip: int,
                 seed: int = 0) -> None:
        images = []
        for name in filenames:
            images.append(read_cifar10_file(name)[0])
            if sum(len(i) for i in images) >= skip + n:
                break
        originals = np.concatenate(images)[skip:skip + n]
        graph = tf.Graph()
        with graph.as_default():
            v1.set_random_seed(seed)  # each call draws anew, the same draws in every run (and under op determinism)
            x = tf.constant(originals)
            # One image after another (parallel_iterations=1): the random ops then draw in the same order each run.
            augmented = tf.map_fn(_plain(lambda im: preprocessing.distort(tf.cast(im, tf.float32), augment, crop_size,
                                                                          whitened=False)),
                                  x, fn_output_signature=tf.float32, parallel_iterations=1)
            whitened = preprocessing.whiten(augmented)
            lo = tf.reduce_min(whitened, axis=[1, 2, 3], keepdims=True)
            hi = tf.reduce_max(whitened, axis=[1, 2, 3], keepdims=True)
            shown = {"original_images": x,
                     "augmented_images": tf.cast(tf.clip_by_value(augmented, 0, 255), tf.uint8),
                     "distorted_images": tf.cast((whitened - lo) / tf.maximum(hi - lo, 1e-8) * 255, tf.uint8)}
            self._fetch = {tag: (images, tf.map_fn(tf.io.encode_png, images, fn_output_signature=tf.string))
                           for tag, images in shown.items()}
        self._sess = v1.Session(graph=graph)

    def summaries(self) -> list:
        """``original_images``, ``augmented_images`` and ``distorted_images`` Summary protos."""
        from dlfund.summaries import image_summary
        return [image_summary(tag, images, pngs) for tag, (images, pngs) in self._sess.run(self._fetch).items()]


class EvalSet:
    """A preprocessed evaluation set held in memory, with ``batches`` like ``mnist.DataSet``.

    Attributes:
        images: float32 [N, crop, crop, 3], centrally cropped and whitened.
        labels / label_ids: int32 / int64 [N].
    """

    def __init__(self, filenames: Sequence[str], whitened: bool = True, crop_size: int = IMAGE_SIZE,
                 take: int = -1) -> None:
        graph = tf.Graph()
        with graph.as_default():
            # Nothing here is random, but under op determinism the one-shot iterator asks for a seed.
            v1.set_random_seed(0)
            ds = eval_dataset(filenames, 1000, whitened, crop_size, take)
            next_batch = v1.data.make_one_shot_iterator(ds).get_next()
        images, labels = [np.zeros((0, crop_size, crop_size, 3), np.float32)], [np.zeros(0, np.int32)]
        with v1.Session(graph=graph) as sess:
            while True:
                try:
                    x, y = sess.run(next_batch)
                except tf.errors.OutOfRangeError:
                    break
                images.append(x)
                labels.append(y)
        self.images = np.concatenate(images)
        self.labels = np.concatenate(labels).astype(np.int32)
        self.label_ids = self.labels.astype(np.int64)
        self.num_examples = int(self.images.shape[0])

    def batches(self, batch_size: int):
        """Yields the whole set once, in stored order, in batches."""
        return batches(self.images, self.labels, batch_size)


class Source(NamedTuple):
    name: str
    class_names: tuple
    short_names: tuple


def read_data_sets(data_dir: str, augment: Sequence[str] = preprocessing.BOOK_CIFAR_AUGMENT, whitened: bool = True,
                   crop_size: int = IMAGE_SIZE, shuffle: bool = True, seed: int = 0, threads: int = 0,
                   validation_size: int | None = None, validation_on_test: bool = False,
                   progress: Callable[[str, int, int | None], None] | None = None,
                   download_missing: bool = True) -> Datasets:
    """Reads (downloading if needed) CIFAR-10 for training and evaluation (Book §5.11).

    Args:
        data_dir: where to look for / put the data (see :func:`maybe_download_and_extract`).
        augment: training augmentations (:data:`dlfund.preprocessing.AUGMENTATIONS`).
        whitened: per-image whitening in both pipelines.
        crop_size: side of the crops fed to the network (the book's 24).
        shuffle: shuffle the training stream.
        seed: shuffle and augmentation seed.
        threads: session threads of the input pipeline (0 = TensorFlow's choice).
        validation_size: leading training records held out for validation
            (default: a tenth, 5,000 of CIFAR-10's 50,000).
        validation_on_test: the listings' behaviour (errata E12): no records
            held out, and the test set doubles as the validation set.
        progress: optional download callback ``(filename, done, total)``.
        download_missing: download CIFAR-10 when it is missing (False: raise instead).

    Returns:
        :class:`dlfund.data.Datasets` of a :class:`TrainStream` and :class:`EvalSet` s.

    Raises:
        DataError: a file is malformed, or ``validation_size`` leaves no training records.
    """
    cb = (lambda done, total: progress(ARCHIVE, done, total)) if progress else None
    batches = maybe_download_and_extract(data_dir, cb, download_missing)
    train_files = [os.path.join(batches, f) for f in TRAIN_FILES]
    test = EvalSet([os.path.join(batches, f) for f in TEST_FILES], whitened, crop_size)
    total = check_files(train_files)
    held_out = 0 if validation_on_test else (total // 10 if validation_size is None else validation_size)
    if not 0 <= held_out < total:
        raise DataError(f"validation_size {held_out} must be in 0..{total - 1} for the {total} training records "
                        f"in {batches}")
    train = TrainStream(train_files, augment, whitened, crop_size, shuffle, seed, threads, skip=held_out)
    validation = test if validation_on_test else EvalSet(train_files, whitened, crop_size, take=held_out)
    split = ("validation = test set, as in the book" if validation_on_test
             else f"validation = the first {held_out} training records")
    return Datasets(train, validation, test, Source("cifar10", CLASS_NAMES, SHORT_NAMES), batches,
                    f"CIFAR-10 binary files in {batches} (augment: {','.join(augment) or 'none'}; "
                    f"whiten: {'on' if whitened else 'off'}; {split})")
