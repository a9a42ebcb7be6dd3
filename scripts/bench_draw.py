r"""Measures the drawing page's speed: one answer in the server and in the browser, four clients at once, memory.

    python scripts/bench_draw.py logs [--run=quickstart] [--seconds=60] [--answers=5000]
    python scripts/bench_draw.py logs --only=explain [--requests=200]

On the run's newest checkpoint (``mnist_conv`` for the quickstart), with drawings of MNIST test digits sent as
the page's canvas sends them (280x280 PNG, white on black):

* in the server: the time of ``POST /api/read`` inside the WSGI app (the picture decoded and prepared, every
  layer computed, the answer encoded), 500 answers after warm-up;
* in the browser: the page's own round trip (``fetch`` sent to the answer parsed) as headless Chromium
  measures it, for 50 digits drawn with real pointer strokes, and the time the page then takes to draw the
  answer (needs chromium, chromium-driver and selenium);
* four clients drawing at once over HTTP for ``--seconds``: answers, errors, p50 and p95;
* first, resident memory of the server's process after 100 answers and after ``--answers``;
* the explainers, in the server: ``POST /api/explain`` on a random unit of a random layer, and
  ``POST /api/attribution`` by each method, ``--requests`` each after warm-up; then ``/api/read`` while
  another thread asks for occlusion maps without pause (does the page go on answering drawings?).

docs/performance.md reports its output.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import threading
import time
import urllib.request

import numpy as np

import chapter5  # noqa: F401  (quiet TensorFlow)
from chapter5.draw.app import App
from chapter5.draw.app import server as draw_server
from dlfund.data import mnist


def drawings(n: int) -> list:
    """PNG bytes of ``n`` MNIST test digits drawn large, white on black, as the page's canvas is."""
    from PIL import Image

    test = mnist.read_data_sets("", dataset="mnist_sample", one_hot=False).test
    out = []
    for image in test.images[:n]:
        big = Image.fromarray((image.reshape(28, 28) * 255).astype(np.uint8)).resize((280, 280), Image.BILINEAR)
        buffer = io.BytesIO()
        big.convert("RGB").save(buffer, "PNG")
        out.append(buffer.getvalue())
    return out


def resident_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def percentiles(ms: list) -> str:
    return f"p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms (n={len(ms)})"


def in_server(app: App, run: str, pictures: list, n: int = 500) -> list:
    from werkzeug.test import Client

    client, times = Client(app), []
    for i in range(n + 20):
        started = time.perf_counter()
        response = client.post(f"/api/read?run={run}", data=pictures[i % len(pictures)])
        if i >= 20:
            times.append((time.perf_counter() - started) * 1e3)
        assert response.status_code == 200, response.get_data(as_text=True)
    return times


def explainers(app: App, run: str, pictures: list, n: int = 200) -> None:
    """Prints p50 and p95 of each explainer inside the WSGI app, and of a drawing's answer beside occlusion."""
    from werkzeug.test import Client

    from dlfund import explain

    client, rng = Client(app), np.random.default_rng(0)
    layers = client.post(f"/api/read?run={run}", data=pictures[0]).get_json()["layers"]

    def timed(url: str, count: int) -> list:
        times = []
        for i in range(count + 10):
            started = time.perf_counter()
            response = client.post(url(i) if callable(url) else url, data=pictures[i % len(pictures)])
            if i >= 10:
                times.append((time.perf_counter() - started) * 1e3)
            assert response.status_code == 200, response.get_data(as_text=True)
        return times

    def unit_url(i: int) -> str:
        layer = layers[int(rng.integers(len(layers)))]
        unit = ",".join(str(int(rng.integers(d))) for d in layer["shape"])
        return f"/api/explain?run={run}&layer={layer['name']}&unit={unit}"

    print(f"unit inspector (a random unit of a random layer): {percentiles(timed(unit_url, n))}")
    for method in explain.METHODS:
        print(f"attribution {method}: {percentiles(timed(f'/api/attribution?run={run}&method={method}', n))}")
    stop = threading.Event()

    def occlusions() -> None:
        busy = Client(app)
        while not stop.is_set():
            busy.post(f"/api/attribution?run={run}&method=occlusion", data=pictures[1])

    thread = threading.Thread(target=occlusions)
    thread.start()
    try:
        print(f"a drawing's answer while occlusion maps are computed without pause: "
              f"{percentiles(timed(f'/api/read?run={run}', n))}")
    finally:
        stop.set()
        thread.join()


