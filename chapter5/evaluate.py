r"""Evaluates a checkpoint on the full test set (Book §5.8, §5.12).

    python -m chapter5.evaluate --logdir=logs/quickstart
    python -m chapter5.evaluate --logdir=logs/book --checkpoint=PATH --model=mlp --dataset=mnist_sample

Rebuilds the network from the run's saved flags (``flags.cfg``; flags given on
the command line win), restores the latest checkpoint (or ``--checkpoint``),
including batch-norm moving averages, and prints test accuracy and loss,
per-class accuracy and the confusion matrix. TensorBoard gets, in the run's
``eval/`` folder: the scalars, the confusion matrix as an image, misclassified
test digits labelled with predicted and true class, activation histograms of
the last hidden layer, and the embedding projector (last hidden layer of
``--projector_examples`` test images, with a sprite of the digits), Book §5.12.

A checkpoint written by the book's own TF1 code restores too, given the
matching ``--model`` (its scopes are the book's: ``mlp_model/hidden_1/W``,
``mnist_conv_model/conv_1/W``, ...); variables that do not match are listed.
"""

from __future__ import annotations

import os

from chapter5 import _cli
from chapter5 import common
from absl import flags

import numpy as np
import tensorflow as tf

from dlfund import analysis, summaries
from dlfund.errors import DataError

v1 = tf.compat.v1
FLAGS = flags.FLAGS

common.define_model_flags(FLAGS)
common.define_data_flags(FLAGS)
flags.adopt_module_key_flags(common)  # list the model and data flags in --helpshort too
flags.DEFINE_string("logdir", None, "The run directory (logs/<run_name>); eval/ is written inside it.")
flags.DEFINE_string("checkpoint", "", "Checkpoint path prefix to restore instead of the run's latest "
                    "(e.g. a book-era model-checkpoint-550000).")
flags.DEFINE_integer("eval_batch_size", 1000, "Batch size for evaluation.", lower_bound=1)
flags.DEFINE_integer("projector_examples", 2000, "Test images in the embedding projector (0 = none).",
                     lower_bound=0)
flags.DEFINE_integer("misclassified_images", 24, "Misclassified test images written to TensorBoard.",
                     lower_bound=0)
flags.mark_flag_as_required("logdir")


def last_hidden_layer(g) -> tf.Tensor:
    """The input of the output layer: the representation the book's §5.12 visualizes."""
    return g.graph.get_operation_by_name(f"{g.spec.scope}/output/MatMul").inputs[0]


def main(argv: list) -> int:
    if len(argv) > 1:
        return _cli.fail(f"unexpected arguments {argv[1:]}")
    run_dir = FLAGS.logdir
    had_flags = common.apply_run_flags(FLAGS, run_dir)
    common.resolve_batch_norm(FLAGS)
    if not had_flags and not FLAGS.checkpoint:
        return _cli.fail(f"{run_dir} has no flags.cfg: is it a run directory? For a checkpoint from elsewhere "
                         "pass --checkpoint=PATH with --model and --dataset")
    data = common.load_data(FLAGS, shuffle=False)
    g, sess, path = common.build_and_restore(FLAGS, run_dir, FLAGS.checkpoint)
    hidden = last_hidden_layer(g)
    test = data.test
    with sess:
        step = int(sess.run(g.global_step))
        logits, features = [], []
        for images, labels in test.batches(FLAGS.eval_batch_size):
            out, feat = sess.run([g.output, hidden], {g.x: images})
            logits.append(out)
            features.append(feat)
    logits = np.concatenate(logits)
    features = np.concatenate(features)
    truth = test.label_ids
    predicted = logits.argmax(1)
    shifted = logits - logits.max(1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    test_cost = float(-log_probs[np.arange(len(truth)), truth].mean())
    accuracy = float((predicted == truth).mean())
    cm = analysis.confusion_matrix(truth, predicted)
    class_names = data.source.class_names

    print(f"Checkpoint: {path} (global step {step})")
    print(f"Model: {FLAGS.model}; data: {data.note}")
    print(f"Test Accuracy: {accuracy:.6f}")
    print(f"Test Cost: {test_cost:.6f}")
    print(f"Test examples: {len(truth)}, misclassified: {int((predicted != truth).sum())}")
    print(analysis.format_confusion(cm, class_names))

    eval_dir = os.path.join(run_dir, "eval")
    try:
        os.makedirs(eval_dir, exist_ok=True)
    except OSError as e:
        raise DataError(f"{eval_dir}: cannot write ({e.strerror or e})") from None
    with tf.Graph().as_default():  # FileWriter is graph-mode only
        writer = v1.summary.FileWriter(eval_dir)
    scalars = {"test accuracy": accuracy, "test cost": test_cost}
    scalars.update({f"per-class accuracy/{class_names[i]}": a for i, a in enumerate(analysis.per_class_accuracy(cm))})
    writer.add_summary(summaries.scalar_summary(scalars), step)
    writer.add_summary(summaries.image_summary("confusion matrix", analysis.confusion_image(cm)[None]), step)
    display = analysis.display_images(test.images, g.spec.input_shape)
    wrong = np.flatnonzero(predicted != truth)[:FLAGS.misclassified_images]
    for i in wrong:
        tag = f"misclassified/{i:05d} true {class_names[truth[i]]} predicted {class_names[predicted[i]]}"
        writer.add_summary(summaries.image_summary(tag, display[i:i + 1]), step)
    writer.add_summary(summaries.histogram_summary("activations/last_hidden_layer", features), step)
    writer.close()
    if FLAGS.projector_examples:
        n = min(FLAGS.projector_examples, len(truth))
        analysis.write_projector(eval_dir, features[:n], display[:n], truth[:n], class_names, predicted[:n])
    print(f"TensorBoard: tensorboard --logdir {run_dir}  (eval/: confusion matrix, {len(wrong)} misclassified "
          f"images, projector of {min(FLAGS.projector_examples, len(truth))} test images)")
    return 0


if __name__ == "__main__":
    _cli.run(main)
