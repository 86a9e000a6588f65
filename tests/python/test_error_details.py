"""Refusals read as a generic gRPC client reads them: `grpcio-status` decodes the
`google.rpc.Status` in the trailers, its `ErrorInfo` gives the stable reason and the index of
the refused entry, `BadRequest` or `PreconditionFailure` the path of the field. No test reads
the message text to learn what went wrong. Every case leaves the head where it was.
"""

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from seed import ACTOR_ID, EVENT_ID, GROUP_ID, RPC_TIMEOUT_S, head


def details_of(error):
    """(ErrorInfo, [field paths]) of a refusal; fails if the status carries no details."""
    status = rpc_status.from_call(error)
    assert status is not None, f"no google.rpc.Status in {error!r}"
    assert status.code == error.code().value[0]
    info, paths = None, []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            paths += [v.field for v in bad.field_violations]
        elif detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            detail.Unpack(failure)
            paths += [v.subject for v in failure.violations]
    assert info is not None, f"no ErrorInfo in {status}"
    assert info.domain == "eventlog"
    return info, paths


def event(pb2, event_id, **fields):
    values = dict(
        id=event_id,
        relation="backs",
        participants=[
            pb2.Participant(actor_id=ACTOR_ID, role=pb2.ROLE_INITIATOR),
            pb2.Participant(actor_id=GROUP_ID, role=pb2.ROLE_TARGET),
        ],
        date="2023",
        certainty=pb2.CERTAINTY_REPORTED,
    )
    values.update(fields)
    return pb2.Entry(event=pb2.Event(**values))


def good(pb2):
    return event(pb2, "ev-py-good")


# (name, the refused second entry of a batch, code, reason, field path)
CASES = [
    ("bad date", lambda pb2: event(pb2, "ev-py-1", date="2022-13"),
     "INVALID_ARGUMENT", "INVALID_DATE", "entries[1].event.date"),
    ("no date", lambda pb2: event(pb2, "ev-py-2", date=""),
     "INVALID_ARGUMENT", "MISSING_FIELD", "entries[1].event.date"),
    ("unknown relation", lambda pb2: event(pb2, "ev-py-3", relation="bakcs"),
     "INVALID_ARGUMENT", "UNKNOWN_RELATION", "entries[1].event.relation"),
    ("bad id", lambda pb2: event(pb2, "not an id!"),
     "INVALID_ARGUMENT", "INVALID_ID", "entries[1].event.id"),
    ("no body", lambda pb2: pb2.Entry(),
     "INVALID_ARGUMENT", "MISSING_FIELD", "entries[1].body"),
    ("unknown actor", lambda pb2: event(pb2, "ev-py-4", participants=[
        pb2.Participant(actor_id="no-such-actor", role=pb2.ROLE_INITIATOR)]),
     "FAILED_PRECONDITION", "UNKNOWN_ACTOR", "entries[1].event.participants[0].actor_id"),
    ("correction of nothing", lambda pb2: event(pb2, "ev-py-5", supersedes=["ev-none"]),
     "FAILED_PRECONDITION", "UNKNOWN_ENTRY", "entries[1].event.supersedes[0]"),
    ("id twice in the batch", lambda pb2: event(pb2, "ev-py-good", date="2021"),
     "INVALID_ARGUMENT", "ID_TWICE_IN_BATCH", "entries[1]"),
]


@pytest.mark.parametrize("name,second,code,reason,path", CASES, ids=[c[0] for c in CASES])
def test_append_refusals_carry_reason_and_field(pb, stub, seeded, name, second, code, reason, path):
    pb2 = pb.pb2
    before = head(pb, stub)
    request = pb2.AppendRequest(entries=[good(pb2), second(pb2)])
    with pytest.raises(grpc.RpcError) as raised:
        stub.Append(request, timeout=RPC_TIMEOUT_S)
    assert raised.value.code().name == code
    info, paths = details_of(raised.value)
    assert info.reason == reason
    assert info.metadata["entry_index"] == "1"
    assert paths == [path]
    assert head(pb, stub) == before


def test_id_taken_says_where(pb, stub, seeded):
    pb2 = pb.pb2
    before = head(pb, stub)
    taken = event(pb2, EVENT_ID, date="2019")
    with pytest.raises(grpc.RpcError) as raised:
        stub.Append(pb2.AppendRequest(entries=[taken]), timeout=RPC_TIMEOUT_S)
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    info, _ = details_of(raised.value)
    assert info.reason == "ID_TAKEN"
    assert info.metadata["id"] == EVENT_ID
    assert info.metadata["position"] == "3"
    assert info.metadata["entry_index"] == "0"
    assert head(pb, stub) == before


def test_head_mismatch_carries_the_head(pb, stub, seeded):
    pb2 = pb.pb2
    before = head(pb, stub)
    request = pb2.AppendRequest(entries=[good(pb2)], expected_head=before + 5)
    with pytest.raises(grpc.RpcError) as raised:
        stub.Append(request, timeout=RPC_TIMEOUT_S)
    assert raised.value.code() == grpc.StatusCode.ABORTED
    info, paths = details_of(raised.value)
    assert info.reason == "HEAD_MISMATCH"
    assert info.metadata["head"] == str(before)
    assert info.metadata["expected_head"] == str(before + 5)
    assert paths == ["expected_head"]
    assert head(pb, stub) == before


def test_unknown_actor_in_a_query_suggests_by_id(pb, stub, seeded):
    pb2 = pb.pb2
    with pytest.raises(grpc.RpcError) as raised:
        stub.QueryEvents(pb2.QueryEventsRequest(actor="Rusia"), timeout=RPC_TIMEOUT_S)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    info, _ = details_of(raised.value)
    assert info.reason == "UNKNOWN_ACTOR"
    assert info.metadata["field"] == "actor"
    assert info.metadata["suggestions"] == ACTOR_ID
