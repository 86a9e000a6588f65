"""Page load of the console for one actor, in Debian's headless Chromium: the time from
navigation to DOM ready, and to the actor's view drawn (graph and timeline, every API call
answered), over fresh navigations. Run by scripts/console-bench.sh, which starts the server."""

import statistics
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def main():
    url, actor, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1500,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    ready, drawn = [], []
    try:
        for round in range(rounds + 1):
            driver.get("about:blank")
            driver.get(f"{url}#/actor/{actor}")
            WebDriverWait(driver, 120).until(
                lambda d: d.find_element(By.ID, "actor-view").get_attribute("data-loaded") == f"{actor}@head")
            timing = driver.execute_script(
                "return [performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,"
                " performance.getEntriesByName('eventlog:view-drawn')[0].startTime]")
            edges = len(driver.find_elements(By.CSS_SELECTOR, "#graph path.edge"))
            items = len(driver.find_elements(By.CSS_SELECTOR, "#timeline g.item"))
            if round:  # the first load warms the server's caches and the browser's
                ready.append(timing[0])
                drawn.append(timing[1])
        note = driver.find_element(By.ID, "graph-note").text
    finally:
        driver.quit()
    def summary(values):
        values = sorted(values)
        return f"p50 {statistics.median(values):7.1f} ms  max {values[-1]:7.1f} ms"
    print(f"console page load, actor {actor}, {rounds} fresh navigations:")
    print(f"  DOM ready          {summary(ready)}")
    print(f"  view drawn         {summary(drawn)}  ({edges} edges, {items} timeline items; {note or 'all counterparts'})")


if __name__ == "__main__":
    main()
