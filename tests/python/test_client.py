"""Client tests of the eventlog gRPC API through grpcio and stubs generated from proto/.

All tests share one server (see conftest.py). The `seeded` fixture (conftest.py) appends the
reference batch (seed.py) once, so each test can run alone or in any order; no test appends
anything that is accepted besides that batch (the error tests check that their appends are
rejected).
"""

import grpc
import pytest

from seed import ACTOR_ID, EVENT_ID, GROUP_ID, RPC_TIMEOUT_S, head, seed_batch


def test_append_batch_assigns_positions(pb, stub, seeded):
    assert [(r.position, r.id, r.duplicate) for r in seeded.results] == [
        (1, ACTOR_ID, False),
        (2, GROUP_ID, False),
        (3, EVENT_ID, False),
    ]
    assert seeded.head == 3
    info = stub.GetLogInfo(pb.pb2.GetLogInfoRequest(), timeout=RPC_TIMEOUT_S)
    assert info.head == 3
    assert (info.actor_entries, info.event_entries, info.claim_entries) == (2, 1, 0)
    assert info.actors == 2


def test_get_entry_by_id_returns_event_with_date_span(pb, stub, seeded):
    pb2 = pb.pb2
    entry = stub.GetEntry(pb2.GetEntryRequest(id=EVENT_ID), timeout=RPC_TIMEOUT_S).entry
    assert entry.WhichOneof("body") == "event"
    assert entry.position == 3
    assert entry.HasField("recorded_at") and entry.recorded_at.seconds > 0
    event = entry.event
    assert event.id == EVENT_ID
    assert event.relation == "backs"
    assert event.date == "2022-03~"
    assert event.date_span.earliest == "2022-02-01"
    assert event.date_span.latest == "2022-04-30"
    assert event.certainty == pb2.CERTAINTY_REPORTED
    assert [(p.actor_id, p.role) for p in event.participants] == [
        (ACTOR_ID, pb2.ROLE_INITIATOR),
        (GROUP_ID, pb2.ROLE_TARGET),
    ]
    assert [s.name for s in event.sources] == ["SOHR"]


def test_get_entry_by_position(pb, stub, seeded):
    pb2 = pb.pb2
    first = stub.GetEntry(pb2.GetEntryRequest(position=1), timeout=RPC_TIMEOUT_S).entry
    assert first.WhichOneof("body") == "actor"
    assert first.position == 1
    assert first.actor.id == ACTOR_ID
    assert first.actor.name == "Russia"
    assert list(first.actor.aliases) == ["Moscow"]
    assert first.actor.kind == pb2.ACTOR_KIND_STATE
    assert first.actor.country == "RUS"

    third = stub.GetEntry(pb2.GetEntryRequest(position=3), timeout=RPC_TIMEOUT_S).entry
    assert third.WhichOneof("body") == "event"
    assert third.event.id == EVENT_ID


def test_reappending_identical_batch_is_duplicate(pb, stub, seeded):
    again = stub.Append(seed_batch(pb.pb2), timeout=RPC_TIMEOUT_S)
    assert [(r.position, r.id, r.duplicate) for r in again.results] == [
        (1, ACTOR_ID, True),
        (2, GROUP_ID, True),
        (3, EVENT_ID, True),
    ]
    assert again.head == 3
    assert head(pb, stub) == 3


def test_resolve_actor_by_alias_ignoring_case(pb, stub, seeded):
    response = stub.ResolveActor(pb.pb2.ResolveActorRequest(name="moscow"), timeout=RPC_TIMEOUT_S)
    assert [a.id for a in response.matches][:1] == [ACTOR_ID]
    assert response.matches[0].name == "Russia"


def test_read_log_returns_entries_in_position_order(pb, stub, seeded):
    pb2 = pb.pb2
    expected_head = head(pb, stub)
    entries = [
        entry
        for chunk in stub.ReadLog(pb2.ReadLogRequest(from_position=1), timeout=RPC_TIMEOUT_S)
        for entry in chunk.entries
    ]
    assert [e.position for e in entries] == list(range(1, expected_head + 1))
    ids = [getattr(e, e.WhichOneof("body")).id for e in entries]
    assert ids[:3] == [ACTOR_ID, GROUP_ID, EVENT_ID]


def assert_not_in_log(pb, stub, entry_id):
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetEntry(pb.pb2.GetEntryRequest(id=entry_id), timeout=RPC_TIMEOUT_S)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND, raised.value.details()


def _single_event_append(pb2, event):
    return pb2.AppendRequest(entries=[pb2.Entry(event=event)])


def test_invalid_date_is_invalid_argument(pb, stub, seeded):
    pb2 = pb.pb2
    before = head(pb, stub)
    event = pb2.Event(
        id="ev-bad-date",
        relation="backs",
        participants=[pb2.Participant(actor_id=ACTOR_ID, role=pb2.ROLE_INITIATOR)],
        date="2022-13",
        certainty=pb2.CERTAINTY_REPORTED,
    )
    with pytest.raises(grpc.RpcError) as raised:
        stub.Append(_single_event_append(pb2, event), timeout=RPC_TIMEOUT_S)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, raised.value.details()
    assert "entries[0].event.date" in raised.value.details()
    assert head(pb, stub) == before
    assert_not_in_log(pb, stub, event.id)


def test_unknown_actor_is_failed_precondition(pb, stub, seeded):
    pb2 = pb.pb2
    before = head(pb, stub)
    event = pb2.Event(
        id="ev-unknown-actor",
        relation="backs",
        participants=[
            pb2.Participant(actor_id=ACTOR_ID, role=pb2.ROLE_INITIATOR),
            pb2.Participant(actor_id="no-such-actor", role=pb2.ROLE_TARGET),
        ],
        date="2022-03",
        certainty=pb2.CERTAINTY_REPORTED,
    )
    with pytest.raises(grpc.RpcError) as raised:
        stub.Append(_single_event_append(pb2, event), timeout=RPC_TIMEOUT_S)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION, raised.value.details()
    assert head(pb, stub) == before
    assert_not_in_log(pb, stub, event.id)


def test_list_relation_types(pb, stub):
    response = stub.ListRelationTypes(
        pb.pb2.ListRelationTypesRequest(), timeout=RPC_TIMEOUT_S
    )
    by_key = {r.key: r for r in response.relation_types}
    assert "backs" in by_key
    assert not by_key["backs"].symmetric
    assert "clashes_with" in by_key
    assert by_key["clashes_with"].symmetric
    keys = [r.key for r in response.relation_types]
    assert keys == sorted(keys), "relation types should be in key order"
