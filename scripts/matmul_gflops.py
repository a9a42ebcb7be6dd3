r"""Prints the machine's float32 matmul speed in TensorFlow now, the figure written beside every time in docs/.

    python scripts/matmul_gflops.py [--seconds=3]

The same 2048x2048 product in a session as ``chapter5.benchmark``'s roofline (:class:`chapter5.benchmark.Roofline`),
repeated for ``--seconds``; prints the median of one-second windows in GFLOP/s.
"""

import argparse
import time

import numpy as np

import chapter5  # noqa: F401  (quiet TensorFlow)
from chapter5.benchmark import Roofline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    import tensorflow as tf

    roofline = Roofline(2048, tf.compat.v1.ConfigProto())
    rates, end = [], time.monotonic() + args.seconds
    while time.monotonic() < end:
        started, done = time.perf_counter(), 0.0
        while time.perf_counter() - started < 1.0:
            done += roofline.step()
        rates.append(done / (time.perf_counter() - started))
    print(f"matmul: {np.median(rates):.0f} GFLOP/s (median of {len(rates)} one-second windows)")


if __name__ == "__main__":
    main()
