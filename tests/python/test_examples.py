"""The example clients (examples/python, examples/node) run against a real server.

Each example is a program: it is run as a subprocess with `--addr`, and must exit 0 and print
what it found. Every test starts servers of its own (fresh temporary data directories), so the
examples' entries do not change what the other tests see, and the other tests' entries do not
change what the examples print.

The Node example needs `node` on PATH (skipped otherwise) and its dependencies installed by
scripts/node-deps.sh, which scripts/python-tests.sh runs first.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

from conftest import REPO_ROOT, running_server

PYTHON_EXAMPLE = REPO_ROOT / "examples" / "python" / "eventlog_client_example.py"
NODE_EXAMPLE_DIR = REPO_ROOT / "examples" / "node"

# The ids the examples append (the same in both languages).
EVENT_ID = "example-ev-2022-03-russia-trains-liwa-al-quds"
CLAIM_ID = "example-cl-2022-russia-arms-liwa-al-quds"
FIXED_IDS = ["russia", "liwa-al-quds", "hts", EVENT_ID, CLAIM_ID]

# The examples wait at most 10 s for their live entry and 10 s for each call; a whole run takes
# about a second. This bounds a run that hangs anyway.
RUN_TIMEOUT_S = 60

LANGUAGES = ["python", "node"]


def require(language):
    """Skips the test when the example's runtime is missing (node), before any server starts."""
    if language == "python":
        # The interpreter running the tests has grpcio and grpcio-tools (target/python-venv).
        return
    if shutil.which("node") is None:
        pytest.skip("node is not on PATH: the Node example is not run")
    if not (NODE_EXAMPLE_DIR / "node_modules" / "@grpc" / "grpc-js").is_dir():
        pytest.fail(
            "examples/node/node_modules is missing: run scripts/node-deps.sh "
            "(scripts/python-tests.sh does)"
        )


def example_command(language, address):
    """The command running one example against `address`."""
    require(language)
    if language == "python":
        return [sys.executable, str(PYTHON_EXAMPLE), "--addr", address]
    return [shutil.which("node"), str(NODE_EXAMPLE_DIR / "example.js"), "--addr", address]


