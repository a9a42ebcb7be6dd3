"""Looking inside a trained model: every layer's activations, confusion matrix, embeddings (Book §5.12).

:func:`activations` gives what each layer of a network computes for some
inputs, named by the book's variable scopes (``conv_1``, ``conv_1/pool``, ...,
``output``): the feature maps the §5.12 notebook and ``chapter5.draw`` show.
The book's §5.12 visualizes the last hidden layer of a trained convnet with
t-SNE. :func:`write_projector` writes those activations, a sprite sheet of the
digits and their labels for TensorBoard's embedding projector, where a reader
can run t-SNE and PCA interactively.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

v1 = tf.compat.v1

#: Op types that are a layer's activation in the book's ``layer`` and ``conv2d`` (:data:`dlfund.layers.ACTIVATIONS`).
ACTIVATION_OPS = ("Relu", "Tanh", "Elu", "Selu", "LeakyRelu", "Sigmoid")
#: Op types of the pooling that follows a convolution inside its scope (``max_pool``, LeNet-5's average pool).
POOL_OPS = ("MaxPool", "AvgPool")


def layer_tensors(g) -> dict:
    """Each layer's output in a built :class:`dlfund.graph.ModelGraph`, by the book's scope names, in layer order.

    A layer is a variable scope directly inside the model's (``conv_1``, ``fc``,
    ``hidden_1``); its output is its activation, and ``<layer>/pool`` the
    pooling after it where the listing pools inside the same scope. ``output``
    is the logits. A hidden layer built without an activation
    (``activation=none``) has no entry.

    Returns:
        {name: float32 tensor [batch, ...]}, e.g. for ``mnist_conv``: ``conv_1``
        [batch, 28, 28, 32], ``conv_1/pool`` [batch, 14, 14, 32], ``conv_2``
        [batch, 14, 14, 64], ``conv_2/pool`` [batch, 7, 7, 64], ``fc`` [batch,
        1024], ``output`` [batch, 10].
    """
    prefix = g.spec.scope + "/"
    found = {}
    for op in g.graph.get_operations():  # in the order they were built: the layers' order
        parts = op.name[len(prefix):].split("/") if op.name.startswith(prefix) else []
        if len(parts) != 2 or parts[0] == "output":  # only ops directly in a layer's scope
            continue
        if op.type in ACTIVATION_OPS:
            found[parts[0]] = op.outputs[0]
        elif op.type in POOL_OPS:
            found[parts[0] + "/pool"] = op.outputs[0]
    found["output"] = g.output
    return found


#: Activations whose values are never negative: their maps are shaded from 0 up, the others around 0.
NONNEGATIVE_OPS = ("Relu", "Sigmoid")


def nonnegative(tensors: dict) -> dict:
    """Whether each layer of :func:`layer_tensors` is never negative, from the activation the graph applies.

    A pool is as its activation; the logits are signed. So ``lenet5`` (tanh)
    is signed and ``lenet5 --activation=relu`` is not, whatever the model's name.

    Returns:
        {name: bool}, in the order of ``tensors``.
    """
    def op_of(t):
        op = t.op
        return op.inputs[0].op if op.type in POOL_OPS else op

    return {name: name != "output" and op_of(t).type in NONNEGATIVE_OPS for name, t in tensors.items()}


def activations(sess: v1.Session, g, images: np.ndarray) -> dict:
    """What every layer computes for ``images``, in inference mode (Book §5.12).

    Args:
        sess: a session of ``g.graph`` holding the trained weights.
        g: the model's :class:`dlfund.graph.ModelGraph`.
        images: float32 [n, *input_shape] (MNIST: [n, 784]).

    Returns:
        {book scope name: float32 array [n, ...]}, in layer order (:func:`layer_tensors`).
    """
    return read_input(sess, g, images)[0]


def read_input(sess: v1.Session, g, images: np.ndarray, tensors: dict | None = None) -> tuple[dict, np.ndarray]:
    """:func:`activations` and the graph's own softmax of the logits, in one run.

    Args:
        sess, g, images: as for :func:`activations`.
        tensors: :func:`layer_tensors` of ``g``, if already found.

    Returns:
        ({book scope name: float32 [n, ...]}, float32 probabilities [n, 10]).
    """
    tensors = tensors or layer_tensors(g)
    # keep_prob and phase_train default to inference
    values, probabilities = sess.run((tensors, g.probabilities), {g.x: images})
    return {name: values[name] for name in tensors}, probabilities


def first_layer_weights(sess: v1.Session, g) -> tuple[str, np.ndarray]:
    """The first layer's weights as pictures: a convolution's filters, or each unit's weights over a 28x28 input.

    Returns:
        (the layer's scope name, float32 [units, h, w, c]): [32, 5, 5, 1] for
        ``mnist_conv``'s ``conv_1``, [256, 28, 28, 1] for the MLP's ``hidden_1``.
    """
    prefix = g.spec.scope + "/"
    with g.graph.as_default():
        weights = [v for v in v1.trainable_variables() if v.op.name.startswith(prefix) and v.op.name.endswith("/W")]
    first = weights[0]
    value = sess.run(first)
    if value.ndim == 4:  # [kh, kw, c_in, c_out]
        pictures = value.transpose(3, 0, 1, 2)
    else:  # [n_in, units]: a fully connected layer on the flat picture
        side = int(round(value.shape[0] ** 0.5))
        pictures = value.T.reshape(-1, side, side, 1)
    return first.op.name[len(prefix):].split("/")[0], pictures


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """int64 [num_classes, num_classes]; row = true class, column = predicted class."""
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (np.asarray(truth, np.int64), np.asarray(predicted, np.int64)), 1)
    return cm


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """float64 [num_classes]: the diagonal over each row's total (nan for an absent class)."""
    totals = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(cm) / np.maximum(totals, 1), np.nan)


