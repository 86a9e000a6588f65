"""Consumer groups from a Python grpcio client: two members share a group over bidirectional
streams, ack what they process, nack one entry until it is parked, and an admin replays it.

Runs against a server of its own (the module's fixture). The groups stubs are generated here,
next to the session's eventlog stubs (groups.proto imports eventlog.proto), so the shared
fixtures stay as they are.
"""

import importlib
import queue
import threading
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest

from conftest import PROTO_ROOT, RPC_TIMEOUT_S, _grpc_tools_include_dir, connected, running_server

GROUPS_PROTO = "eventlog/v1/groups.proto"
EVENTS = 40
POISON_EVENT = 7  # the event every member nacks


@pytest.fixture(scope="module")
def gpb(pb):
    """The groups modules, generated into the directory of the session's stubs."""
    from grpc_tools import protoc

    out = Path(pb.pb2.__file__).resolve().parents[2]
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{_grpc_tools_include_dir()}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        GROUPS_PROTO,
    ]
    assert protoc.main(args) == 0, f"grpc_tools.protoc failed: {' '.join(args)}"
    importlib.invalidate_caches()
    return SimpleNamespace(
        pb2=importlib.import_module("eventlog.v1.groups_pb2"),
        grpc=importlib.import_module("eventlog.v1.groups_pb2_grpc"),
    )


@pytest.fixture(scope="module")
def own_address(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("groups-server")) as address:
        yield address


def seed(pb2):
    actors = [
        pb2.Entry(actor=pb2.Actor(id=f"actor-{i}", name=f"Actor {i}", kind=pb2.ACTOR_KIND_STATE))
        for i in range(3)
    ]
    events = [
        pb2.Entry(
            event=pb2.Event(
                id=f"ev-{i}",
                relation="attacks",
                participants=[
                    pb2.Participant(actor_id=f"actor-{i % 3}", role=pb2.ROLE_INITIATOR),
                    pb2.Participant(actor_id=f"actor-{(i + 1) % 3}", role=pb2.ROLE_TARGET),
                ],
                date="2022",
                certainty=pb2.CERTAINTY_REPORTED,
            )
        )
        for i in range(EVENTS)
    ]
    return actors + events


class Member:
    """A member on its own stream: a thread reads deliveries, acks or nacks them by `policy`,
    and records what was confirmed."""

    def __init__(self, gpb, channel, group, policy):
        self.gpb = gpb
        self.requests = queue.Queue()
        self.policy = policy
        self.deliveries = []
        self.confirmed = []
        self.ended = None
        self._ids = {}
        self.requests.put(gpb.pb2.JoinGroupRequest(join=gpb.pb2.Join(group=group)))
        stub = gpb.grpc.ConsumerGroupsStub(channel)
        self.stream = stub.JoinGroup(self._outgoing(), timeout=6 * RPC_TIMEOUT_S)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _outgoing(self):
        while True:
            request = self.requests.get()
            if request is None:
                return
            yield request

    def _run(self):
        pb2 = self.gpb.pb2
        try:
            for response in self.stream:
                kind = response.WhichOneof("message")
                if kind == "delivery":
                    d = response.delivery
                    self.deliveries.append((d.entry.position, d.attempt))
                    self._ids[d.delivery_id] = d.entry.position
                    if self.policy(d):
                        self.requests.put(pb2.JoinGroupRequest(ack=pb2.Ack(delivery_ids=[d.delivery_id])))
                    else:
                        self.requests.put(pb2.JoinGroupRequest(nack=pb2.Nack(delivery_id=d.delivery_id)))
                elif kind == "acked":
                    self.confirmed.extend(self._ids[i] for i in response.acked.delivery_ids)
        except grpc.RpcError as error:
            self.ended = error

    def leave(self):
        self.requests.put(None)
        self.stream.cancel()
        self.thread.join(timeout=RPC_TIMEOUT_S)


def wait_until(check, seconds=20):
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_two_python_members_share_a_group_and_a_parked_entry_is_replayed(pb, gpb, own_address):
    pb2, g = pb.pb2, gpb.pb2
    with connected(pb, own_address) as log:
        head = log.Append(pb2.AppendRequest(entries=seed(pb2)), timeout=RPC_TIMEOUT_S).head
        poison = 3 + POISON_EVENT + 1
        channel = grpc.insecure_channel(own_address)
        admin = gpb.grpc.ConsumerGroupsStub(channel)
        settings = g.GroupSettings(
            dispatch=g.DISPATCH_MODE_ROUND_ROBIN,
            max_deliver=2,
            max_ack_pending=16,
        )
        settings.ack_wait.FromMilliseconds(300)
        created = admin.CreateGroup(
            g.CreateGroupRequest(name="py-workers", settings=settings), timeout=RPC_TIMEOUT_S
        )
        assert created.group.start_position == 1

        members = [
            Member(gpb, channel, "py-workers", lambda d: d.entry.position != poison)
            for _ in range(2)
        ]

        def state():
            return admin.DescribeGroup(
                g.DescribeGroupRequest(name="py-workers"), timeout=RPC_TIMEOUT_S
            ).state

        assert wait_until(lambda: state().parked == 1 and state().acked_through == head)
        confirmed = [p for m in members for p in m.confirmed]
        assert sorted(confirmed) == [p for p in range(1, head + 1) if p != poison]
        assert all(m.deliveries for m in members), "both members took their turn"
        parked = admin.ListParked(g.ListParkedRequest(name="py-workers"), timeout=RPC_TIMEOUT_S)
        assert [(p.position, p.attempts) for p in parked.parked] == [(poison, 2)]
        for m in members:
            m.leave()

        # The consumer is fixed: the replayed entry is delivered again, acked, and nothing parks.
        fixed = Member(gpb, channel, "py-workers", lambda d: True)
        replayed = admin.ReplayParked(g.ReplayParkedRequest(name="py-workers"), timeout=RPC_TIMEOUT_S)
        assert replayed.replayed == 1
        assert wait_until(lambda: fixed.confirmed == [poison])
        assert fixed.deliveries == [(poison, 1)]
        assert wait_until(lambda: state().parked == 0 and state().replaying == 0)
        fixed.leave()

        with pytest.raises(grpc.RpcError) as unknown:
            admin.DescribeGroup(g.DescribeGroupRequest(name="no-such-group"), timeout=RPC_TIMEOUT_S)
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
        assert "create it first" in unknown.value.details()
        channel.close()