def in_browser(url: str, n: int = 50) -> tuple | str:
    """The page's own round trip for drawn digits: real pointer strokes on its canvas (each stroke's end sends
    the canvas), as headless Chromium measures it; and the time the page took to draw each answer."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.support.ui import WebDriverWait
    except ImportError:
        return "selenium is not installed"
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    times, renders = [], []
    try:
        driver.get(url)
        WebDriverWait(driver, 60).until(lambda d: d.find_element("id", "checkpoint-label").text.startswith("step"))
        canvas, count = driver.find_element("id", "canvas"), 0
        for i in range(n + 5):
            driver.find_element("id", "clear").click()
            x = -40 + 8 * (i % 10)
            ActionChains(driver, duration=0).move_to_element_with_offset(canvas, x, -90).click_and_hold() \
                .move_by_offset(0, 90).move_by_offset(0, 90).release().perform()  # a 1, one stroke
            WebDriverWait(driver, 60, poll_frequency=0.05).until(
                lambda d, seen=count: int(d.find_element("id", "answer").get_attribute("data-count")) > seen
                and d.find_element("id", "answer").get_attribute("data-busy") == "0")
            answer = driver.find_element("id", "answer")
            count = int(answer.get_attribute("data-count"))
            if i >= 5:
                times.append(float(answer.get_attribute("data-ms")))
                renders.append(float(answer.get_attribute("data-render-ms")))
    finally:
        driver.quit()
    return times, renders


def clients(url: str, run: str, pictures: list, seconds: float, n: int = 4) -> tuple:
    times, errors, lock = [], [], threading.Lock()
    end = time.monotonic() + seconds

    def client(k: int) -> None:
        i = k
        while time.monotonic() < end:
            request = urllib.request.Request(f"{url}api/read?run={run}", data=pictures[i % len(pictures)])
            started = time.perf_counter()
            try:
                json.loads(urllib.request.urlopen(request, timeout=30).read())
                with lock:
                    times.append((time.perf_counter() - started) * 1e3)
            except Exception as e:  # counted, not raised: the figure is how many
                with lock:
                    errors.append(repr(e))
            i += n

    threads = [threading.Thread(target=client, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logdir")
    parser.add_argument("--run", default="quickstart")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--answers", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=200, help="requests per explainer")
    parser.add_argument("--only", default="", choices=["", "explain"], help="explain: the explainers only")
    args = parser.parse_args()
    pictures = drawings(100)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request, as chapter5.draw
    app = App(args.logdir)
    server = draw_server(app, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.socket.getsockname()[1]}/"
    print(f"run {args.run} in {args.logdir}; {os.cpu_count()} cores")
    if args.only == "explain":
        explainers(app, args.run, pictures, args.requests)
        server.shutdown()
        app.models.close()
        return
    from werkzeug.test import Client
    client = Client(app)
    for answers in range(1, args.answers + 1):
        assert client.post(f"/api/read?run={args.run}", data=pictures[answers % len(pictures)]).status_code == 200
        if answers == 100:
            after_100 = resident_mb()
    print(f"resident memory: {after_100:.0f} MB after 100 answers, {resident_mb():.0f} MB after {answers} "
          f"({resident_mb() - after_100:+.1f} MB)")
    times = in_server(app, args.run, pictures)
    print(f"one answer, in the server: {percentiles(times)}")
    browser = in_browser(url)
    if isinstance(browser, str):
        print(f"one answer, the browser's round trip: {browser}")
    else:
        print(f"one answer to a drawn digit, the browser's round trip: {percentiles(browser[0])}; "
              f"drawing the answer on the page: {percentiles(browser[1])}")
    times, errors = clients(url, args.run, pictures, args.seconds)
    print(f"4 clients for {args.seconds:.0f} s: {len(times)} answers, {len(errors)} errors, {percentiles(times)}"
          + (f"; first error: {errors[0]}" if errors else ""))
    explainers(app, args.run, pictures, args.requests)
    server.shutdown()
    app.models.close()


if __name__ == "__main__":
    main()
