r"""Evaluates a checkpoint on the full test set (Book §5.8, §5.12).

    python -m chapter5.evaluate --logdir=logs --run_name=quickstart
    python -m chapter5.evaluate --checkpoint=PATH --model=mlp --dataset=mnist_sample

Rebuilds the network from the run's saved flags (``flags.cfg``; flags given on
the command line win), restores the latest checkpoint (or ``--checkpoint``),
including batch-norm moving averages, and prints test accuracy and loss,
per-class accuracy and the confusion matrix. TensorBoard gets, in the run's
``eval/`` (``--logdir/<run>/eval``; with ``--checkpoint``, the run named by
``--run_name`` or by the checkpoint's folder, under ``--logdir``, so that a
downloaded or read-only checkpoint folder is left as it was): the scalars, the confusion matrix as an image,
misclassified test images labelled with predicted and true class, activation
histograms of the last hidden layer, and the embedding projector (last hidden
layer of ``--projector_examples`` test images, with a sprite of the images),
Book §5.12; the run's projector opens on that embedding.

A checkpoint written by the book's own TF1 code restores too, whichever
TensorFlow wrote it (0.7 to today), given the matching ``--model``; variables
that do not match are listed.
"""

from __future__ import annotations

import os
import shlex

import numpy as np
from absl import flags

from chapter5 import _cli, flag_defs, from_flags, rundir
from dlfund import analysis, summaries, training
from dlfund.errors import DataError


def define_flags(fv: flags.FlagValues) -> None:
    flag_defs.define_trained_model_flags(fv)
    flag_defs.define_eval_batch_size(fv)
    d = dict(flag_values=fv)
    flags.DEFINE_integer("projector_examples", 2000, "Test images in the embedding projector (0 = none).",
                         lower_bound=0, **d)
    flags.DEFINE_integer("misclassified_images", 24, "Misclassified test images written to TensorBoard.",
                         lower_bound=0, **d)


def main(argv: list, fv: flags.FlagValues) -> int:
    _cli.no_arguments(argv)
    run_dir, _ = rundir.trained_model_dir(fv)
    data = from_flags.load_data(fv, shuffle=False)
    path = rundir.checkpoint_to_use(run_dir, fv.checkpoint)
    g, sess, note = from_flags.build_and_restore(fv, path)
    with sess:
        step = int(sess.run(g.global_step))
        test = training.evaluate_set(sess, g, data.test, fv.eval_batch_size,
                                     fetches={"output": g.output, "hidden": g.hidden})
    truth, predicted = data.test.label_ids, test.outputs["output"].argmax(1)
    cm = analysis.confusion_matrix(truth, predicted)
    class_names = data.source.class_names
    print(f"Checkpoint: {path} (global step {step}{'; ' + note if note else ''})")
    print(f"Model: {fv.model}; data: {data.note}")
    print(f"Test Accuracy: {test.accuracy:.6f}")
    print(f"Test Cost: {test.cost:.6f}")
    print(f"Test examples: {test.num_examples}, misclassified: {int((predicted != truth).sum())}")
    print(analysis.format_confusion(cm, class_names, data.source.short_names), flush=True)
    log_dir = summaries_dir(fv, run_dir)
    wrong = write_eval_summaries(log_dir, fv, data, g.spec.input_shape, test, step, cm)
    analysis.save_evaluation(os.path.join(log_dir, "eval"), step, fv.dataset, data.data_dir, truth, predicted)
    print(f"TensorBoard: tensorboard --logdir {shlex.quote(log_dir)}  (eval/: confusion matrix, {wrong} misclassified "
          f"images; projector of {min(fv.projector_examples, len(truth))} test images)")
    return 0


def summaries_dir(fv: flags.FlagValues, run_dir: str) -> str:
    """Where the evaluation's TensorBoard files go: the run directory, or for ``--checkpoint`` the run under
    ``--logdir`` named by ``--run_name`` or by the checkpoint's folder (never the checkpoint's folder itself,
    unless that is that run)."""
    if not fv.checkpoint:
        return run_dir
    return os.path.join(fv.logdir, fv.run_name or os.path.basename(os.path.dirname(os.path.abspath(fv.checkpoint))))


def write_eval_summaries(run_dir: str, fv: flags.FlagValues, data, input_shape, test: training.Evaluation,
                         step: int, cm: np.ndarray) -> int:
    """Writes ``run_dir/eval``: scalars, confusion matrix, misclassified images, histogram, projector."""
    eval_dir = os.path.join(run_dir, "eval")
    try:
        os.makedirs(eval_dir, exist_ok=True)
    except OSError as e:
        raise DataError(f"{eval_dir}: cannot write ({e.strerror or e}); give --logdir=A_WRITABLE_DIR") from None
    truth, predicted = data.test.label_ids, test.outputs["output"].argmax(1)
    names = data.source.class_names
    display = analysis.display_images(data.test.images, input_shape)
    wrong = np.flatnonzero(predicted != truth)[:fv.misclassified_images]
    with summaries.file_writer(eval_dir) as writer:
        scalars = {"test accuracy": test.accuracy, "test cost": test.cost}
        scalars.update({f"per-class accuracy/{names[i]}": a for i, a in enumerate(analysis.per_class_accuracy(cm))})
        writer.add_summary(summaries.scalar_summary(scalars), step)
        writer.add_summary(summaries.image_summary("confusion matrix", analysis.confusion_image(cm)[None]), step)
        for i in wrong:
            tag = f"misclassified/{i:05d} true {names[truth[i]]} predicted {names[predicted[i]]}"
            writer.add_summary(summaries.image_summary(tag, display[i:i + 1]), step)
        writer.add_summary(summaries.histogram_summary("activations/last_hidden_layer", test.outputs["hidden"]), step)
    if fv.projector_examples:
        n = min(fv.projector_examples, len(truth))
        analysis.write_projector(run_dir, "eval", test.outputs["hidden"][:n], display[:n], truth[:n], names,
                                 predicted[:n])
    return len(wrong)


if __name__ == "__main__":
    _cli.run(define_flags, main)
