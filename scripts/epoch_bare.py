r"""The book's ``convnet_mnist.py`` (Book §5.8) ported to ``tf.compat.v1`` and nothing more: issue 42's floor.

    python scripts/epoch_bare.py --data_dir=/usr/share/datasets/fashion-mnist [--epochs=1] [--logdir=DIR]

The listing's graph and loop with the fewest changes that run on TensorFlow 2:
the step and its cost in one ``sess.run`` (errata E9), the logits without the
printed ReLU (E1), shuffled epochs as ``input_data.next_batch`` draws them; at
each epoch's end the validation error in one run, a summary and a checkpoint,
as the listing does; then the test accuracy. No progress, no lock, no resume,
no signals: what ``chapter5.train`` costs beyond this is its own.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import _idx
import numpy as np
import tensorflow as tf

v1 = tf.compat.v1


def layer(x, weight_shape, bias_shape, relu=True):
    w = v1.get_variable("W", weight_shape, initializer=v1.random_normal_initializer(
        stddev=(2.0 / weight_shape[0]) ** 0.5))
    b = v1.get_variable("b", bias_shape, initializer=v1.constant_initializer(0))
    out = tf.matmul(x, w) + b
    return tf.nn.relu(out) if relu else out


def conv2d(x, weight_shape, bias_shape):
    n_in = weight_shape[0] * weight_shape[1] * weight_shape[2]
    w = v1.get_variable("W", weight_shape, initializer=v1.random_normal_initializer(stddev=(2.0 / n_in) ** 0.5))
    b = v1.get_variable("b", bias_shape, initializer=v1.constant_initializer(0))
    return tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME"), b))


def max_pool(x, k=2):
    return tf.nn.max_pool2d(x, ksize=[1, k, k, 1], strides=[1, k, k, 1], padding="SAME")


def inference(x, keep_prob):
    x = tf.reshape(x, shape=[-1, 28, 28, 1])
    with v1.variable_scope("conv_1"):
        pool_1 = max_pool(conv2d(x, [5, 5, 1, 32], [32]))
    with v1.variable_scope("conv_2"):
        pool_2 = max_pool(conv2d(pool_1, [5, 5, 32, 64], [64]))
    with v1.variable_scope("fc"):
        fc_1 = layer(tf.reshape(pool_2, [-1, 7 * 7 * 64]), [7 * 7 * 64, 1024], [1024])
        fc_1_drop = tf.nn.dropout(fc_1, rate=1 - keep_prob)
    with v1.variable_scope("output"):
        return layer(fc_1_drop, [1024, 10], [10], relu=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--logdir", default="")
    args = parser.parse_args()
    logdir = args.logdir or tempfile.mkdtemp(prefix="epoch_bare_")
    data = _idx.load(args.data_dir)
    train_x, train_y = data["train"]
    rng = np.random.default_rng(0)
    with tf.Graph().as_default():
        v1.set_random_seed(0)
        x, y = v1.placeholder("float", [None, 784]), v1.placeholder("float", [None, 10])
        keep_prob = v1.placeholder(tf.float32)
        with v1.variable_scope("mnist_conv_model"):
            output = inference(x, keep_prob)
            cost = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=output))
            v1.summary.scalar("cost", cost)
            global_step = tf.Variable(0, name="global_step", trainable=False)
            train_op = v1.train.AdamOptimizer(1e-4).minimize(cost, global_step=global_step)
            correct = tf.equal(tf.argmax(output, 1), tf.argmax(y, 1))
            eval_op = tf.reduce_mean(tf.cast(correct, tf.float32))
            v1.summary.scalar("validation error", 1.0 - eval_op)
            summary_op = v1.summary.merge_all()
            saver = v1.train.Saver()
        with v1.Session() as sess:
            writer = v1.summary.FileWriter(logdir, graph=sess.graph)
            sess.run(v1.global_variables_initializer())
            total_batch = len(train_x) // 100
            for epoch in range(args.epochs):
                order, avg_cost = rng.permutation(len(train_x)), 0.0
                for i in range(total_batch):
                    batch = order[i * 100:(i + 1) * 100]
                    _, new_cost = sess.run([train_op, cost], {x: train_x[batch], y: train_y[batch], keep_prob: 0.5})
                    avg_cost += new_cost / total_batch
                print("Epoch:", "%04d" % (epoch + 1), "cost =", f"{avg_cost:.9f}")
                val_x, val_y = data["validation"]
                feed = {x: val_x, y: val_y, keep_prob: 1}
                accuracy, summary = sess.run([eval_op, summary_op], feed)
                print("Validation Error:", "%.6f" % (1 - accuracy))
                writer.add_summary(summary, sess.run(global_step))
                saver.save(sess, os.path.join(logdir, "model-checkpoint"), global_step=global_step)
            print("Optimization Finished!")
            print("Test Accuracy:", "%.6f" % sess.run(eval_op, {x: data["test"][0], y: data["test"][1], keep_prob: 1}))
            writer.close()


if __name__ == "__main__":
    main()
