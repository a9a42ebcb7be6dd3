r"""Runs a suite of comparable training runs and tabulates them (one command per comparison).

    python -m chapter5.compare --suite=batch_norm
    python -m chapter5.compare --suite=initializers --seeds=3
    python -m chapter5.compare --suite=all --quick        # every suite at smoke size

Each run is ``chapter5.train`` with the suite's flags, run in this process and
written to ``--logdir/<suite>/<run>/`` so that ``tensorboard --logdir logs/<suite>``
overlays their curves. The table ``--logdir/<suite>/results.md`` (and
``results.csv``) gives per run the final test accuracy and cost and the training
time; with ``--seeds=N``, the mean and standard deviation over N seeds.
``--quick`` runs go to ``--logdir/<suite>_quick/`` and their table says it is a
smoke run. The suite's data is read (downloaded if needed) once before any run.
"""

from __future__ import annotations

import concurrent.futures
import csv
import datetime
import io
import os
import platform
import shlex
import statistics
import sys
import time

import tensorflow as tf
from absl import flags

from chapter5 import _cli, flag_defs, flagfiles, from_flags, rundir, train
from dlfund.errors import DlfundError

#: suite -> (description, common flags, [(run name, flags)]). Learning rates are each
#: optimizer's usual one for these networks; MLP runs use SGD 0.05 unless the suite varies it.
MLP = ["--model=mlp", "--optimizer=sgd", "--learning_rate=0.05", "--keep_prob=1"]
SUITES = {
    "batch_norm": (
        "With vs without batch norm (§5.10), convnet and MLP, at a learning rate where both train",
        ["--training_epochs=5"],
        [("mnist_conv", ["--model=mnist_conv", "--learning_rate=1e-3"]),
         ("mnist_conv_bn", ["--model=mnist_conv_bn", "--learning_rate=1e-3"]),
         ("mlp", MLP),
         ("mlp_bn", ["--model=mlp_bn", "--optimizer=sgd", "--learning_rate=0.05", "--keep_prob=1"])]),
    "cifar_batch_norm": (
        "The book's CIFAR-10 comparison (§5.11): cifar_conv.cfg vs cifar_conv_bn.cfg (needs CIFAR-10)",
        ["--dataset=cifar10"],
        [("cifar_conv", ["--flagfile=" + os.path.join(flagfiles.FLAGFILE_DIR, "cifar_conv.cfg")]),
         ("cifar_conv_bn", ["--flagfile=" + os.path.join(flagfiles.FLAGFILE_DIR, "cifar_conv_bn.cfg")])]),
    "initializers": (
        "Weight initialization, MLP 784-256-256-10, SGD 0.05, one epoch",
        ["--training_epochs=1"] + MLP,
        [("normal", ["--weight_init=normal"]), ("glorot_uniform", ["--weight_init=glorot_uniform"]),
         ("glorot_normal", ["--weight_init=glorot_normal"]), ("he_normal", ["--weight_init=he_normal"]),
         ("book", ["--weight_init=book"])]),
    "activations": (
        "Hidden activation, MLP 784-256-256-10, SGD 0.05, Xavier init",
        ["--training_epochs=5", "--weight_init=glorot_uniform"] + MLP,
        [(a, [f"--activation={a}"]) for a in ("relu", "leaky_relu", "elu", "selu", "tanh", "sigmoid")]),
    "dropout": (
        "Dropout keep probability, MLP 784-256-256-10 (Adam 1e-3) and the §5.8 convnet",
        ["--training_epochs=10"],
        [("mlp_keep_1.0", ["--model=mlp", "--optimizer=adam", "--learning_rate=1e-3", "--keep_prob=1"]),
         ("mlp_keep_0.8", ["--model=mlp", "--optimizer=adam", "--learning_rate=1e-3", "--keep_prob=0.8"]),
         ("mlp_keep_0.5", ["--model=mlp", "--optimizer=adam", "--learning_rate=1e-3", "--keep_prob=0.5"]),
         ("conv_keep_1.0", ["--model=mnist_conv", "--learning_rate=1e-3", "--keep_prob=1", "--training_epochs=5"]),
         ("conv_keep_0.5", ["--model=mnist_conv", "--learning_rate=1e-3", "--keep_prob=0.5", "--training_epochs=5"])]),
    "optimizers": (
        "Chapter 4's optimizers on the MLP 784-256-256-10, each at its usual learning rate",
        ["--training_epochs=5", "--model=mlp", "--keep_prob=1"],
        [("sgd", ["--optimizer=sgd", "--learning_rate=0.05"]),
         ("momentum", ["--optimizer=momentum", "--learning_rate=0.01", "--momentum=0.9"]),
         ("adagrad", ["--optimizer=adagrad", "--learning_rate=0.05"]),
         ("rmsprop", ["--optimizer=rmsprop", "--learning_rate=1e-3"]),
         ("adam", ["--optimizer=adam", "--learning_rate=1e-3"])]),
    "shuffle": (
        "Data order: reshuffled every epoch vs fixed order vs sorted by label, MLP, SGD 0.05",
        ["--training_epochs=5"] + MLP,
        [("reshuffled", ["--shuffle"]), ("fixed_order", ["--noshuffle"]), ("sorted_by_label", ["--sort_by_label"])]),
    "lenet5_bn": (
        "LeNet-5 with vs without batch norm, Adam 1e-3",
        ["--training_epochs=5", "--optimizer=adam", "--learning_rate=1e-3", "--keep_prob=1"],
        [("lenet5", ["--model=lenet5"]), ("lenet5_bn", ["--model=lenet5_bn"])]),
}
OFFLINE_SUITES = [s for s in SUITES if s != "cifar_batch_norm"]



