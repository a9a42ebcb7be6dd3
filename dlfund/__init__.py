"""dlfund: the convolutional networks of chapter 5 of *Fundamentals of Deep Learning*.

The package is a library: every function takes explicit arguments and builds
graph pieces under ``tf.compat.v1``; nothing here reads command-line flags.
The runnable programs live in the ``chapter5`` package.

Importing ``dlfund`` itself does not import TensorFlow, so that the command-line
programs can quiet TensorFlow's start-up messages before it loads.
"""

__version__ = "0.1.0"