def name_width(names: Sequence) -> int:
    """Width of a column of class names: the longest name (every program right-aligns names to it)."""
    return max(len(str(n)) for n in names)


def format_confusion(cm: np.ndarray, class_names: Sequence[str], short_names: Sequence[str] | None = None) -> str:
    """The confusion matrix and per-class accuracy as a text table.

    Columns are headed by ``short_names`` (default: the class names), every
    column as wide as its longest entry plus two spaces of separation; rows are
    labelled with the full names.

    Args:
        cm: int [n, n], row = true class, column = predicted class.
        class_names: the n class names.
        short_names: optional short column headings (e.g. ``plane`` for ``airplane``).
    """
    heads = [str(n) for n in (short_names or class_names)]
    width = max(name_width(heads), len(str(cm.max()))) + 2
    corner = "true \\ predicted"
    label = max(len(corner), name_width(class_names))
    acc = per_class_accuracy(cm)
    lines = [f"{corner:>{label}}" + "".join(f"{h:>{width}}" for h in heads) + "   accuracy"]
    for i, row in enumerate(cm):
        lines.append(f"{str(class_names[i]):>{label}}" + "".join(f"{v:>{width}d}" for v in row) + f"   {acc[i]:.4f}")
    return "\n".join(lines)


#: The file ``chapter5.evaluate`` writes in a run's ``eval/``: what the drawing page shows of the evaluation.
EVALUATION_FILE = "confusion.json"


def save_evaluation(eval_dir: str, step: int, dataset: str, data_dir: str, truth: np.ndarray,
                    predicted: np.ndarray) -> str:
    """Writes the test set's labels and predictions, and their confusion matrix, as JSON (Book §5.12).

    Args:
        eval_dir: the run's evaluation directory (``<run>/eval``).
        step: the checkpoint's global step.
        dataset: the data set's name (``--dataset``).
        data_dir: the directory its files were read from.
        truth: int [n] true classes of the test set, in file order.
        predicted: int [n] the network's answers.

    Returns:
        The file's path.
    """
    os.makedirs(eval_dir, exist_ok=True)
    path = os.path.join(eval_dir, EVALUATION_FILE)
    record = {"checkpoint": int(step), "dataset": dataset, "data_dir": os.path.abspath(data_dir),
              "matrix": confusion_matrix(truth, predicted).tolist(),
              "truth": [int(t) for t in truth], "predicted": [int(p) for p in predicted]}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(record, f, separators=(",", ":"))
    os.replace(tmp, path)
    return path


def load_evaluation(run_dir: str) -> dict | None:
    """What :func:`save_evaluation` wrote for the run, or None if it was never evaluated (or the file is
    unreadable: evaluating again writes it anew)."""
    try:
        with open(os.path.join(run_dir, "eval", EVALUATION_FILE)) as f:
            record = json.load(f)
        record["matrix"] = np.asarray(record["matrix"], np.int64)
        return record
    except (OSError, ValueError, KeyError, TypeError):
        return None