def define_flags(fv: flags.FlagValues) -> None:
    flag_defs.define_cli_flags(fv)
    flag_defs.define_logdir(fv)
    flag_defs.define_data_flags(fv, ("dataset", "data_dir"))
    fv.set_default("dataset", "mnist_sample")  # the MNIST suites run offline unless told otherwise
    flag_defs.define_threads(fv)
    flag_defs.define_deterministic(fv)
    flag_defs.define_quick(fv)
    d = dict(flag_values=fv)
    flags.DEFINE_list("suite", None, "Suite(s) to run, comma-separated, from: " + ", ".join(SUITES)
                      + "; 'all' runs every offline suite.", **d)
    flags.DEFINE_integer("seeds", 1, "Runs per configuration with seeds 0..N-1 (mean and std in the table).",
                         lower_bound=1, **d)
    flags.DEFINE_string("report", "", "Also write every suite's table, with the command that made it, into this "
                        "Markdown file (docs/experiments_tables.md is made this way).", **d)
    flags.DEFINE_integer("jobs", 1, "Runs at once (threads of this process). Timings are only comparable with 1.",
                         lower_bound=1, **d)
    flags.DEFINE_list("extra", [], "More flags for every run, e.g. --extra=--training_epochs=20", **d)
    flags.mark_flag_as_required("suite", flag_values=fv)
    flags.register_validator("suite", lambda v: bool(v) and all(s in SUITES or s == "all" for s in v),
                             "--suite takes names from " + ", ".join(SUITES) + " (or all)", **d)


def train_flags(args: list) -> flags.FlagValues:
    """``args`` parsed as chapter5.train's flags (shipped flagfiles found by name).

    Raises:
        flags.Error: a flag train does not know, or a bad value.
        FlagfileError: a flagfile that cannot be read.
    """
    fv = flags.FlagValues()
    train.define_flags(fv)
    fv(["chapter5.train", *flagfiles.expand(args)])
    return fv


