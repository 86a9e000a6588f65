"""The analyst's console in a real browser: Debian's headless Chromium, driven by Selenium
through its ChromeDriver, against a real server holding the seed dataset, with access tokens on.

scripts/browser-deps.sh installs Chromium; where it cannot (no root, no apt-get) these tests
skip, saying so. A screenshot of the console is written to target/test-artifacts/console.png.
"""

import hashlib
import os
import subprocess
from pathlib import Path

import grpc
import pytest

from conftest import REPO_ROOT, RPC_TIMEOUT_S, running_server

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SEED = REPO_ROOT / "examples" / "seed" / "moscow-tehran-proxies.ndjson"
ARTIFACTS = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target")) / "test-artifacts"
TOKEN = "console-analyst-token-5f1c"
# How long the page may take to show what a step waits for.
WAIT_S = 15

if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
    pytest.skip(
        f"no Chromium at {CHROMIUM} with {CHROMEDRIVER}: scripts/browser-deps.sh installs "
        "Debian's chromium and chromium-driver (it needs root and apt-get)",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402  (only once Chromium is known to be there)
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    """A server with tokens on, the console on HTTP, and the seed dataset imported."""
    base = tmp_path_factory.mktemp("console")
    config = base / "eventlog.toml"
    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    config.write_text(f'[[auth.tokens]]\nname = "analyst"\nsha256 = "{digest}"\nrole = "append"\n')
    with running_server(base, ["--config", str(config)], console=True) as server:
        imported = subprocess.run(
            [os.environ["EVENTLOG_BIN"], "import", "--addr", f"http://{server.address}",
             "--format", "ndjson", str(SEED)],
            env=dict(os.environ, EVENTLOG_TOKEN=TOKEN),
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        )
        assert imported.returncode == 0, imported.stderr
        yield server


@pytest.fixture(scope="module")
def browser():
    options = Options()
    options.binary_location = CHROMIUM
    # Headless, and quiet on a machine without a network: no background connections at all.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1500,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver, condition, what):
    # The live view redraws the timeline as entries arrive, so an element a condition found can
    # be replaced before it reads it: that is "not yet", asked again, never a failure.
    return WebDriverWait(driver, WAIT_S, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: condition(d), message=what)


def click(driver, css, what):
    # Looked up and clicked in one step, again if a redraw replaced the element in between.
    wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, css).click() or True, what)


def loaded(driver, view):
    wait(driver, lambda d: d.find_element(By.ID, "actor-view").get_attribute("data-loaded") == view,
         f"the view {view} to load")


def items(driver):
    return {e.get_attribute("data-id"): e for e in driver.find_elements(By.CSS_SELECTOR, "#timeline g.item")}


def append(pb, server, entries):
    channel = grpc.insecure_channel(server.address)
    try:
        stub = pb.grpc.EventLogStub(channel)
        return stub.Append(pb.pb2.AppendRequest(entries=entries), timeout=RPC_TIMEOUT_S,
                           metadata=[("authorization", f"Bearer {TOKEN}")])
    finally:
        channel.close()


