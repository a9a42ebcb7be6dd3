"""What the parsed flags build: the library's arguments, the data sets, a session, a restored model.

Each function turns flags (``chapter5/flag_defs.py``) into the explicit
arguments of a ``dlfund`` call, so the programs read as the book's
``__main__`` blocks do and the library never sees a flag.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import tensorflow as tf
from absl import flags

from chapter5 import interrupts, progress
from dlfund import preprocessing, training
from dlfund.data import mnist
from dlfund.graph import ModelGraph, build_graph
from dlfund.models import ModelOptions, get_model

v1 = tf.compat.v1


def resolve_batch_norm(fv: flags.FlagValues) -> None:
    """Turns ``--batch_norm`` into the batch-normalized ``--model`` (so saved flags name the real network)."""
    if fv.batch_norm:
        if not fv.model.endswith("_bn"):
            fv.model = fv.model + "_bn"  # every model has a _bn variant (MODEL_NAMES)
        fv.batch_norm = False


#: ``--keep_prob`` where the listing's differs from 0.5: no dropout in chapter 3's MLP, keep_prob 1 fed by
#: convnet_cifar_bn.py.
LISTING_KEEP_PROB = {"mlp": 1.0, "mlp_bn": 1.0, "cifar_conv_bn": 1.0}


def resolve_listing_defaults(fv: flags.FlagValues) -> None:
    """Sets ``--keep_prob`` and ``--batch_size``, where not given, to the listing's for the model and data set."""
    if fv.keep_prob is None:
        fv.keep_prob = LISTING_KEEP_PROB.get(fv.model, 0.5)
    if fv.batch_size is None:
        fv.batch_size = 128 if fv.dataset == "cifar10" else 100


def model_options(fv: flags.FlagValues) -> ModelOptions:
    """The :class:`ModelOptions` selected by the model flags."""
    return ModelOptions(weight_init=fv.weight_init, activation=fv.activation or None,
                        hidden_units=tuple(int(u) for u in fv.hidden_units),
                        book_output_relu=fv.book_output_relu, book_bn_update=fv.book_bn_update)


def optimizer_args(fv: flags.FlagValues) -> dict:
    """The optimizer's own arguments (:func:`dlfund.objectives.make_optimizer`) from its flags."""
    if fv.optimizer == "momentum":
        return dict(momentum=fv.momentum, nesterov=fv.nesterov)
    if fv.optimizer == "adam":
        return dict(beta1=fv.beta1, beta2=fv.beta2, epsilon=fv.epsilon)
    if fv.optimizer == "rmsprop":
        return dict(momentum=0.0 if fv["momentum"].using_default_value else fv.momentum)
    return {}


def training_graph(fv: flags.FlagValues) -> ModelGraph:
    """The listing's graph for training (:func:`dlfund.graph.build_graph`) as the flags describe it."""
    return build_graph(get_model(fv.model), model_options(fv), learning_rate=fv.learning_rate,
                       optimizer=fv.optimizer, optimizer_args=optimizer_args(fv),
                       sparse_labels=fv.dataset == "cifar10", seed=fv.seed, summary_images=fv.summary_images,
                       max_to_keep=fv.max_to_keep, fast_matmul_grad=fv.fast_matmul_grad, xla=fv.xla)


def train_config(fv: flags.FlagValues) -> training.TrainConfig:
    """The listing's training parameters (:class:`dlfund.training.TrainConfig`)."""
    return training.TrainConfig(training_epochs=fv.training_epochs, batch_size=fv.batch_size,
                                keep_prob=fv.keep_prob, display_step=fv.display_step,
                                eval_batch_size=fv.eval_batch_size, eval_examples=fv.eval_examples)


def session_config(fv: flags.FlagValues) -> v1.ConfigProto:
    """The session's thread pools, from ``--intra_op_threads`` and ``--inter_op_threads``."""
    return v1.ConfigProto(intra_op_parallelism_threads=fv.intra_op_threads,
                          inter_op_parallelism_threads=fv.inter_op_threads)


