r"""Takes the README's screenshots of the drawing page: a digit drawn with real pointer strokes in headless Chromium.

    python -m chapter5.train --flagfile=chapter5/flags/quickstart.cfg
    python scripts/draw_screenshot.py logs docs/draw.png [--lang=ko]

The page is served from this process over ``logs`` (chapter5.draw's own app); the strokes draw a 3. Needs
Debian's chromium and chromium-driver and selenium; Korean text needs a font with Hangul (fonts-noto-cjk).
"""

import argparse
import logging
import threading

import chapter5  # noqa: F401  (quiet TensorFlow)
from chapter5.draw.app import App
from chapter5.draw.app import server as draw_server

#: A 3, as offsets from the canvas's centre.
THREE = [[(-55, -85), (-10, -100), (40, -85), (45, -45), (0, -10)], [(0, -10), (50, 15), (50, 65), (0, 95),
                                                                        (-55, 80)]]


def main() -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import WebDriverWait
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logdir")
    parser.add_argument("output")
    parser.add_argument("--lang", default="en", choices=["en", "ko"])
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request, as chapter5.draw
    app = App(args.logdir)
    server = draw_server(app, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--window-size=1400,1750", "--hide-scrollbars",
                     f"--lang={args.lang}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(f"http://127.0.0.1:{server.socket.getsockname()[1]}/")
        driver.execute_script(f"localStorage.setItem('dlfund-lang', '{args.lang}')")
        driver.refresh()
        WebDriverWait(driver, 60).until(lambda d: d.find_element("id", "checkpoint-label").text != "–")
        canvas = driver.find_element("id", "canvas")
        for stroke in THREE:
            actions = ActionChains(driver, duration=20).move_to_element_with_offset(canvas, *stroke[0]).click_and_hold()
            for (x0, y0), (x1, y1) in zip(stroke, stroke[1:], strict=False):
                actions.move_by_offset(x1 - x0, y1 - y0)
            actions.release().perform()
        WebDriverWait(driver, 60).until(lambda d: d.find_element("id", "answer").get_attribute("data-busy") == "0")
        driver.save_screenshot(args.output)
        print(f"{args.output}: answer {driver.find_element('id', 'answer').text}")
    finally:
        driver.quit()
        server.shutdown()
        app.models.close()


if __name__ == "__main__":
    main()
