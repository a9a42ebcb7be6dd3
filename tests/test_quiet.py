"""dlfund.quiet: TensorFlow imported without its start-up lines and without Keras, which loads when first used.

The import is a process's first state, so this runs in a new interpreter (``python -c``), in the background from
the session's start.
"""

import subprocess

import pytest
from conftest import CHILDREN, REPO, finish, scenario

IMPORTED = """
import os, sys
import chapter5  # the programs' first import: TensorFlow, quietly
print("keras imported with TensorFlow:", "keras" in sys.modules)
print("TF_USE_LEGACY_KERAS left:", os.environ.get("TF_USE_LEGACY_KERAS"))
import tensorflow as tf
import keras
print("tf.keras is Keras", keras.__version__.split(".")[0], tf.keras.layers.Dense is keras.layers.Dense)
from dlfund import keras_models
print("model:", keras_models.keras_model("mnist_conv").name)
"""


@scenario
def fresh_import(workdir):
    proc = CHILDREN.start(["-c", IMPORTED], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return finish(proc, "python -c 'import chapter5 ...'")


@pytest.mark.background("fresh_import")
def test_tensorflow_comes_without_keras_and_keras_3_comes_when_used(background):
    code, out, err = background.result("fresh_import")
    assert code == 0, err[-2000:]
    assert err.strip() == "", err[-2000:]  # no start-up noise either
    assert out.splitlines() == ["keras imported with TensorFlow: False", "TF_USE_LEGACY_KERAS left: None",
                                "tf.keras is Keras 3 True", "model: mnist_conv_model"]