@contextlib.contextmanager
def op_determinism(enabled: bool) -> Iterator[None]:
    """TensorFlow's op determinism for the duration (``--deterministic``; process-wide, restored afterwards)."""
    if not enabled:
        yield
        return
    from tensorflow.python.framework import config  # the public API can only switch it on
    was = config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if not was:
            config.disable_op_determinism()


def data_dir(fv: flags.FlagValues) -> str:
    """``--data_dir/<dataset>``, or ``--data_dir`` itself if it already holds the data set's files."""
    base = fv.data_dir
    if fv.dataset == "cifar10":
        return base
    if any(os.path.exists(os.path.join(base, n)) or os.path.exists(os.path.join(base, n[:-3]))
           for n in mnist.FILES):
        return base
    return os.path.join(base, fv.dataset)


def _value(fv: flags.FlagValues, name: str, default):
    """A flag's value, or ``default`` for a program that does not have the flag (e.g. evaluation's split)."""
    return fv[name].value if name in fv else default


def fetch_data(fv: flags.FlagValues) -> None:
    """Makes sure the data set's files are there (downloading them if allowed), without reading them.

    Raises:
        DataUnavailable, DataError: they are missing and cannot be downloaded.
    """
    if fv.dataset == "cifar10":
        from dlfund.data import cifar10
        cifar10.maybe_download_and_extract(fv.data_dir, download_missing=_value(fv, "download", True))
    else:
        mnist.local_files(data_dir(fv), fv.dataset, _value(fv, "download", True), progress.download_progress())


def load_data(fv: flags.FlagValues, shuffle: bool = True, sort_by_label: bool = False, seed: int = 0,
              threads: int = 0):
    """Reads the data set chosen by the data flags (``dlfund.data.mnist`` or ``cifar10``).

    Missing files are downloaded first, where a Ctrl-C can stop the download (:func:`chapter5.interrupts.allowed`).
    """
    with interrupts.allowed():
        fetch_data(fv)
    # A program without --validation_size uses only the test set: no images need holding out.
    validation_size = _value(fv, "validation_size", 0)
    validation_size = None if validation_size < 0 else validation_size
    download = _value(fv, "download", True)
    if fv.dataset == "cifar10":
        from dlfund.data import cifar10
        augment = _value(fv, "augment", [])
        augment = [a for a in augment if a != "none"] if augment else preprocessing.BOOK_CIFAR_AUGMENT
        return cifar10.read_data_sets(fv.data_dir, augment=augment, whitened=_value(fv, "whiten", True), seed=seed,
                                      shuffle=shuffle, threads=threads, validation_size=validation_size,
                                      validation_on_test=_value(fv, "book_validation_on_test", False),
                                      progress=progress.download_progress(), download_missing=download)
    return mnist.read_data_sets(data_dir(fv), one_hot=True, dataset=fv.dataset, validation_size=validation_size,
                                shuffle=shuffle, sort_by_label=sort_by_label, seed=seed,
                                first_epoch_in_order=_value(fv, "book_data_order", False),
                                download_missing=download, progress=progress.download_progress())


def build_and_restore(fv: flags.FlagValues, checkpoint: str) -> tuple[ModelGraph, v1.Session, str]:
    """Builds the model chosen by the flags for inference and restores ``checkpoint`` into it.

    Only the model's own variables are restored (weights, batch-norm moving
    averages, global step), so a checkpoint written with any optimizer, or by
    the book's original TF1 code under any TensorFlow it ran on, fits
    (:func:`dlfund.training.restore_model`).

    Returns:
        (ModelGraph, open Session, a note on book-era names or "").

    Raises:
        CheckpointError: the checkpoint is missing or does not match the model.
    """
    g = build_graph(get_model(fv.model), model_options(fv), sparse_labels=fv.dataset == "cifar10",
                    with_training=False)
    sess = v1.Session(graph=g.graph)
    try:
        note = training.restore_model(sess, g, checkpoint)
    except Exception:
        sess.close()
        raise
    return g, sess, note
