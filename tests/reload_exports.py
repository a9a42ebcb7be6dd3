"""Run in a new Python process by test_programs.py: loads exported models as a reader would, without dlfund's
model code, and prints their accuracy on the bundled sample's test digits as JSON.

    python tests/reload_exports.py --keras=q.keras --saved_model=q_saved_model --tflite=q.tflite
"""

import argparse
import json
import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from dlfund.data import mnist  # noqa: E402  (only to read the digits)


def main() -> None:
    parser = argparse.ArgumentParser()
    for fmt in ("keras", "saved_model", "tflite"):
        parser.add_argument(f"--{fmt}")
    args = parser.parse_args()
    test = mnist.read_data_sets("", dataset="mnist_sample", one_hot=False).test
    x, truth = test.images, test.label_ids
    results = {}
    if args.keras:
        import keras
        results["keras"] = keras.models.load_model(args.keras).predict(x, verbose=0)
    if args.saved_model:
        loaded = tf.saved_model.load(args.saved_model)  # kept: its variables live as long as it does
        results["saved_model"] = loaded.signatures["serving_default"](x=tf.constant(x))["output_0"].numpy()
    if args.tflite:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter announces its successor, ai-edge-litert
            interpreter = tf.lite.Interpreter(model_path=args.tflite)
        entry, exit_ = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        interpreter.resize_tensor_input(entry["index"], x.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(entry["index"], x)
        interpreter.invoke()
        results["tflite"] = interpreter.get_tensor(exit_["index"])
    print(json.dumps({fmt: {"accuracy": float((p.argmax(1) == truth).mean()), "predicted": p.argmax(1).tolist(),
                            "sums": float(np.abs(p.sum(1) - 1).max())} for fmt, p in results.items()}))


if __name__ == "__main__":
    main()
