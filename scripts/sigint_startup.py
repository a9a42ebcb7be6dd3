r"""Ctrl-C at random moments of a training run's first seconds, on a busy machine: every run must end cleanly.

    python scripts/sigint_startup.py                 # 30 runs, SIGINT within the first 10 s of each
    python scripts/sigint_startup.py --runs=5 --seed=1

Starts ``python -m chapter5.train --flagfile=quickstart.cfg`` in a new directory
30 times and sends each one SIGINT at a random moment of its first 10 seconds
(Python starting, TensorFlow loading, data loading, graph building, the first
steps), while two other processes keep both cores busy. A run passes if it ends
with exit code 130 and no traceback: one line if it was still starting, or the
saved checkpoint and how to resume once it trained. Not part of the test suite:
it takes minutes by nature (``tests/test_reliability.py`` keeps one such run).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUSY = "while True: pass"


def one_run(delay: float, workdir: str) -> tuple[int, str, str, float]:
    """Starts the quickstart, sends SIGINT after ``delay`` seconds; returns (exit code, stdout, stderr, seconds)."""
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a reader runs it
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "chapter5.train", "--flagfile=quickstart.cfg", "--logdir=logs"],
                            cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err += "\n(still running 180 s after SIGINT: killed)"
    return proc.returncode, out, err, time.monotonic() - start


def verdict(code: int, out: str, err: str) -> tuple[bool, str]:
    """Whether a run ended as it should, and the line that says how it ended."""
    if "Traceback" in err or "Traceback" in out:
        return False, "traceback: " + err.strip().splitlines()[-1][:100]
    saved = [line for line in out.splitlines() if line.startswith("Interrupted by SIGINT")]
    said = saved[0] if saved else (err.strip().splitlines() or ["(nothing on stderr)"])[-1]
    return code == 130 and (bool(saved) or err.strip().count("\n") == 0), said[:110]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--window", type=float, default=10.0, help="SIGINT at a uniform moment in [0, window) s")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    delays = sorted(rng.uniform(0, args.window) for _ in range(args.runs))
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(os.cpu_count() or 2)]
    print(f"{len(busy)} busy processes keep the cores loaded; {args.runs} runs, SIGINT within {args.window:g} s")
    passed = 0
    try:
        for i, delay in enumerate(delays, 1):
            with tempfile.TemporaryDirectory() as workdir:
                code, out, err, seconds = one_run(delay, workdir)
            ok, said = verdict(code, out, err)
            passed += ok
            print(f"{i:2d}. SIGINT at {delay:5.2f} s: exit {code}, ended after {seconds:5.1f} s, "
                  f"{'ok  ' if ok else 'FAIL'} {said}", flush=True)
    finally:
        for p in busy:
            p.kill()
            p.wait()
    print(f"{passed} of {args.runs} runs ended with exit 130, one line or a saved checkpoint, and no traceback.")
    return 0 if passed == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
