r"""Takes the README's screenshots of the drawing page: a digit drawn with real pointer strokes in headless Chromium.

    python -m chapter5.train --flagfile=chapter5/flags/quickstart.cfg
    python scripts/draw_screenshot.py logs docs/draw.png [--lang=ko]
    python scripts/draw_screenshot.py logs docs/draw_explain.png --inspect=conv_2 --overlay=integrated_gradients

The page is served from this process over ``logs`` (chapter5.draw's own app); the strokes draw a 3.
``--inspect=LAYER`` then clicks a unit in the middle of that layer's 6th map (the unit inspector);
``--overlay=METHOD`` switches on an attribution overlay. Needs Debian's chromium and chromium-driver and
selenium; Korean text needs a font with Hangul (fonts-noto-cjk).
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


#: (row, column, map) of the largest value of a layer [h, w, c] in the answer the page shows.
MOST_ACTIVE = """const layer = state.lastAnswer.layers.find((l) => l.name === arguments[0]);
const v = Uint8Array.from(atob(layer.data), (c) => c.charCodeAt(0)), [h, w, c] = layer.shape;
let best = 0; for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
return [Math.floor(best / (w * c)), Math.floor(best / c) % w, best % c];"""


def draw_three(driver) -> None:
    """Draws :data:`THREE` on the page's canvas with real pointer strokes (in the current frame)."""
    from selenium.webdriver.common.action_chains import ActionChains

    canvas = driver.find_element("id", "canvas")
    for stroke in THREE:
        actions = ActionChains(driver, duration=20).move_to_element_with_offset(canvas, *stroke[0]).click_and_hold()
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:], strict=False):
            actions.move_by_offset(x1 - x0, y1 - y0)
        actions.release().perform()


def main() -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import WebDriverWait
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logdir")
    parser.add_argument("output")
    parser.add_argument("--lang", default="en", choices=["en", "ko"])
    parser.add_argument("--inspect", default="", help="a layer whose unit to inspect, e.g. conv_2")
    parser.add_argument("--overlay", default="", help="an attribution method to overlay, e.g. integrated_gradients")
    parser.add_argument("--height", type=int, default=1750, help="the window's height in pixels")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request, as chapter5.draw
    app = App(args.logdir)
    server = draw_server(app, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", f"--window-size=1400,{args.height}", "--hide-scrollbars",
                     f"--lang={args.lang}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(f"http://127.0.0.1:{server.socket.getsockname()[1]}/")
        driver.execute_script(f"localStorage.setItem('dlfund-lang', '{args.lang}')")
        driver.refresh()
        WebDriverWait(driver, 60).until(lambda d: d.find_element("id", "checkpoint-label").text != "–")
        draw_three(driver)
        WebDriverWait(driver, 60).until(lambda d: d.find_element("id", "answer").get_attribute("data-busy") == "0")
        if args.overlay:
            from selenium.webdriver.support.ui import Select

            Select(driver.find_element("id", "method")).select_by_value(args.overlay)
            WebDriverWait(driver, 60).until(lambda d: d.find_element("id", "why").get_attribute("data-method")
                                            == args.overlay)
        if args.inspect:  # the layer's most active unit (in the page's own answer), clicked where it is drawn
            h, w, k = driver.execute_script(MOST_ACTIVE, args.inspect)
            target = driver.find_elements("css selector", f'#layers .layer[data-layer="{args.inspect}"] canvas')[k]
            ActionChains(driver).move_to_element_with_offset(
                target, ((w + 0.5) / target.get_property("width") - 0.5) * target.size["width"],
                ((h + 0.5) / target.get_property("height") - 0.5) * target.size["height"]).click().perform()
            WebDriverWait(driver, 60).until(lambda d: d.find_element("id", "inspector").get_attribute("data-layer")
                                            == args.inspect)
        driver.save_screenshot(args.output)
        print(f"{args.output}: answer {driver.find_element('id', 'answer').text}")
    finally:
        driver.quit()
        server.shutdown()
        app.models.close()


if __name__ == "__main__":
    main()
