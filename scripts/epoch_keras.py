r"""The book's MNIST convnet (Book §5.8) as a plain Keras 3 script: the yardstick of issue 42.

    python scripts/epoch_keras.py --data_dir=/usr/share/datasets/fashion-mnist [--epochs=1] [--jit_compile=auto]

Same network (conv 5x5x32, pool, conv 5x5x64, pool, fc 1024, dropout 0.5, 10
logits), Adam 1e-4, batch 100, ``model.fit`` with Keras's defaults (shuffled,
``jit_compile="auto"``, which compiles the step with XLA where it can), the
validation error after each epoch, then the test accuracy. Prints the lines of
``chapter5.train`` so the results can be compared.
"""

from __future__ import annotations

import argparse

import _idx
import keras


def network() -> keras.Model:
    """The §5.8 network in Keras's usual form (He-normal kernels, as the book's N(0, sqrt(2/fan_in)))."""
    init = "he_normal"
    return keras.Sequential([
        keras.Input((784,)),
        keras.layers.Reshape((28, 28, 1)),
        keras.layers.Conv2D(32, 5, padding="same", activation="relu", kernel_initializer=init),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(64, 5, padding="same", activation="relu", kernel_initializer=init),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(1024, activation="relu", kernel_initializer=init),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, kernel_initializer=init),
    ])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--jit_compile", default="auto", choices=["auto", "true", "false"])
    args = parser.parse_args()
    data = _idx.load(args.data_dir)
    keras.utils.set_random_seed(0)
    model = network()
    model.compile(optimizer=keras.optimizers.Adam(1e-4),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
                  jit_compile={"auto": "auto", "true": True, "false": False}[args.jit_compile])
    history = model.fit(*data["train"], batch_size=100, epochs=args.epochs, validation_data=data["validation"],
                        verbose=2)
    costs, accuracies = history.history["loss"], history.history["val_accuracy"]
    for epoch, (cost, accuracy) in enumerate(zip(costs, accuracies, strict=True)):
        print("Epoch:", "%04d" % (epoch + 1), "cost =", f"{cost:.9f}")
        print("Validation Error:", "%.6f" % (1 - accuracy))
    print("Test Accuracy:", "%.6f" % model.evaluate(*data["test"], batch_size=1000, verbose=0)[1])


if __name__ == "__main__":
    main()
