r"""Measures training and evaluation throughput against plain Keras and the machine's matmul roofline.

    python -m chapter5.benchmark                         # a few minutes, offline
    python -m chapter5.benchmark --epoch_dataset=fashion_mnist --epoch_data_dir=/usr/share/datasets/fashion-mnist
    python -m chapter5.benchmark --quick                 # tiny sizes (the test uses this)

In one process, after warm-up, it measures:

* ``dlfund``: images/s of ``chapter5.train``'s own training step (one
  ``sess.run([train_op, cost])`` fed from ``DataSet.next_batch``) for
  ``mnist_conv`` at batch 100 and 50;
* ``keras``: the same network, optimizer and batch in plain ``tf.keras``
  (``model.fit`` on the same arrays); the ratio of the two is the headline.
  The two are measured in alternating rounds and the medians reported;
* evaluation images/s over the test set in batches of ``--eval_batch_size``;
* the matmul roofline (a large float32 ``tf.matmul``) and the training step's
  share of it, from the model's FLOPs per image (convolutions and matrix
  products, forward and backward: counted in :func:`mnist_conv_flops`);
* the memory bandwidth a memory-bound TF op gets (:func:`memory_bandwidth`);
* the speed-up of ``--fast_matmul_grad`` on the whole training step, from
  alternated chunks of both variants (:func:`paired_speedup`);
* where the step's time goes: TF's step trace of the same training step, its
  op times summed by kind (convolutions and matrix products, optimizer
  update, pooling, the rest), and the roofline share the step would reach if
  only the convolutions and matrix products took time (:func:`step_breakdown`);
* ``distorted_inputs`` images/s (the CIFAR-10 augmentation pipeline alone);
* a checkpoint's size and the time to save it, with and without reading it
  back before it counts as saved (:func:`checkpoint_save_cost`), and the size
  of a checkpoint of each flagfile's network and optimizer (:func:`checkpoint_sizes`);
* in a ``chapter5.train`` subprocess: wall time from process start to the
  first training step, one full epoch (data feeding, validation, summaries and
  checkpoints included) against the time of its own training steps, and peak
  resident memory.

It prints a table and writes it as JSON (``--json``).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator

import numpy as np
import tensorflow as tf
from absl import flags

from chapter5 import _cli, flag_defs, flagfiles, from_flags
from dlfund import checkpoints, keras_models, training
from dlfund.data import mnist
from dlfund.graph import build_graph
from dlfund.models import get_model

v1 = tf.compat.v1

def define_flags(fv: flags.FlagValues) -> None:
    flag_defs.define_cli_flags(fv)
    flag_defs.define_quick(fv)
    flag_defs.define_eval_batch_size(fv)
    flag_defs.define_threads(fv)
    d = dict(flag_values=fv)
    flags.DEFINE_float("seconds", 12.0, "Measuring time per training-throughput figure and framework, split "
                       "over --rounds (after warm-up).", lower_bound=0.1, **d)
    flags.DEFINE_list("batch_sizes", ["100", "50"], "Training batch sizes to measure.", **d)
    flags.DEFINE_string("json", "benchmark.json", "Where to write the results as JSON ('' = do not write).", **d)
    flags.DEFINE_string("epoch_dataset", "mnist_sample", "Data set of the full-epoch run (fashion_mnist or mnist "
                        "for a 55,000-image epoch like mnist_conv.cfg's; mnist_sample offline).", **d)
    flags.DEFINE_string("epoch_data_dir", "data", "--data_dir of the full-epoch run.", **d)
    flags.DEFINE_bool("keras", True, "Also measure the plain-Keras baseline.", **d)
    flags.DEFINE_integer("trace_steps", 10, "Traced training steps for the time breakdown (0 = skip).",
                         lower_bound=0, **d)
    flags.DEFINE_integer("fast_grad_pairs", 150, "Paired chunks measuring --fast_matmul_grad against the default "
                         "gradient on the whole step (0 = skip).", lower_bound=0, **d)
    flags.DEFINE_integer("rounds", 4, "Alternating dlfund/Keras measuring rounds per batch size (medians reported).",
                         lower_bound=1, **d)


def mnist_conv_flops() -> dict:
    """Multiply-add FLOPs (2 per MAC) of one image through mnist_conv, forward and backward.

    Backward = weight gradients (as many FLOPs as the forward pass) plus input
    gradients of every layer but the first (nothing needs the image's gradient).
    """
    layers = {  # name: (forward FLOPs, FLOPs of its input gradient)
        "conv_1": 28 * 28 * 32 * (5 * 5 * 1) * 2,
        "conv_2": 14 * 14 * 64 * (5 * 5 * 32) * 2,
        "fc": 7 * 7 * 64 * 1024 * 2,
        "output": 1024 * 10 * 2,
    }
    forward = sum(layers.values())
    backward = forward + forward - layers["conv_1"]
    return {"forward": forward, "backward": backward, "total": forward + backward}


@contextlib.contextmanager
def initialized(model: str, config: v1.ConfigProto, **build_args) -> Iterator[tuple]:
    """``(graph, session)`` of ``model`` built with seed 0 and no image summaries, its variables initialized.

    The session is not made the default (as ``with Session()`` would): Keras, measured beside it, runs eagerly.
    """
    g = build_graph(get_model(model), seed=0, summary_images=False, **build_args)
    sess = v1.Session(graph=g.graph, config=config)
    try:
        sess.run(g.init_op)
        yield g, sess
    finally:
        sess.close()


class DlfundTrainer:
    """chapter5.train's step: ``next_batch`` and :func:`dlfund.training.train_step`."""

    def __init__(self, train: mnist.DataSet, batch_size: int, config: v1.ConfigProto,
                 fast_matmul_grad: bool = False) -> None:
        self.train, self.batch_size = train, batch_size
        self._open = contextlib.ExitStack()
        self.g, self.sess = self._open.enter_context(initialized("mnist_conv", config,
                                                                 fast_matmul_grad=fast_matmul_grad))

    def step(self, run_metadata: v1.RunMetadata | None = None) -> int:
        """One training step (:func:`dlfund.training.train_step`); with ``run_metadata``, the same step traced
        into it (TensorFlow's FULL_TRACE)."""
        minibatch_x, minibatch_y = self.train.next_batch(self.batch_size)
        if run_metadata is None:
            training.train_step(self.sess, self.g, minibatch_x, minibatch_y, 0.5)
        else:
            self.sess.run([self.g.train_op, self.g.cost],
                          training.train_feed(self.g, minibatch_x, minibatch_y, 0.5), run_metadata=run_metadata,
                          options=v1.RunOptions(trace_level=v1.RunOptions.FULL_TRACE))
        return self.batch_size

    def close(self) -> None:
        self._open.close()


#: Op kinds of the time breakdown, by a substring of the executed op's type (first match wins;
#: oneDNN renames ops, e.g. ``_MklNativeFusedConv2D``, ``_MklMatMul``).
OP_KINDS = (("conv and matmul", ("Conv2D", "MatMul")), ("optimizer update", ("Apply",)),
            ("pooling", ("Pool",)))
OTHER_KIND = "element-wise and other"


def op_kind(op_type: str) -> str:
    for kind, markers in OP_KINDS:
        if any(m in op_type for m in markers):
            return kind
    return OTHER_KIND


def step_breakdown(trainer: DlfundTrainer, steps: int, step_fraction_of_roofline: float) -> dict:
    """Where one training step's time goes, from TF's step trace (FULL_TRACE).

    Sums each traced step's op times by :data:`OP_KINDS` and reports medians over
    ``steps``, and each kind's share of the op time. Shares are steadier than
    milliseconds on a machine whose speed drifts, so the ceiling is computed from
    them: ``ceiling_fraction_of_roofline`` is the step's measured share of the
    roofline divided by the convolutions' and matrix products' share of its time,
    the share the step would reach if everything else took no time.
    """
    scope = trainer.g.spec.scope
    per_step, by_op = [], {}
    for _ in range(steps):
        metadata = v1.RunMetadata()
        trainer.step(metadata)
        sums = dict.fromkeys([k for k, _ in OP_KINDS] + [OTHER_KIND], 0.0)
        for device in metadata.step_stats.dev_stats:
            for node in device.node_stats:
                op_type = node.timeline_label.split(" = ")[-1].split("(")[0] if " = " in node.timeline_label else ""
                ms = node.all_end_rel_micros / 1000
                sums[op_kind(op_type)] += ms
                short = node.node_name.split(":")[0].replace(scope + "/", "").replace("gradients/", "grad/")
                by_op.setdefault(f"{short} ({op_type})", []).append(ms)
        per_step.append(sums)
    totals = [sum(s.values()) for s in per_step]
    kinds_ms = {k: float(np.median([s[k] for s in per_step])) for k in per_step[0]}
    kinds_share = {k: float(np.median([s[k] / t for s, t in zip(per_step, totals, strict=True)])) for k in per_step[0]}
    top = sorted(((float(np.median(v)), k) for k, v in by_op.items()), reverse=True)[:12]
    return {"batch_size": trainer.batch_size, "steps": steps, "ops_ms": float(np.median(totals)),
            "kinds_ms": kinds_ms, "kinds_share": kinds_share,
            "ceiling_fraction_of_roofline": step_fraction_of_roofline / kinds_share["conv and matmul"],
            "largest_ops_ms": {name: ms for ms, name in top}}


def dlfund_eval_throughput(test: mnist.DataSet, batch_size: int, repeats: int, config: v1.ConfigProto) -> float:
    """Images/s of :func:`dlfund.training.evaluate_set` over the test set."""
    with initialized("mnist_conv", config, with_training=False) as (g, sess):
        training.evaluate_set(sess, g, test, batch_size)  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            training.evaluate_set(sess, g, test, batch_size)
        return repeats * test.num_examples / (time.perf_counter() - start)


class KerasTrainer:
    """The same network in plain Keras (:func:`dlfund.keras_models.keras_model`, what ``chapter5.export``
    writes), trained with ``model.fit`` on the same arrays, one epoch per step.

    ``max_examples`` shortens that epoch (``--quick``).
    """

    def __init__(self, train: mnist.DataSet, batch_size: int, max_examples: int = 0) -> None:
        keras = tf.keras
        tf.random.set_seed(0)
        self.model = keras_models.keras_model("mnist_conv", keep_prob=0.5)
        self.model.compile(optimizer=keras.optimizers.Adam(1e-4),
                           loss=keras.losses.CategoricalCrossentropy(from_logits=True))
        n = min(train.num_examples, max_examples or train.num_examples)
        n -= n % batch_size
        self.x, self.y, self.batch_size = train.images[:n], train.labels[:n], batch_size

    def step(self) -> int:
        self.model.fit(self.x, self.y, batch_size=self.batch_size, epochs=1, verbose=0, shuffle=True)
        return len(self.x)


def paired_speedup(baseline: DlfundTrainer, variant: DlfundTrainer, chunks: int, steps: int = 3) -> dict:
    """How much faster ``variant``'s step is than ``baseline``'s: chunks of ``steps`` steps of each, alternated.

    The order within each pair alternates too; the median of the per-pair time ratios
    (baseline / variant) cancels the machine's drift, which separate runs do not.
    """
    def chunk(trainer: DlfundTrainer) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            trainer.step()
        return time.perf_counter() - start

    for _ in range(min(chunks, 3)):  # warm-up
        chunk(baseline), chunk(variant)
    ratios = []
    for i in range(chunks):
        if i % 2:
            v, b = chunk(variant), chunk(baseline)
        else:
            b, v = chunk(baseline), chunk(variant)
        ratios.append(b / v)
    return {"median": float(np.median(ratios)), "q25": float(np.quantile(ratios, 0.25)),
            "q75": float(np.quantile(ratios, 0.75)), "pairs": chunks, "steps_per_chunk": steps}


def timed_rate(step: Callable[[], float], seconds: float) -> float:
    """Calls ``step`` (which returns the work it did) for at least ``seconds``, once at least; work per second."""
    work, start = 0.0, time.perf_counter()
    while work == 0 or time.perf_counter() - start < seconds:
        work += step()
    return work / (time.perf_counter() - start)


def compare_training(train: mnist.DataSet, batch_size: int, seconds: float, rounds: int, keras: bool,
                     warmup: int, roofline: Roofline, config: v1.ConfigProto, trace_steps: int = 0,
                     keras_examples: int = 0) -> dict:
    """Alternates timed chunks of the roofline matmul, dlfund and Keras; medians of per-round figures.

    Alternating in rounds makes the ratios robust to the machine's speed drifting
    (shared virtual machines do, by 20% here), which back-to-back runs are not.
    """
    trainers = {"roofline": roofline, "dlfund": DlfundTrainer(train, batch_size, config)}
    if keras:
        trainers["keras"] = KerasTrainer(train, batch_size, keras_examples)
    for name, t in trainers.items():
        for _ in range(warmup if name == "dlfund" else 1):
            t.step()
    # Each round gives the matmul a third of the time of a training figure: enough for a stable rate.
    rates = {name: [] for name in trainers}
    for _ in range(rounds):
        for name, t in trainers.items():
            rates[name].append(timed_rate(t.step, seconds / rounds / (3 if name == "roofline" else 1)))
    flops = mnist_conv_flops()["total"]
    fractions = np.array(rates["dlfund"]) * flops / 1e9 / np.array(rates["roofline"])
    out = {"dlfund_images_per_s": float(np.median(rates["dlfund"])), "dlfund_rounds": rates["dlfund"],
           "roofline_gflops": float(np.median(rates["roofline"])), "roofline_rounds": rates["roofline"],
           "fraction_of_roofline": float(np.median(fractions))}
    if keras:
        out["keras_images_per_s"] = float(np.median(rates["keras"]))
        out["keras_rounds"] = rates["keras"]
        out["ratio_vs_keras"] = float(np.median(np.array(rates["dlfund"]) / np.array(rates["keras"])))
    if trace_steps:
        out["breakdown"] = step_breakdown(trainers["dlfund"], trace_steps, out["fraction_of_roofline"])
    trainers["dlfund"].close()
    return out


class Roofline:
    """A large float32 matmul (2 n^3 FLOPs) in a TF session; ``step`` returns GFLOP done."""

    def __init__(self, size: int, config: v1.ConfigProto) -> None:
        self.size = size
        graph = tf.Graph()
        with graph.as_default():
            a = tf.Variable(tf.random.normal([size, size], seed=1))
            b = tf.Variable(tf.random.normal([size, size], seed=2))
            self.product = tf.reduce_sum(tf.matmul(a, b))
            self.sess = v1.Session(graph=graph, config=config)
            self.sess.run(v1.global_variables_initializer())
        self.sess.run(self.product)

    def step(self) -> float:
        self.sess.run(self.product)
        return 2 * self.size ** 3 / 1e9


def checkpoint_save_cost(saves: int, config: v1.ConfigProto) -> dict:
    """Seconds per checkpoint of ``mnist_conv`` with Adam: the Saver's write alone, and
    :class:`dlfund.checkpoints.CheckpointKeeper`'s save (write, read back in full, state file), alternated."""
    raw, kept = [], []
    with initialized("mnist_conv", config) as (g, sess), tempfile.TemporaryDirectory() as d:
        keeper = checkpoints.CheckpointKeeper(g.saver, os.path.join(d, "kept"))
        os.makedirs(keeper.run_dir)
        for step in range(1, saves + 2):  # the first pair is warm-up
            start = time.perf_counter()
            with g.graph.as_default():
                path = g.saver.save(sess, os.path.join(d, "raw"), global_step=step, write_meta_graph=False)
            raw.append(time.perf_counter() - start)
            start = time.perf_counter()
            keeper.save(sess, step)
            kept.append(time.perf_counter() - start)
        size = sum(os.path.getsize(f) for f in checkpoints.checkpoint_files(path))
    return {"saver_save_s": float(np.median(raw[1:])), "checked_save_s": float(np.median(kept[1:])),
            "checkpoint_mb": size / 1e6, "saves": saves}


#: (model, optimizer) of the shipped flagfiles, whose checkpoint sizes the benchmark reports.
CHECKPOINTED = (("mnist_conv", "adam"), ("mnist_conv", "sgd"), ("mlp", "sgd"), ("cifar_conv", "adam"),
                ("cifar_conv_bn", "adam"))


def checkpoint_sizes(config: v1.ConfigProto) -> dict:
    """Megabytes of one checkpoint (weights and optimizer slots) per (model, optimizer) of the flagfiles."""
    sizes = {}
    for model, optimizer in CHECKPOINTED:
        with initialized(model, config, optimizer=optimizer, sparse_labels=model.startswith("cifar")) as (g, sess), \
                tempfile.TemporaryDirectory() as d:
            with g.graph.as_default():
                path = g.saver.save(sess, os.path.join(d, "model-checkpoint"), global_step=1,
                                    write_meta_graph=False)
            sizes[f"{model} {optimizer}"] = sum(os.path.getsize(f) for f in checkpoints.checkpoint_files(path)) / 1e6
    return sizes


def memory_bandwidth(megabytes: float, seconds: float, config: v1.ConfigProto) -> float:
    """GB/s of a memory-bound TF op: ``var -= alpha * delta`` over two float32 arrays (12 bytes per element).

    The counterpart of the matmul roofline for the step's memory-bound ops
    (optimizer update, pooling, element-wise): their floor is the bytes they
    move divided by this (docs/performance.md).
    """
    n = int(megabytes * 1e6 / 4)
    graph = tf.Graph()
    with graph.as_default():
        var = tf.Variable(tf.ones([n]))
        delta = tf.Variable(tf.ones([n]))
        update = tf.raw_ops.ResourceApplyGradientDescent(var=var.handle, alpha=tf.constant(1e-6), delta=delta)
        with v1.Session(graph=graph, config=config) as sess:
            sess.run(v1.global_variables_initializer())
            for _ in range(3):
                sess.run(update)

            def step() -> float:
                sess.run(update)
                return 12 * n / 1e9  # GB moved

            return timed_rate(step, seconds)


def cifar_train_throughput(model: str, steps: int, config: v1.ConfigProto, batch_size: int = 128) -> float:
    """Images/s of the CIFAR-10 training step alone (random pre-made batches fed)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch_size, 24, 24, 3), dtype=np.float32)
    y = rng.integers(0, 10, batch_size).astype(np.int32)
    with initialized(model, config, sparse_labels=True, learning_rate=1e-3) as (g, sess):
        for _ in range(3):
            training.train_step(sess, g, x, y, 0.5)
        start = time.perf_counter()
        for _ in range(steps):
            training.train_step(sess, g, x, y, 0.5)
        return steps * batch_size / (time.perf_counter() - start)


def cifar_pipeline_throughput(batches: int, records: int, config: v1.ConfigProto) -> float:
    """Images/s of distorted_inputs alone, on synthetic CIFAR-10 files."""
    from dlfund.data import cifar10
    with tempfile.TemporaryDirectory() as d:
        rng = np.random.default_rng(0)
        for name in cifar10.TRAIN_FILES:
            rng.integers(0, 256, (records, cifar10.RECORD_BYTES)).astype(np.uint8).tofile(os.path.join(d, name))
        graph = tf.Graph()
        with graph.as_default():
            images, labels = cifar10.distorted_inputs(d, 128, seed=0)
            with v1.Session(graph=graph, config=config) as sess:
                for _ in range(5):
                    sess.run([images, labels])
                start = time.perf_counter()
                for _ in range(batches):
                    sess.run([images, labels])
                return batches * 128 / (time.perf_counter() - start)


def epoch_run(dataset: str, data_dir: str, quick: bool, config: v1.ConfigProto) -> dict:
    """Two epochs of mnist_conv.cfg in a chapter5.train subprocess: start-up, epoch time, peak memory.

    The second epoch is the steady state compared with its own training steps; the first
    also pays one-time warm-up (graph optimization, kernel selection), reported apart.
    """
    with tempfile.TemporaryDirectory() as logs:
        flagfile = os.path.join(flagfiles.FLAGFILE_DIR, "mnist_conv.cfg")
        args = [sys.executable, "-m", "chapter5.train", f"--flagfile={flagfile}",
                f"--dataset={dataset}", f"--data_dir={data_dir}", f"--logdir={logs}", "--run_name=bench",
                "--training_epochs=2", "--progress=off", f"--intra_op_threads={config.intra_op_parallelism_threads}",
                f"--inter_op_threads={config.inter_op_parallelism_threads}"]
        if quick:
            args += ["--max_steps=5", "--training_epochs=1"]
        start = time.perf_counter()
        proc = subprocess.run(args, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"chapter5.train failed: {proc.stderr.strip().splitlines()[-1:]}")
        with open(os.path.join(logs, "bench", "results.json")) as f:
            results = json.load(f)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    epochs = list(results["epoch_seconds"].values())
    return {"wall_seconds": wall, "startup_seconds": results["startup_seconds"],
            "first_epoch_seconds": epochs[0], "epoch_seconds": epochs[-1],
            "epoch_step_seconds": list(results["step_seconds"].values())[-1],
            "train_seconds": results["train_seconds"], "steps": results["global_step"] // len(epochs),
            "peak_rss_mb": peak_kb / 1024}


def measure_training(fv: flags.FlagValues, train: mnist.DataSet, config: v1.ConfigProto, results: dict) -> None:
    """The training figures of every ``--batch_sizes`` (the first also gets the step breakdown)."""
    quick = fv.quick
    batch_sizes = [int(b) for b in fv.batch_sizes]
    flops = results["flops_per_image"]
    roofline = Roofline(256 if quick else 2048, config)
    for bs in batch_sizes:
        trace = (min(fv.trace_steps, 2) if quick else fv.trace_steps) if bs == batch_sizes[0] else 0
        entry = compare_training(train, bs, 0.2 if quick else fv.seconds, 1 if quick else fv.rounds, fv.keras,
                                 1 if quick else 20, roofline, config, trace_steps=trace,
                                 keras_examples=bs if quick else 0)
        entry["gflops"] = entry["dlfund_images_per_s"] * flops["total"] / 1e9
        results["train"][str(bs)] = entry
        results["roofline_gflops"] = entry["roofline_gflops"]
        print(f"  matmul roofline ({roofline.size}x{roofline.size} float32, median of rounds): "
              f"{entry['roofline_gflops']:.1f} GFLOP/s", flush=True)
        print(f"  train batch {bs}: dlfund {entry['dlfund_images_per_s']:.0f} img/s"
              + (f", keras {entry['keras_images_per_s']:.0f} img/s, ratio {entry['ratio_vs_keras']:.2f}x"
                 if fv.keras else "")
              + f", {entry['gflops']:.0f} GFLOP/s = {100 * entry['fraction_of_roofline']:.0f}% of roofline "
              f"(median of per-round ratios)", flush=True)
        if "breakdown" in entry:
            b = entry["breakdown"]
            print(f"  where a batch-{bs} step goes (TF step trace, median of {b['steps']} steps, "
                  f"{b['ops_ms']:.1f} ms of ops): " + ", ".join(f"{k} {v:.1f} ms ({100 * b['kinds_share'][k]:.0f}%)"
                                                             for k, v in b["kinds_ms"].items()), flush=True)
            print(f"    if only the convolutions and matrix products took time, the step would reach "
                  f"{100 * b['ceiling_fraction_of_roofline']:.0f}% of roofline", flush=True)


def measure_epoch(fv: flags.FlagValues, config: v1.ConfigProto, results: dict) -> None:
    """A real ``chapter5.train`` run: start-up, a full epoch against its own steps, peak memory."""
    epoch = epoch_run(fv.epoch_dataset, fv.epoch_data_dir, fv.quick, config)
    # The target's ratio: the epoch against its own training steps' time, both measured in the same
    # epoch, so the machine's speed drifting between measurements cancels out.
    epoch["overhead_ratio"] = epoch["epoch_seconds"] / epoch["epoch_step_seconds"]
    # For comparison: the same number of steps at the rate measured above, minutes earlier.
    step_rate = results["train"].get("100", next(iter(results["train"].values())))["dlfund_images_per_s"]
    epoch["pure_step_seconds"] = epoch["steps"] * 100 / step_rate
    epoch["ratio_vs_measured_step_rate"] = epoch["epoch_seconds"] / epoch["pure_step_seconds"]
    epoch["dataset"] = fv.epoch_dataset
    results["epoch"] = epoch
    print(f"  full epoch ({fv.epoch_dataset}, {epoch['steps']} steps of 100, with validation, summaries and "
          f"checkpoint): {epoch['epoch_seconds']:.1f} s vs {epoch['epoch_step_seconds']:.1f} s of its training steps = "
          f"{epoch['overhead_ratio']:.2f}x; against the step rate above ({epoch['pure_step_seconds']:.1f} s): "
          f"{epoch['ratio_vs_measured_step_rate']:.2f}x "
          f"(first epoch, with warm-up: {epoch['first_epoch_seconds']:.1f} s)",
          flush=True)
    print(f"  start-up to first step: {epoch['startup_seconds']:.1f} s; peak memory {epoch['peak_rss_mb']:.0f} MB",
          flush=True)


def instruction_set(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The vector instructions oneDNN may use here: the CPU's widest (AVX-512, AVX2, ...), and the limits set by
    ``ONEDNN_MAX_CPU_ISA`` and ``XLA_FLAGS=--xla_cpu_max_isa=...`` when they are."""
    try:
        with open(cpuinfo) as f:
            flags_line = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        flags_line = ""
    present = set(flags_line.split(":", 1)[-1].split())
    widest = next((name for name, flag in (("AVX-512", "avx512f"), ("AVX2", "avx2"), ("AVX", "avx"),
                                           ("SSE4.2", "sse4_2")) if flag in present), "unknown")
    limits = [f"ONEDNN_MAX_CPU_ISA={os.environ['ONEDNN_MAX_CPU_ISA']}"] if os.environ.get("ONEDNN_MAX_CPU_ISA") else []
    limits += [f for f in os.environ.get("XLA_FLAGS", "").split() if f.startswith("--xla_cpu_max_isa")]
    return widest + (f" (limited: {', '.join(limits)})" if limits else "")


def main(argv: list, fv: flags.FlagValues) -> int:
    _cli.no_arguments(argv)
    quick = fv.quick
    config = from_flags.session_config(fv)
    data = mnist.read_data_sets("", dataset="mnist_sample")
    results = {"machine": {"python": platform.python_version(), "tensorflow": tf.__version__,
                           "platform": platform.platform(), "cpus": os.cpu_count(),
                           "processor": platform.processor() or platform.machine(),
                           "instruction_set": instruction_set()},
               "quick": quick, "flops_per_image": mnist_conv_flops(), "train": {}}
    print(f"Benchmark: mnist_conv, TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, "
          f"{results['machine']['instruction_set']}"
          + (" (quick: numbers not meaningful)" if quick else ""), flush=True)
    measure_training(fv, data.train, config, results)
    megabytes = 4 if quick else 50
    results["memory_bandwidth_gb_s"] = memory_bandwidth(megabytes, 0.2 if quick else 2.0, config)
    print(f"  memory bandwidth (var -= a * delta over {megabytes} MB float32 arrays): "
          f"{results['memory_bandwidth_gb_s']:.1f} GB/s", flush=True)
    results["eval_images_per_s"] = dlfund_eval_throughput(data.test, fv.eval_batch_size, 1 if quick else 5, config)
    print(f"  evaluation: {results['eval_images_per_s']:.0f} img/s (batch {fv.eval_batch_size})", flush=True)
    if fv.fast_grad_pairs:
        base, fast = (DlfundTrainer(data.train, 100, config, fast_matmul_grad=f) for f in (False, True))
        results["fast_matmul_grad_speedup"] = paired_speedup(base, fast, 1 if quick else fv.fast_grad_pairs,
                                                             1 if quick else 3)
        base.close(), fast.close()
        s = results["fast_matmul_grad_speedup"]
        print(f"  --fast_matmul_grad, whole training step (batch 100, {s['pairs']} paired chunks): "
              f"{s['median']:.3f}x (quartiles {s['q25']:.3f}-{s['q75']:.3f})", flush=True)
    results["cifar_distorted_inputs_images_per_s"] = cifar_pipeline_throughput(3 if quick else 60,
                                                                                 50 if quick else 2000, config)
    results["cifar_conv_train_images_per_s"] = cifar_train_throughput("cifar_conv", 2 if quick else 30, config)
    print(f"  CIFAR-10 distorted_inputs alone: {results['cifar_distorted_inputs_images_per_s']:.0f} img/s; "
          f"cifar_conv training step (batch 128): {results['cifar_conv_train_images_per_s']:.0f} img/s", flush=True)
    results["checkpoint"] = c = checkpoint_save_cost(2 if quick else 12, config)
    print(f"  checkpoint ({c['checkpoint_mb']:.1f} MB, mnist_conv with Adam): saver.save {c['saver_save_s']:.3f} s, "
          f"written and read back {c['checked_save_s']:.3f} s (median of {c['saves']})", flush=True)
    results["checkpoint_mb"] = sizes = checkpoint_sizes(config)
    print("  checkpoint sizes: " + ", ".join(f"{k} {mb:.1f} MB" for k, mb in sizes.items()), flush=True)
    measure_epoch(fv, config, results)
    if fv.json:
        with open(fv.json, "w") as f:
            json.dump(results, f, indent=1)
        print(f"Wrote {fv.json}")
    return 0


if __name__ == "__main__":
    _cli.run(define_flags, main)
