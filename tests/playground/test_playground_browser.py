"""The playground in a real headless browser (Chromium + chromedriver through Selenium).

Skipped when Selenium, Chromium or chromedriver is missing (Debian: ``apt-get install
chromium chromium-driver``; ``pip install selenium``). With ``PLAYGROUND_SCREENSHOTS=DIR``
it saves the screenshots that docs/playground.md shows.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

webdriver = pytest.importorskip("selenium.webdriver", reason="the browser test needs selenium")

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                "google-chrome"))), None)
DRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Chromium and chromedriver on PATH"),
]  # ~15 s with the browser's start: in the default run, which .ci/run equips with Chromium


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1400,800"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    yield driver
    driver.quit()


def by_id(driver, name):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, name)


def wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"waited {seconds} s for {what}")


def open_page(driver, url):
    driver.get(url + "/")
    wait_for(lambda: by_id(driver, "epoch") and driver.execute_script(
        "return document.body.dataset.ready === '1'"), 20, "the page to start")


def set_text(driver, name, text):
    box = by_id(driver, name)
    box.clear()
    box.send_keys(text + "\t")  # tab: the change event


def screenshot(driver, name):
    folder = os.environ.get("PLAYGROUND_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / name))


def number(driver, name):
    try:
        return float(by_id(driver, name).text)
    except ValueError:
        return None


def test_xor_4_4_tanh_trains_below_0_1_on_the_page(browser, playground_url):
    from selenium.webdriver.support.ui import Select

    open_page(browser, playground_url)
    Select(by_id(browser, "dataset")).select_by_value("xor")
    set_text(browser, "hidden", "4, 4")
    Select(by_id(browser, "activation")).select_by_value("tanh")
    Select(by_id(browser, "optimizer")).select_by_value("adam")
    wait_for(lambda: number(browser, "epoch") == 0 and number(browser, "test-loss"), 10,
             "a fresh network")
    start_loss = number(browser, "test-loss")
    by_id(browser, "play").click()
    wait_for(lambda: (number(browser, "test-loss") or 1) < 0.1, 60, "test loss < 0.1")
    by_id(browser, "play").click()  # pause
    assert start_loss > 0.5
    assert by_id(browser, "message").is_displayed() is False
    screenshot(browser, "playground_network.png")

    # a second tab has its own network: untouched by the first one's training
    first = browser.current_window_handle
    browser.switch_to.new_window("tab")
    open_page(browser, playground_url)
    wait_for(lambda: number(browser, "test-loss"), 10, "the second tab's first frame")
    assert number(browser, "epoch") == 0 and number(browser, "test-loss") > 0.5
    by_id(browser, "step").click()
    wait_for(lambda: number(browser, "epoch") == 1, 10, "one epoch in the second tab")
    browser.close()
    browser.switch_to.window(first)
    assert number(browser, "test-loss") < 0.1


def test_backprop_view_steps_x_x_y_plus_y_plus_2(browser, playground_url):
    from selenium.webdriver.support.ui import Select

    open_page(browser, playground_url)
    by_id(browser, "tab-backprop").click()
    set_text(browser, "bp-expr", "x*x*y + y + 2")
    set_text(browser, "bp-values", "x=3, y=4")
    by_id(browser, "bp-build").click()
    wait_for(lambda: "forward: 0/7" in by_id(browser, "bp-status").text, 10, "the graph")
    for _ in range(7):
        assert by_id(browser, "bp-output").text == "?"
        by_id(browser, "bp-forward").click()
    assert by_id(browser, "bp-output").text == "42"
    assert by_id(browser, "bp-grad-x").text == "?"
    clicks = 0
    while by_id(browser, "bp-grad-x").text == "?" and clicks < 10:
        by_id(browser, "bp-backward").click()
        clicks += 1
    assert by_id(browser, "bp-grad-x").text == "24"
    assert by_id(browser, "bp-grad-y").text == "10"
    assert clicks == 6  # one backward step per node that carries a gradient
    screenshot(browser, "playground_backprop.png")

    # forward mode: one pass of the 7 nodes per input; x's derivative after the first pass
    Select(by_id(browser, "bp-mode")).select_by_value("forward")
    for _ in range(7):
        assert by_id(browser, "bp-grad-x").text == "?"
        by_id(browser, "bp-forward").click()
    assert by_id(browser, "bp-grad-x").text == "24" and by_id(browser, "bp-grad-y").text == "?"
    assert by_id(browser, "bp-output").text == "42"
    for _ in range(7):
        by_id(browser, "bp-forward").click()
    assert by_id(browser, "bp-grad-y").text == "10"
    assert "pass 2/2" in by_id(browser, "bp-status").text
    screenshot(browser, "playground_forward_mode.png")


def test_clicking_a_neuron_shows_its_graph(browser, playground_url):
    from selenium.webdriver.common.action_chains import ActionChains

    open_page(browser, playground_url)
    wait_for(lambda: number(browser, "test-loss"), 10, "the first frame")
    hit = browser.execute_script("return NET.neuronAt ? "
                                 "(() => { for (let y = 0; y < 460; y += 4) "
                                 "for (let x = 0; x < 720; x += 4) { const h = NET.neuronAt(x, y);"
                                 " if (h && h.layer === 1) return [x, y]; } })() : null")
    canvas = by_id(browser, "net")
    scale = canvas.size["width"] / 720
    ActionChains(browser).move_to_element_with_offset(
        canvas, (hit[0] + 2) * scale - canvas.size["width"] / 2,
        (hit[1] + 2) * scale - canvas.size["height"] / 2).click().perform()
    wait_for(lambda: by_id(browser, "view-backprop").is_displayed(), 10, "the backprop view")
    assert by_id(browser, "bp-expr").get_attribute("value").startswith("tanh(w1*x1 + w2*x2")
    by_id(browser, "bp-all").click()
    assert by_id(browser, "bp-output").text != "?"
    assert -1 < float(by_id(browser, "bp-output").text) < 1  # a tanh neuron's output


@pytest.mark.parametrize("control, text, words", [
    ("hidden", "4, 0", "units of hidden layer 2"),
    ("lr", "-1", "learning rate"),
])
def test_bad_input_shows_a_message_and_the_page_keeps_working(browser, playground_url,
                                                              control, text, words):
    open_page(browser, playground_url)
    set_text(browser, control, text)
    wait_for(lambda: by_id(browser, "message").is_displayed(), 10, "the message")
    assert words in by_id(browser, "message").text
    by_id(browser, "step").click()
    wait_for(lambda: number(browser, "epoch") == 1, 10, "a step after the bad input")


def test_unparsable_expression_shows_a_message(browser, playground_url):
    open_page(browser, playground_url)
    by_id(browser, "tab-backprop").click()
    set_text(browser, "bp-expr", "x*(y+")
    by_id(browser, "bp-build").click()
    wait_for(lambda: by_id(browser, "message").is_displayed(), 10, "the message")
    assert "cannot parse" in by_id(browser, "message").text
