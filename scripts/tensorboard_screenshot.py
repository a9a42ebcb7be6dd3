r"""Takes the README's screenshot of the drawing page as TensorBoard's ``draw`` tab.

    python -m chapter5.train --flagfile=chapter5/flags/quickstart.cfg
    python scripts/tensorboard_screenshot.py logs docs/tensorboard_draw.png

Starts ``tensorboard --logdir LOGDIR --port 0`` (the entry point that ``pip install -e .`` registered), opens
``/#draw`` in headless Chromium, draws a 3 in the tab's frame with real pointer strokes, and saves the window.
Needs Debian's chromium and chromium-driver and selenium.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import time

from draw_screenshot import draw_three  # the same digit as the page's own screenshot


def start_tensorboard(logdir: str) -> tuple[subprocess.Popen, int]:
    """``tensorboard --logdir logdir --port 0`` in a process group of its own, and the port it chose."""
    command = [os.path.join(os.path.dirname(sys.executable), "tensorboard"), f"--logdir={logdir}", "--port=0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    end = time.monotonic() + 120
    while time.monotonic() < end:
        line = proc.stdout.readline()
        found = re.search(r"TensorBoard \S+ at http://[^:]+:(\d+)/", line)
        if found:
            return proc, int(found.group(1))
        if not line and proc.poll() is not None:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit("tensorboard did not start")


def main() -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logdir")
    parser.add_argument("output")
    args = parser.parse_args()
    proc, port = start_tensorboard(args.logdir)
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--window-size=1400,1000", "--hide-scrollbars", "--lang=en"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(f"http://127.0.0.1:{port}/#draw")
        WebDriverWait(driver, 120).until(lambda d: d.find_elements("css selector", "iframe"))
        driver.switch_to.frame(driver.find_elements("css selector", "iframe")[0])
        WebDriverWait(driver, 120).until(lambda d: d.find_elements("id", "checkpoint-label")
                                         and d.find_element("id", "checkpoint-label").text.startswith("step"))
        draw_three(driver)
        WebDriverWait(driver, 60).until(lambda d: int(d.find_element("id", "answer").get_attribute("data-count")) > 0
                                        and d.find_element("id", "answer").get_attribute("data-busy") == "0")
        answer = driver.find_element("id", "answer").text
        driver.switch_to.default_content()
        driver.save_screenshot(args.output)
        print(f"{args.output}: the draw tab of TensorBoard on port {port}, answer {answer}")
    finally:
        driver.quit()
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


if __name__ == "__main__":
    main()