def confusion_image(cm: np.ndarray, cell: int = 16) -> np.ndarray:
    """uint8 RGB [n*cell, n*cell, 3] heat map of the row-normalized confusion matrix.

    Correct predictions (diagonal) are green, errors red, brighter for more.
    """
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    n = cm.shape[0]
    image = np.zeros((n, n, 3), np.float32)
    diag = np.eye(n, dtype=bool)
    image[..., 1] = np.where(diag, rates, 0.0)
    # Errors are rare: a square root makes a 1% confusion visible.
    image[..., 0] = np.where(diag, 0.0, np.sqrt(rates))
    image = np.kron(image, np.ones((cell, cell, 1), np.float32))
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def display_images(images: np.ndarray, input_shape: Sequence[int]) -> np.ndarray:
    """uint8 [n, h, w, c] pictures of network inputs, each rescaled to its own range 0-255.

    Args:
        images: float [n, D] flat (MNIST, ``input_shape`` (784,)) or [n, h, w, c].
        input_shape: the model's input shape for one example.
    """
    x = np.asarray(images, np.float32)
    if len(input_shape) == 1:
        side = int(round(input_shape[0] ** 0.5))
        x = x.reshape(-1, side, side, 1)
    elif x.ndim == 3:
        x = x[..., None]
    n = len(x)
    lo = x.reshape(n, -1).min(1)[:, None, None, None]
    hi = x.reshape(n, -1).max(1)[:, None, None, None]
    return ((x - lo) / np.maximum(hi - lo, 1e-8) * 255).astype(np.uint8)


def sprite(images: np.ndarray) -> np.ndarray:
    """A square grid of images for the projector: uint8 [rows*h, cols*w, c] (c = 1 or 3).

    Args:
        images: uint8 [n, h, w, c] as made by :func:`display_images` (used as they
            are), or float [n, h, w] / [n, h, w, c] (rescaled per image first).
    """
    x = np.asarray(images)
    if x.dtype != np.uint8:
        x = display_images(x, x.shape[1:])
    n, h, w, c = x.shape
    side = int(math.ceil(math.sqrt(n)))
    grid = np.zeros((side * h, side * w, c), np.uint8)
    for i in range(n):
        r, col = divmod(i, side)
        grid[r * h:(r + 1) * h, col * w:(col + 1) * w] = x[i]
    return grid


def write_projector(run_dir: str, subdir: str, embeddings: np.ndarray, images: np.ndarray, labels: np.ndarray,
                    class_names: Sequence[str], predicted: np.ndarray | None = None,
                    tensor_name: str = "test images: last hidden layer") -> None:
    """Writes an embedding for TensorBoard's projector (Book §5.12's t-SNE view) so it is the first one shown.

    The embedding (as TSV), its labels and the sprite go into ``run_dir/subdir``;
    the projector's configuration goes into ``run_dir`` itself, with paths
    relative to it, so the run's own projector view lists this embedding first
    (the projector puts embeddings with labels before the run's checkpoint
    tensors) and the files can be moved together.

    Args:
        run_dir: a TensorBoard run directory (e.g. ``logs/quickstart``).
        subdir: where the files go inside it (e.g. ``eval``).
        embeddings: float32 [n, d], e.g. the last hidden layer's activations.
        images: [n, h, w] or [n, h, w, c], shown as the points' thumbnails.
        labels: int [n] true classes.
        class_names: names of the classes, written in the metadata.
        predicted: optional int [n] predictions, two more metadata columns.
        tensor_name: the embedding's name in the projector.
    """
    from tensorboard.plugins import projector

    directory = os.path.join(run_dir, subdir)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "metadata.tsv"), "w") as f:
        # The projector labels points by the first column that is not numeric: "true/predicted"
        # ("7/7", "3/5") shows at a glance which points are misclassified.
        f.write(("true/predicted\t" if predicted is not None else "") + "label\tclass"
                + ("\tpredicted\tcorrect" if predicted is not None else "") + "\n")
        for i, label in enumerate(labels):
            row = f"{int(label)}\t{class_names[int(label)]}"
            if predicted is not None:
                true_name, predicted_name = class_names[int(label)], class_names[int(predicted[i])]
                row = (f"{true_name}/{predicted_name}\t{row}\t{predicted_name}\t"
                       f"{'yes' if predicted[i] == label else 'no'}")
            f.write(row + "\n")
    with open(os.path.join(directory, "sprite.png"), "wb") as f:
        f.write(tf.io.encode_png(sprite(images)).numpy())
    np.savetxt(os.path.join(directory, "embedding.tsv"), np.asarray(embeddings, np.float32), fmt="%.5g",
               delimiter="\t")
    config = projector.ProjectorConfig()
    emb = config.embeddings.add()
    emb.tensor_name = tensor_name
    emb.tensor_path = f"{subdir}/embedding.tsv"
    emb.tensor_shape.extend(np.shape(embeddings))
    emb.metadata_path = f"{subdir}/metadata.tsv"
    emb.sprite.image_path = f"{subdir}/sprite.png"
    h, w = np.asarray(images).shape[1:3]
    emb.sprite.single_image_dim.extend([w, h])
    projector.visualize_embeddings(run_dir, config)