def run_one(suite_dir: str, run: str, args: list) -> dict:
    """Trains one configuration with chapter5.train in this process; returns its results.json (or the error)."""
    start = time.perf_counter()
    try:
        fv = train_flags([*args, f"--logdir={suite_dir}", f"--run_name={run}", "--progress=off"])
    except (flags.Error, flagfiles.FlagfileError) as e:
        return {"run": run, "error": str(e).splitlines()[0], "wall_seconds": time.perf_counter() - start}
    try:
        code = train.main(["chapter5.train"], fv, out=io.StringIO(), signals=False, started=time.time())
    except DlfundError as e:
        error = _cli.command_line_message(e, "train", fv)
        return {"run": run, "error": error.splitlines()[0], "wall_seconds": time.perf_counter() - start}
    results = rundir.read_results(os.path.join(suite_dir, run)) if code == 0 else {}
    if not results:
        return {"run": run, "error": f"exit code {code}", "wall_seconds": time.perf_counter() - start}
    results.update(run=run, wall_seconds=time.perf_counter() - start)
    return results


def _mean_std(values: list) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def _pm(mean: float, std: float, n: int) -> str:
    return f"{mean:.4f} ± {std:.4f}" if n > 1 else f"{mean:.4f}"


SMOKE_NOTE = ("**Smoke run** (`--quick`: 3 training steps per run). It shows that every run works; its "
              "numbers are not results.")


