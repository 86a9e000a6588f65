"""Fixtures for the Python grpcio client tests.

The stubs are generated from proto/ with grpc_tools.protoc into a temporary directory at the
start of the session, and the real server binary ($EVENTLOG_BIN) is started once per session
on a free loopback port with a temporary data directory.
"""

import contextlib
import importlib
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest

from seed import seed_batch

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = REPO_ROOT / "proto"
PROTO_FILE = "eventlog/v1/eventlog.proto"

# How long the server may take to print its listening line.
STARTUP_TIMEOUT_S = 30
# How long the server may take to stop after SIGTERM before it is killed.
SHUTDOWN_TIMEOUT_S = 10
# Deadline of every RPC made by the tests.
RPC_TIMEOUT_S = 10

LISTEN_PREFIX = "eventlog listening on "
CONSOLE_PREFIX = "eventlog console on "


def _grpc_tools_include_dir():
    """The directory of the .proto files shipped with grpc_tools (google/protobuf/...)."""
    try:
        from importlib.resources import files

        return str(files("grpc_tools") / "_proto")
    except (ImportError, AttributeError, TypeError):
        import pkg_resources

        return pkg_resources.resource_filename("grpc_tools", "_proto")


@pytest.fixture(scope="session")
def pb(tmp_path_factory):
    """The generated modules, as `pb.pb2` (messages) and `pb.grpc` (service stubs)."""
    from grpc_tools import protoc

    out = tmp_path_factory.mktemp("stubs")
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{_grpc_tools_include_dir()}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        PROTO_FILE,
    ]
    rc = protoc.main(args)
    assert rc == 0, f"grpc_tools.protoc failed with exit code {rc}: {' '.join(args)}"

    # The generated modules are eventlog.v1.eventlog_pb2 and eventlog.v1.eventlog_pb2_grpc
    # (after the proto's path), so make eventlog/ and eventlog/v1/ regular packages.
    for package in (out / "eventlog", out / "eventlog" / "v1"):
        (package / "__init__.py").touch()

    sys.path.insert(0, str(out))
    try:
        importlib.invalidate_caches()
        pb2 = importlib.import_module("eventlog.v1.eventlog_pb2")
        pb2_grpc = importlib.import_module("eventlog.v1.eventlog_pb2_grpc")
        yield SimpleNamespace(pb2=pb2, grpc=pb2_grpc)
    finally:
        sys.path.remove(str(out))


def _read_listen_line(proc, timeout):
    """Reads the server's first stdout line, waiting at most `timeout` seconds."""
    lines = queue.Queue()

    def reader():
        lines.put(proc.stdout.readline())

    threading.Thread(target=reader, daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return None


def _stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
    if proc.stdout is not None:
        proc.stdout.close()


@contextlib.contextmanager
def running_server(base, extra_args=(), console=False):
    """Runs $EVENTLOG_BIN on a free loopback port with its data in `base`; yields its address.

    `extra_args` go to `eventlog serve`. With `console`, the server also serves HTTP on a free
    port, and what is yielded is a namespace of `address` (gRPC) and `http` (the console's URL).
    """
    binary = os.environ.get("EVENTLOG_BIN")
    if not binary:
        pytest.fail("EVENTLOG_BIN is not set; run the tests with scripts/python-tests.sh")
    if not os.access(binary, os.X_OK):
        pytest.fail(f"EVENTLOG_BIN={binary} is not an executable file")

    data_dir = base / "data"
    stderr_path = base / "stderr.log"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            [binary, "serve", "--data-dir", str(data_dir), "--listen", "127.0.0.1:0"]
            + (["--http-listen", "127.0.0.1:0"] if console else [])
            + list(extra_args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        line = _read_listen_line(proc, STARTUP_TIMEOUT_S)
        if line is None or not line.startswith(LISTEN_PREFIX):
            _stop(proc)
            logs = stderr_path.read_text(errors="replace")
            if line is None:
                problem = f"did not print its listening line within {STARTUP_TIMEOUT_S} s"
            elif not line:
                # End of stdout: the server exited (or closed stdout) without the line.
                problem = (
                    f"closed stdout without printing its listening line "
                    f"(exit status {proc.returncode})"
                )
            else:
                problem = f"printed an unexpected first line: {line!r}"
            pytest.fail(f"eventlog server {problem}\n--- server stderr ---\n{logs}")
        address = line[len(LISTEN_PREFIX):].strip()
        assert address.startswith("127.0.0.1:"), f"unexpected listen address {address!r}"
        if console:
            line = _read_listen_line(proc, STARTUP_TIMEOUT_S)
            assert line and line.startswith(CONSOLE_PREFIX), f"no console line: {line!r}"
            yield SimpleNamespace(address=address, http=line[len(CONSOLE_PREFIX):].strip())
        else:
            yield address
    finally:
        _stop(proc)
    # A clean SIGTERM shutdown exits with status 0.
    assert proc.returncode == 0, (
        f"eventlog server exited with status {proc.returncode} after SIGTERM\n"
        f"--- server stderr ---\n{stderr_path.read_text(errors='replace')}"
    )


@pytest.fixture(scope="session")
def server_address(tmp_path_factory):
    """The session's server: "127.0.0.1:PORT"."""
    with running_server(tmp_path_factory.mktemp("server")) as address:
        yield address


@contextlib.contextmanager
def connected(pb, address):
    """An EventLog stub connected to `address`, closed afterwards."""
    channel = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=RPC_TIMEOUT_S)
        yield pb.grpc.EventLogStub(channel)
    finally:
        channel.close()


@pytest.fixture(scope="session")
def stub(pb, server_address):
    """An EventLog client connected to the session's server."""
    with connected(pb, server_address) as stub:
        yield stub


@pytest.fixture(scope="session")
def seeded(pb, stub):
    """Appends the reference batch to the (empty) log; returns the AppendResponse."""
    info = stub.GetLogInfo(pb.pb2.GetLogInfoRequest(), timeout=RPC_TIMEOUT_S)
    assert info.head == 0, "the session's log should be empty before the reference batch"
    return stub.Append(seed_batch(pb.pb2), timeout=RPC_TIMEOUT_S)