def test_an_analyst_follows_moscow_through_the_console(pb, console, browser):
    browser.get(console.http)
    # Without the token every call is refused, and the page says why.
    wait(browser, lambda d: "token" in d.find_element(By.ID, "status").text.lower(),
         "the page to report the missing token")
    token = browser.find_element(By.ID, "token")
    token.send_keys(TOKEN)
    browser.execute_script("arguments[0].dispatchEvent(new Event('change'))", token)

    # Search resolves as one types: "Moscow" is an alias of Russia.
    browser.find_element(By.ID, "search").send_keys("Moscow")
    russia = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results button[data-actor=russia]"),
                  "Russia among the matches")[0]
    assert "Moscow" in russia.text
    russia.click()
    loaded(browser, "russia@head")

    # The graph: Russia backs the National Defence Forces and Liwa' al-Quds.
    backs = {e.get_attribute("data-object")
             for e in browser.find_elements(By.CSS_SELECTOR, "#graph path.edge[data-relation=backs]")
             if e.get_attribute("data-subject") == "russia"}
    assert {"national-defence-forces", "liwa-al-quds"} <= backs, backs
    denied = browser.find_elements(By.CSS_SELECTOR, "#graph path.edge[data-denied=true]")
    assert denied and all(e.get_attribute("stroke-dasharray") for e in denied), "denials are dashed"

    # The timeline: the Palmyra clash is dated "2022", a year-long span.
    palmyra = items(browser)["ev-2022-palmyra-clash"]
    assert palmyra.get_attribute("data-date") == "2022"
    assert palmyra.get_attribute("data-earliest") == "2022-01-01"
    assert palmyra.get_attribute("data-latest") == "2022-12-31"
    assert palmyra.get_attribute("data-span-days") == "365"
    width = float(palmyra.find_element(By.TAG_NAME, "rect").get_attribute("width"))
    day = float(items(browser)["ev-2022-russia-partial-mobilization"].find_element(By.TAG_NAME, "rect").get_attribute("width"))
    assert width > 20 * day, (width, day)

    # A correction: an event that supersedes the clash. The live view shows it at the head...
    corrected = pb.pb2.Event(
        id="ev-2022-palmyra-clash-corrected", relation="clashes_with", date="2022-05~",
        participants=[pb.pb2.Participant(actor_id="fifth-corps", role=pb.pb2.ROLE_PARTICIPANT),
                      pb.pb2.Participant(actor_id="iran-backed-militias-syria", role=pb.pb2.ROLE_PARTICIPANT),
                      pb.pb2.Participant(actor_id="russia", role=pb.pb2.ROLE_SUPPORTER)],
        summary="Correction: the clash near Palmyra was in May 2022.",
        sources=[pb.pb2.Source(name="Correction desk")], certainty=pb.pb2.CERTAINTY_REPORTED,
        supersedes=["ev-2022-palmyra-clash"],
    )
    head = append(pb, console, [pb.pb2.Entry(event=corrected)]).head
    wait(browser, lambda d: "ev-2022-palmyra-clash-corrected" in items(d) and "ev-2022-palmyra-clash" not in items(d),
         "the correction to replace the clash at the head")
    # ... and the as-of control shows the log before it: the superseded entry is back.
    as_of = browser.find_element(By.ID, "as-of")
    as_of.clear()
    as_of.send_keys(str(head - 1))
    browser.execute_script("arguments[0].dispatchEvent(new Event('change'))", as_of)
    loaded(browser, f"russia@{head - 1}")
    before = items(browser)
    assert "ev-2022-palmyra-clash" in before and "ev-2022-palmyra-clash-corrected" not in before
    browser.find_element(By.ID, "as-of-head").click()
    loaded(browser, "russia@head")
    assert "ev-2022-palmyra-clash" not in items(browser)

    # An entry opens to its sources, certainty and what it supersedes; that one to what
    # superseded it.
    click(browser, "#timeline g.item[data-id='ev-2022-palmyra-clash-corrected'] rect", "the correction on the timeline")
    details = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#details dl[data-entry='ev-2022-palmyra-clash-corrected']"),
                   "the correction's details")[0]
    assert "Correction desk" in details.text and "reported" in details.text
    click(browser, "#details #d-supersedes a[data-ref='ev-2022-palmyra-clash']", "the link to the superseded clash")
    old = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#details dl[data-entry='ev-2022-palmyra-clash']"),
               "the superseded clash's details")[0]
    assert old.find_elements(By.CSS_SELECTOR, "#d-superseded-by a[data-ref='ev-2022-palmyra-clash-corrected']")
    click(browser, "#details-close", "the details' close button")

    # An entry appended through gRPC appears in the live feed.
    live = pb.pb2.Claim(id="cl-console-live", subject="russia", relation="backs", object="fifth-corps",
                        sources=[pb.pb2.Source(name="Live wire")], certainty=pb.pb2.CERTAINTY_ALLEGED)
    position = append(pb, console, [pb.pb2.Entry(claim=live)]).head
    fed = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#feed-list li[data-id='cl-console-live']"),
               "the live entry in the feed")[0]
    assert fed.get_attribute("data-position") == str(position)
    loaded(browser, "russia@head")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "console.png"))

    # Clicking an actor in the graph moves to it.
    click(browser, "#graph g.node[data-actor='national-defence-forces']", "the National Defence Forces in the graph")
    loaded(browser, "national-defence-forces@head")
    assert "National Defence Forces" in browser.find_element(By.ID, "actor-name").text
    console_errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"
                      and "401" not in entry["message"]]
    assert not console_errors, console_errors


def test_the_filters_narrow_the_graph_and_the_timeline(console, browser):
    # A page load of its own: the browser is still on the last test's Russia view, and a change
    # of fragment alone would find that view loaded before the filters redraw it.
    browser.get("about:blank")
    browser.get(f"{console.http}#/actor/russia?relation=recruits&certainty=reported")
    loaded(browser, "russia@head")
    # Both attributes of every edge in one script: one drawing, never half of a redraw.
    edges = browser.execute_script(
        "return [...document.querySelectorAll('#graph path.edge')]"
        ".map(e => [e.getAttribute('data-relation'), e.getAttribute('data-certainty')]);")
    relations = {relation for relation, _ in edges}
    assert relations == {"recruits"}, relations
    certainties = {certainty for _, certainty in edges}
    assert certainties <= {"reported", "confirmed"}, certainties
    assert browser.find_element(By.ID, "f-relation").get_attribute("value") == "recruits"
    assert all(i.startswith(("ev-", "cl-")) for i in items(browser))
    assert "cl-russia-recruits-syrian-fighters" in items(browser)
    assert "cl-russia-selects-battle-hardened" not in items(browser), "alleged is below reported"