def summarize(suite: str, description: str, configs: list, rows: list, suite_dir: str, common_flags: list,
              quick: bool = False) -> str:
    """Writes results.md and results.csv; returns the Markdown table.

    A configuration with a resumed run (one whose results.json has more than
    one invocation) is marked ``(resumed)``: its times and costs cover the whole
    run, across the resumes.
    """
    with open(os.path.join(suite_dir, "results.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["config", "run", "seed", "test_accuracy", "test_cost", "train_seconds", "global_step",
                         "epoch_costs", "error"])
        for r in rows:
            writer.writerow([r["config"], r["run"], r.get("seed", ""), r.get("test_accuracy", ""),
                             r.get("test_cost", ""), r.get("train_seconds", ""), r.get("global_step", ""),
                             " ".join(f"{c:.4f}" for c in r.get("cost", [])), r.get("error", "")])
    lines = [f"# Suite `{suite}`" + (" (smoke run)" if quick else ""), "", description + ".", "",
             *([SMOKE_NOTE, ""] if quick else []),
             f"Common flags: `{' '.join(common_flags)}`", "",
             "| run | flags | test accuracy | test cost | train time (s) | cost per epoch | seeds |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, args in configs:
        mine = [r for r in rows if r["config"] == name and "error" not in r]
        failed = [r for r in rows if r["config"] == name and "error" in r]
        if not mine:
            lines.append(f"| {name} | `{' '.join(args)}` | failed: {failed[0]['error'] if failed else '?'} | | | | 0 |")
            continue
        acc_m, acc_s = _mean_std([r["test_accuracy"] for r in mine])
        cost_m, cost_s = _mean_std([r["test_cost"] for r in mine])
        time_m, _ = _mean_std([r["train_seconds"] for r in mine])
        costs = [r["cost"] for r in mine]
        epochs = [statistics.fmean(c) for c in zip(*costs, strict=False)] if all(costs) else []
        resumed = " (resumed)" if any(len(r.get("invocations", [])) > 1 for r in mine) else ""
        lines.append(f"| {name}{resumed} | `{' '.join(args)}` | {_pm(acc_m, acc_s, len(mine))} | "
                     f"{_pm(cost_m, cost_s, len(mine))} | {time_m:.1f} | {' '.join(f'{c:.3f}' for c in epochs)} | "
                     f"{len(mine)} |")
    table = "\n".join(lines) + "\n"
    with open(os.path.join(suite_dir, "results.md"), "w") as f:
        f.write(table)
    return table


def suite_jobs(suite: str, fv: flags.FlagValues) -> list:
    """The runs of a suite: (config name, seed, run name, chapter5.train flags) each."""
    _, common_flags, configs = SUITES[suite]
    base = [f"--data_dir={fv.data_dir}"]
    if suite != "cifar_batch_norm":
        base.append(f"--dataset={fv.dataset}")
    # The session flags go to every run as given (determinism itself is switched on once, in main).
    base += [fv[n].serialize() for n in ("intra_op_threads", "inter_op_threads") if not fv[n].using_default_value]
    if fv.deterministic:
        base.append("--deterministic")
    quick = ["--max_steps=3", "--training_epochs=1", "--eval_batch_size=500"] if fv.quick else []
    jobs = []
    for name, args in configs:
        for seed in range(fv.seeds):
            run = name if fv.seeds == 1 else f"{name}_seed{seed}"
            # Later flags win: a run's own flags override the suite's, the data flags override a
            # flagfile's, and --quick and --extra override everything.
            jobs.append((name, seed, run, [*common_flags, *args, *base, f"--seed={seed}", *quick, *fv.extra]))
    return jobs


def suite_directory(fv: flags.FlagValues, suite: str) -> str:
    """``--logdir/<suite>``; ``--logdir/<suite>_quick`` for ``--quick``, so smoke runs never share a real run's
    directory (a real suite would resume their checkpoints)."""
    return os.path.join(fv.logdir, suite + ("_quick" if fv.quick else ""))


def check_data(suite: str, fv: flags.FlagValues) -> None:
    """Makes sure the suite's data is there (downloading it if allowed) once, before any run starts.

    Raises:
        DlfundError: the data is missing and cannot be downloaded (one message for the whole suite).
    """
    from_flags.fetch_data(train_flags(suite_jobs(suite, fv)[0][3]))


def run_suite(suite: str, fv: flags.FlagValues) -> bool:
    """Runs every job of a suite (``--jobs`` at once), prints and writes its table; True if all succeeded."""
    description, common_flags, configs = SUITES[suite]
    directory = suite_directory(fv, suite)
    print(f"Suite {suite}: {description}." + (f" Smoke run (--quick), in {directory}." if fv.quick else ""))
    check_data(suite, fv)
    os.makedirs(directory, exist_ok=True)

    def one(job):
        name, seed, run, args = job
        result = run_one(directory, run, args)
        result.update(config=name, seed=seed)
        shown = (f"test accuracy {result['test_accuracy']:.4f}" if "error" not in result
                 else f"FAILED: {result['error']}")
        print(f"  {run}: {shown} ({result['wall_seconds']:.0f} s)", flush=True)
        return result

    with concurrent.futures.ThreadPoolExecutor(max_workers=fv.jobs) as pool:
        rows = list(pool.map(one, suite_jobs(suite, fv)))
    table = summarize(suite, description, configs, rows, directory, common_flags, quick=fv.quick)
    print(table)
    print(f"Wrote {os.path.join(directory, 'results.md')} and results.csv; "
          f"curves: tensorboard --logdir {shlex.quote(directory)}")
    return all("error" not in r for r in rows)


def main(argv: list, fv: flags.FlagValues) -> int:
    _cli.no_arguments(argv)
    suites = OFFLINE_SUITES if "all" in fv.suite else list(fv.suite)
    # Determinism is process-wide: switched on once here, not by each (possibly concurrent) run.
    with from_flags.op_determinism(fv.deterministic):
        ok = [run_suite(s, fv) for s in suites]
    if fv.report:
        write_report(fv.report, suites, fv)
    return 0 if all(ok) else 1


def write_report(path: str, suites: list, fv: flags.FlagValues) -> None:
    """Concatenates the suites' results.md under the command that produced them."""
    command = "python -m chapter5.compare " + " ".join(a for a in sys.argv[1:])
    parts = [f"<!-- Generated by `{command}` on {datetime.date.today().isoformat()}; do not edit by hand. -->",
             "", f"Generated by `{command}`", "",
             f"Machine: {os.cpu_count()} CPUs, {platform.platform()}, TensorFlow {tf.__version__}, "
             f"data set `{fv.dataset}`.", ""]
    for suite in suites:
        with open(os.path.join(suite_directory(fv, suite), "results.md")) as f:
            parts.append(f.read().replace("# Suite", "## Suite", 1))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(parts))
    print(f"Wrote {path}")


if __name__ == "__main__":
    _cli.run(define_flags, main)
