"""Display updates per second of ``chainrule playground`` in a headless browser (issue 21).

Starts the playground in this process, opens it in headless Chromium (through Selenium;
``apt-get install chromium chromium-driver``, ``pip install selenium``), sets a network
(default 2-8-8-1 tanh on the spiral), presses Play in one tab -- or in ``--tabs`` tabs at
once, each in its own window -- and reads the page's own "Display updates/s" counter
(frames drawn in the last second) once a second for ``--seconds`` after a two-second
warm-up. Each tab is a
separate server-side session, so several tabs also show that they train side by side.

    python benchmarks/bench_playground.py [--hidden 8,8] [--tabs 1,2] [--seconds 8]
        [--repeats 3] [--json benchmarks/results/playground.json]

The goal is >= 20 updates/s for 2-8-8-1 (one tab). The browser, the server and the
training share the machine's cores, so the numbers are a floor for a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time

from _common import import_chainrule, machine_summary

import_chainrule()


def launch():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    chromium = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                    "google-chrome"))), None)
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        raise SystemExit("needs Chromium and chromedriver on PATH")
    options = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1400,800"):
        options.add_argument(arg)
    options.binary_location = chromium
    return webdriver.Chrome(options=options, service=Service(driver))


def open_tab(browser, url, hidden):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(url + "/")
    deadline = time.monotonic() + 20
    while not browser.execute_script("return document.body.dataset.ready === '1'"):
        if time.monotonic() > deadline:
            raise SystemExit("the page did not start")
        time.sleep(0.1)
    Select(browser.find_element(By.ID, "dataset")).select_by_value("spiral")
    box = browser.find_element(By.ID, "hidden")
    box.clear()
    box.send_keys(hidden + "\t")
    time.sleep(0.5)
    browser.find_element(By.ID, "play").click()


def measure(browser, url, hidden, tabs, seconds):
    from selenium.webdriver.common.by import By

    handles = []
    for i in range(tabs):
        if i:
            browser.switch_to.new_window("window")  # a window each: all are visible
        open_tab(browser, url, hidden)
        handles.append(browser.current_window_handle)
    time.sleep(2.0)
    samples = {h: [] for h in handles}
    epochs = {}
    for _ in range(int(seconds)):
        time.sleep(1.0 / tabs)
        for h in handles:
            browser.switch_to.window(h)
            samples[h].append(int(browser.find_element(By.ID, "fps").text))
            epochs[h] = float(browser.find_element(By.ID, "epoch").text)
    for h in handles[1:]:
        browser.switch_to.window(h)
        browser.close()
    browser.switch_to.window(handles[0])
    browser.find_element(By.ID, "play").click()
    return [{"median": statistics.median(s), "min": min(s), "epochs": epochs[h]}
            for h, s in samples.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", default="8,8")
    parser.add_argument("--tabs", default="1,2")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    from chainrule.playground import start_in_thread

    url, stop = start_in_thread()
    browser = launch()
    rows = []
    try:
        for tabs in map(int, args.tabs.split(",")):
            for repeat in range(args.repeats):
                per_tab = measure(browser, url, args.hidden, tabs, args.seconds)
                rows.append({"tabs": tabs, "repeat": repeat, "per_tab": per_tab})
                shown = ", ".join(f"median {t['median']}/s min {t['min']}/s "
                                  f"({t['epochs']:.0f} epochs)" for t in per_tab)
                print(f"2-{args.hidden.replace(',', '-')}-1, {tabs} tab(s), run {repeat + 1}: "
                      f"{shown}", flush=True)
    finally:
        browser.quit()
        stop()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine_summary(), "hidden": args.hidden, "rows": rows},
                      f, indent=1)


if __name__ == "__main__":
    main()