def run_example(language, address):
    """Runs one example; returns its stdout after checking it exited 0."""
    command = example_command(language, address)
    result = subprocess.run(
        command,
        cwd=PYTHON_EXAMPLE.parent if language == "python" else NODE_EXAMPLE_DIR,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert result.returncode == 0, (
        f"the {language} example exited with status {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )
    return result.stdout


def sections(output):
    """The output split at its "== Title" lines: {title: [indented lines below it]}."""
    found = {}
    lines = None
    for line in output.splitlines():
        if line.startswith("== "):
            lines = found.setdefault(line[3:], [])
        elif lines is not None:
            lines.append(line.strip())
    return found


def section(output, prefix):
    matching = [lines for title, lines in sections(output).items() if title.startswith(prefix)]
    assert len(matching) == 1, f"no single section {prefix!r} in the output:\n{output}"
    return matching[0]


def check_walkthrough(output, fixed_entries):
    """Checks what every successful run prints; `fixed_entries` is "new" or "duplicate"."""
    appended = section(output, "Append")
    for entry_id in FIXED_IDS:
        assert any(
            re.fullmatch(rf"#\d+ {re.escape(entry_id)} \({fixed_entries}\)", line)
            for line in appended
        ), f"{entry_id} was not appended as {fixed_entries}:\n{output}"

    assert "best match: russia (Russia)" in section(output, "ResolveActor")

    events = section(output, "QueryEvents")
    assert f"found event {EVENT_ID}" in " ".join(events), output
    assert any(f"event {EVENT_ID}: trains [russia / liwa-al-quds] date 2022-03~" in line
               for line in events), output

    assert f"found claim {CLAIM_ID}" in section(output, "QueryClaims"), output

    relations = section(output, "ListRelations")
    assert any(line.startswith("russia trains liwa-al-quds:") for line in relations), output
    assert any(line.startswith("russia arms liwa-al-quds:") for line in relations), output

    # The live entry: appended once the stream was live, then received on it.
    subscribe = section(output, "Subscribe")
    caught_up = [i for i, line in enumerate(subscribe) if line.startswith("caught up:")]
    appended_live = [
        m for m in (re.fullmatch(r"appended (example-live-\w+) at position (\d+)", line)
                    for line in subscribe) if m
    ]
    assert caught_up and len(appended_live) == 1, output
    live_id, position = appended_live[0].groups()
    assert any(line.startswith(f"live #{position} event {live_id}: clashes_with")
               for line in subscribe), output
    assert any(line.startswith(f"live entry {live_id} arrived") for line in subscribe), output
    # Every history line comes before the stream went live.
    assert all(i < caught_up[0] for i, line in enumerate(subscribe)
               if line.startswith("history ")), output

    assert output.rstrip().endswith("== OK"), output
    return live_id


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_example_runs_twice_against_a_real_server(language, tmp_path):
    require(language)
    with running_server(tmp_path) as address:
        first = run_example(language, address)
        first_live = check_walkthrough(first, fixed_entries="new")
        # A second run appends nothing new but its live entry: the fixed entries are
        # idempotent duplicates.
        second = run_example(language, address)
        second_live = check_walkthrough(second, fixed_entries="duplicate")
    assert first_live != second_live
    # The second run's history holds the first run's entries: 5 fixed + 1 live.
    assert "caught up: 6 entries of history" in " ".join(section(second, "Subscribe")), second


def test_the_examples_append_the_same_entries(tmp_path):
    """The Python and Node examples share one log: each finds the other's entries as duplicates."""
    require("node")
    (tmp_path / "python-first").mkdir()
    (tmp_path / "node-first").mkdir()
    with running_server(tmp_path / "python-first") as address:
        check_walkthrough(run_example("python", address), fixed_entries="new")
        check_walkthrough(run_example("node", address), fixed_entries="duplicate")
    with running_server(tmp_path / "node-first") as address:
        check_walkthrough(run_example("node", address), fixed_entries="new")
        check_walkthrough(run_example("python", address), fixed_entries="duplicate")


def closed_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_example_fails_fast_without_a_server(language):
    command = example_command(language, f"127.0.0.1:{closed_port()}")
    started = time.monotonic()
    result = subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 1, (
        f"status {result.returncode}\n--- stdout ---\n{result.stdout}\n"
        f"--- stderr ---\n{result.stderr}"
    )
    assert result.stderr.startswith("error: UNAVAILABLE"), result.stderr
    assert "== OK" not in result.stdout
    assert elapsed < 20, f"took {elapsed:.1f} s to give up"


def test_the_pandas_example_tables_the_seed_datasets_2022_clashes(tmp_path):
    """examples/python/events_table.py, the README's pandas example, over the HTTP API."""
    seed = REPO_ROOT / "examples" / "seed" / "moscow-tehran-proxies.ndjson"
    with running_server(tmp_path, console=True) as server:
        imported = subprocess.run(
            [os.environ["EVENTLOG_BIN"], "import", "--addr", f"http://{server.address}",
             "--format", "ndjson", str(seed)],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
        )
        assert imported.returncode == 0, imported.stderr
        ran = subprocess.run(
            [sys.executable, str(REPO_ROOT / "examples" / "python" / "events_table.py"),
             "--url", server.http.rstrip("/"), "--actor", "Moscow", "--relation", "clashes_with",
             "--from", "2022", "--to", "2022"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
        )
    assert ran.returncode == 0, ran.stderr
    rows = [line.split() for line in ran.stdout.strip().splitlines()]
    assert rows[0][:4] == ["id", "date", "dateSpan.earliest", "dateSpan.latest"], ran.stdout
    assert ["ev-2022-palmyra-clash", "2022", "2022-01-01", "2022-12-31", "clashes_with",
            "CERTAINTY_ALLEGED"] in rows, ran.stdout
