r"""Carries a trained network into today's TensorFlow: a Keras file, a SavedModel, or a TFLite model.

    python -m chapter5.export --logdir=logs --run_name=quickstart --format=keras --output=quickstart.keras
    python -m chapter5.export --logdir=logs --run_name=quickstart --format=saved_model --output=quickstart_saved_model
    python -m chapter5.export --logdir=logs --run_name=quickstart --format=tflite --output=quickstart.tflite

The network is rebuilt in Keras 3 (``dlfund/keras_models.py``, layers named
after the book's scopes) and the run's latest checkpoint, or ``--checkpoint``
(a checkpoint of the book's own code too), is copied into it.

What the exported model takes and gives, in every format:

* input ``x``: what the ``x`` placeholder takes. MNIST-format models: float32
  [batch, 784], the 28x28 pixels row by row in [0, 1], light digit on black
  (``dlfund.digits.mnist_like`` makes one from a photo). CIFAR-10 models:
  float32 [batch, 24, 24, 3], the central 24x24 crop of the 32x32 image,
  whitened per image (``dlfund.preprocessing.eval_preprocess``).
* output: the ten class probabilities, float32 [batch, 10] (the softmax of the
  logits), batch norm using its moving averages and dropout off.

The preprocessing stays outside the model, as in the book: a model file is the
network, and the same input gives the same numbers as ``chapter5.evaluate``.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import tensorflow as tf
from absl import flags

from chapter5 import _cli, flag_defs, from_flags, rundir
from dlfund import keras_models
from dlfund.errors import DlfundError

FORMATS = ("keras", "saved_model", "tflite")

HOW_TO_LOAD = {
    "keras": 'keras.models.load_model("{path}").predict(x)',
    "saved_model": 'm = tf.saved_model.load("{path}"); m.serve(x)   (keep m; signature "serving_default": '
                   'input "x", output "output_0")',
    "tflite": 'ai_edge_litert.interpreter.Interpreter(model_path="{path}") (pip install ai-edge-litert), '
              'or tf.lite.Interpreter(model_path="{path}") until TensorFlow removes it',
}


def define_flags(fv: flags.FlagValues) -> None:
    flag_defs.define_trained_model_flags(fv, data_flags=())
    d = dict(flag_values=fv)
    flags.DEFINE_enum("format", "keras", FORMATS, "keras: a .keras file; saved_model: a SavedModel directory "
                      "with a serving_default signature; tflite: a .tflite file.", **d)
    flags.DEFINE_string("output", None, "Where to write the model (a file, or a directory for saved_model).", **d)
    flags.mark_flag_as_required("output", flag_values=fv)


def main(argv: list, fv: flags.FlagValues) -> int:
    _cli.no_arguments(argv)
    run_dir, saved = rundir.trained_model_dir(fv)
    keep_prob = saved.keep_prob if saved is not None else 0.5
    path = rundir.checkpoint_to_use(run_dir, fv.checkpoint)
    options = from_flags.model_options(fv)
    model = keras_models.keras_model(fv.model, options, keep_prob=keep_prob)
    note = keras_models.load_checkpoint(model, path)
    served = keras_models.probability_model(model)
    write(served, fv.format, fv.output)
    print(f"Wrote {fv.output} ({fv.format}): {fv.model} from {path}{' (' + note + ')' if note else ''}.")
    print(f"Input x: float32 {[None, *served.input.shape[1:]]}; output: probabilities float32 [None, 10].")
    print("Load it with: " + HOW_TO_LOAD[fv.format].format(path=fv.output))
    return 0


def write(model, fmt: str, output: str) -> None:
    """Writes ``model`` in ``fmt`` to ``output``, which appears only once it is complete.

    Raises:
        DlfundError: ``output`` cannot be written.
    """
    parent = os.path.dirname(os.path.abspath(output))
    try:
        os.makedirs(parent, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=parent, prefix=".export-") as work:
            staged = os.path.join(work, "model.keras" if fmt == "keras" else "model")
            if fmt == "keras":
                model.save(staged)
            else:
                saved = staged if fmt == "saved_model" else os.path.join(work, "saved_model")
                model.export(saved, format="tf_saved_model", verbose=False)
                if fmt == "tflite":
                    with open(staged, "wb") as f:
                        f.write(tf.lite.TFLiteConverter.from_saved_model(saved).convert())
            if os.path.isdir(output):
                shutil.rmtree(output)
            os.replace(staged, output)
    except OSError as e:
        raise DlfundError(f"{output}: cannot write the exported model ({e.strerror or e})") from None


if __name__ == "__main__":
    _cli.run(define_flags, main)
