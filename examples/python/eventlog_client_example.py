#!/usr/bin/env python3
"""An example eventlog client in Python (grpcio).

It walks through the API against a running server:

1. appends three actors, an event and a claim (fixed ids, so a second run is answered with
   `duplicate = true` and appends nothing);
2. resolves an actor by alias and queries the log back (QueryEvents, QueryClaims,
   ListRelations);
3. opens a Subscribe stream from position 1, reads the history, and once the stream is live
   appends one more event (with an id unique to this run) and waits for it to arrive.

The stubs are generated from proto/eventlog/v1/eventlog.proto at run time, with grpc_tools.protoc,
into a temporary directory that is removed on exit: nothing generated is kept.

Every call has a deadline and the subscription as a whole has a timeout, so the example never
hangs; it exits 0 when everything worked and 1 (with the reason on stderr) otherwise.

    python eventlog_client_example.py --addr 127.0.0.1:50051

Needs `pip install grpcio grpcio-tools`.
"""

import argparse
import importlib
import sys
import tempfile
import time
import uuid
from pathlib import Path

import grpc

# The repository's proto/ directory (this file is examples/python/eventlog_client_example.py).
DEFAULT_PROTO_ROOT = Path(__file__).resolve().parents[2] / "proto"
PROTO_FILE = "eventlog/v1/eventlog.proto"

# Ids of the example data. They are fixed on purpose: an entry's id is its idempotency key, so
# re-appending the identical entry on a second run is answered with its original position and
# `duplicate = true`. The Node example (examples/node) appends exactly the same entries.
EVENT_ID = "example-ev-2022-03-russia-trains-liwa-al-quds"
CLAIM_ID = "example-cl-2022-russia-arms-liwa-al-quds"


def generate_stubs(proto_root, out_dir):
    """Compiles the .proto into `out_dir` and imports the generated modules.

    Returns (eventlog_pb2, eventlog_pb2_grpc): the messages and the service stub.
    """
    from importlib.resources import files

    from grpc_tools import protoc

    # grpc_tools ships google/protobuf/*.proto (timestamp.proto is imported by eventlog.proto).
    well_known = str(files("grpc_tools") / "_proto")
    args = [
        "grpc_tools.protoc",
        f"-I{proto_root}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        PROTO_FILE,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"grpc_tools.protoc failed: {' '.join(args)}")
    # The modules are generated as eventlog/v1/eventlog_pb2*.py, after the proto's path.
    sys.path.insert(0, str(out_dir))
    importlib.invalidate_caches()
    pb2 = importlib.import_module("eventlog.v1.eventlog_pb2")
    pb2_grpc = importlib.import_module("eventlog.v1.eventlog_pb2_grpc")
    return pb2, pb2_grpc


def example_entries(pb):
    """Three actors, one event and one claim about them (example data)."""
    russia = pb.Actor(
        id="russia",
        name="Russia",
        aliases=["Moscow", "Russian Federation"],
        kind=pb.ACTOR_KIND_STATE,
        country="RUS",
    )
    liwa = pb.Actor(
        id="liwa-al-quds",
        name="Liwa' al-Quds",
        aliases=["Jerusalem Brigade"],
        kind=pb.ACTOR_KIND_ARMED_GROUP,
        country="SYR",
        description="Pro-government Palestinian-Syrian militia based in Aleppo.",
    )
    hts = pb.Actor(
        id="hts",
        name="Hay'at Tahrir al-Sham",
        aliases=["HTS"],
        kind=pb.ACTOR_KIND_ARMED_GROUP,
        country="SYR",
    )
    # "russia trains liwa-al-quds", around March 2022 ("~" = approximate, EDTF).
    event = pb.Event(
        id=EVENT_ID,
        relation="trains",
        participants=[
            pb.Participant(actor_id="russia", role=pb.ROLE_INITIATOR),
            pb.Participant(actor_id="liwa-al-quds", role=pb.ROLE_TARGET),
        ],
        date="2022-03~",
        location=pb.Location(name="Aleppo", country="SYR", admin1="Aleppo"),
        summary="Russian advisers train Liwa' al-Quds fighters near Aleppo (example data).",
        sources=[pb.Source(name="Example Monitor", published="2022-04")],
        certainty=pb.CERTAINTY_REPORTED,
        attributes={"example": "true"},
    )
    # An attributed assertion: sources allege that Russia armed the group during 2022.
    claim = pb.Claim(
        id=CLAIM_ID,
        subject="russia",
        relation="arms",
        object="liwa-al-quds",
        valid="2022",
        sources=[pb.Source(name="Example Observatory", published="2022-11")],
        certainty=pb.CERTAINTY_ALLEGED,
        statement="Sources say Russia supplied the brigade with weapons in 2022 (example data).",
    )
    return [
        pb.Entry(actor=russia),
        pb.Entry(actor=liwa),
        pb.Entry(actor=hts),
        pb.Entry(event=event),
        pb.Entry(claim=claim),
    ]


def live_event(pb, event_id):
    """The entry appended while the subscription is live; its id is new on every run."""
    return pb.Entry(
        event=pb.Event(
            id=event_id,
            relation="clashes_with",
            participants=[
                pb.Participant(actor_id="liwa-al-quds", role=pb.ROLE_PARTICIPANT),
                pb.Participant(actor_id="hts", role=pb.ROLE_PARTICIPANT),
            ],
            date="2022-09-24",
            summary="Clashes on the Aleppo front line (example data).",
            certainty=pb.CERTAINTY_REPORTED,
        )
    )


def describe(pb, entry):
    """One line about an entry: its position, kind, id and what it says."""
    kind = entry.WhichOneof("body")
    if kind == "actor":
        a = entry.actor
        return f"#{entry.position} actor {a.id}: {a.name} ({pb.ActorKind.Name(a.kind)})"
    if kind == "event":
        e = entry.event
        who = " / ".join(p.actor_id for p in e.participants)
        span = f"{e.date_span.earliest or '..'}..{e.date_span.latest or '..'}"
        return (
            f"#{entry.position} event {e.id}: {e.relation} [{who}] "
            f"date {e.date} (days {span}) {pb.Certainty.Name(e.certainty)}"
        )
    if kind == "claim":
        c = entry.claim
        denial = "NOT " if c.negated else ""
        return (
            f"#{entry.position} claim {c.id}: {c.subject} {denial}{c.relation} {c.object} "
            f"valid {c.valid or '?'} {pb.Certainty.Name(c.certainty)}"
        )
    return f"#{entry.position} (empty entry)"


def run(pb, rpc, channel, timeout):
    log = rpc.EventLogStub(channel)

    print("== GetLogInfo")
    info = log.GetLogInfo(pb.GetLogInfoRequest(), timeout=timeout)
    print(f"   server {info.version}, head {info.head}, {info.relation_types} relation types")

    # --- Append: one atomic batch; duplicates are answered, not appended again. ---
    entries = example_entries(pb)
    print(f"== Append {len(entries)} entries (3 actors, 1 event, 1 claim)")
    response = log.Append(pb.AppendRequest(entries=entries), timeout=timeout)
    for result in response.results:
        status = "duplicate" if result.duplicate else "new"
        print(f"   #{result.position} {result.id} ({status})")
    print(f"   head is now {response.head}")

    # --- ResolveActor: names and aliases ignore case, diacritics and punctuation. ---
    print('== ResolveActor "moscow"')
    matches = log.ResolveActor(pb.ResolveActorRequest(name="moscow"), timeout=timeout).matches
    if not matches:
        raise RuntimeError('ResolveActor("moscow") found nothing')
    print(f"   best match: {matches[0].id} ({matches[0].name})")

    # --- QueryEvents: by actor (an alias works) and a date range (EDTF, overlap semantics). ---
    print('== QueryEvents actor="Moscow" date_from="2022-01" date_to="2022-06"')
    events = log.QueryEvents(
        pb.QueryEventsRequest(actor="Moscow", date_from="2022-01", date_to="2022-06"),
        timeout=timeout,
    )
    for entry in events.entries:
        print(f"   {describe(pb, entry)}")
    print(f"   {len(events.entries)} event(s), answered at position {events.as_of_position}")
    found = [e for e in events.entries if e.event.id == EVENT_ID]
    if not found:
        raise RuntimeError(f"QueryEvents did not find {EVENT_ID}")
    # recorded_at is a google.protobuf.Timestamp; ToJsonString() gives RFC 3339.
    print(f"   found event {EVENT_ID}, recorded at {found[0].recorded_at.ToJsonString()}")

    # --- QueryClaims: claims about Moscow with the relation "arms". ---
    print('== QueryClaims subject="Moscow" relations=["arms"]')
    claims = log.QueryClaims(
        pb.QueryClaimsRequest(subject="Moscow", relations=["arms"]), timeout=timeout
    )
    for entry in claims.entries:
        print(f"   {describe(pb, entry)}")
    if CLAIM_ID not in {e.claim.id for e in claims.entries}:
        raise RuntimeError(f"QueryClaims did not find {CLAIM_ID}")
    print(f"   found claim {CLAIM_ID}")

    # --- ListRelations: the graph around Moscow, aggregated from events and claims. ---
    print('== ListRelations actor="Moscow" direction=OUTGOING')
    graph = log.ListRelations(
        pb.ListRelationsRequest(actor="Moscow", direction=pb.DIRECTION_OUTGOING),
        timeout=timeout,
    )
    for edge in graph.edges:
        print(
            f"   {edge.subject} {edge.relation} {edge.object}: "
            f"{edge.earliest or '..'}..{edge.latest or '..'}, "
            f"{edge.event_count} event(s), {edge.claim_count} claim(s), "
            f"{pb.Certainty.Name(edge.certainty)}{', denied' if edge.denied else ''}"
        )
    edges = {(e.subject, e.relation, e.object) for e in graph.edges}
    for wanted in [("russia", "trains", "liwa-al-quds"), ("russia", "arms", "liwa-al-quds")]:
        if wanted not in edges:
            raise RuntimeError(f"ListRelations has no edge {' '.join(wanted)}")

    # --- Subscribe: history from position 1, then live. ---
    subscribe_live(pb, log, timeout)


def subscribe_live(pb, log, timeout):
    """Follows the log from position 1; once live, appends an event and waits for it.

    The stream's deadline (`timeout`) bounds the whole exchange: if the live entry has not
    arrived by then, iterating the stream raises DEADLINE_EXCEEDED.
    """
    live_id = f"example-live-{uuid.uuid4().hex[:12]}"
    print(f"== Subscribe from_position=1 (timeout {timeout:g} s)")
    stream = log.Subscribe(pb.SubscribeRequest(from_position=1), timeout=timeout)
    history = 0
    appended_at = None
    try:
        for response in stream:
            kind = response.WhichOneof("message")
            if kind == "caught_up":
                # The history is delivered; from here on entries arrive as they are appended.
                print(f"   caught up: {history} entries of history, head {response.caught_up.head}")
                appended_at = time.monotonic()
                result = log.Append(
                    pb.AppendRequest(entries=[live_event(pb, live_id)]), timeout=timeout
                ).results[0]
                print(f"   appended {result.id} at position {result.position}")
                continue
            if kind == "entry":
                received = [response.entry]
            elif kind == "entries":
                received = list(response.entries.entries)
            else:
                # checkpoint / fell_behind: progress messages, nothing to show here.
                continue
            for entry in received:
                if appended_at is None:
                    history += 1
                    if history <= 10:
                        print(f"   history {describe(pb, entry)}")
                    elif history == 11:
                        print("   history ... (more entries not shown)")
                elif entry.event.id == live_id:
                    ms = (time.monotonic() - appended_at) * 1000
                    print(f"   live {describe(pb, entry)}")
                    print(f"   live entry {live_id} arrived {ms:.0f} ms after the append")
                    return
                else:
                    # Someone else appended meanwhile: show it and keep waiting for ours.
                    print(f"   live (other client) {describe(pb, entry)}")
        # Subscribe never ends by itself; an end means the server went away.
        raise RuntimeError("the subscription ended before the live entry arrived")
    finally:
        # Ends the stream on the server too (it would otherwise wait for the next entry).
        stream.cancel()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", default="127.0.0.1:50051", help="server host:port")
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="deadline of each call and of the subscription, in seconds (default 10)",
    )
    parser.add_argument(
        "--proto-root",
        type=Path,
        default=DEFAULT_PROTO_ROOT,
        help="directory holding eventlog/v1/eventlog.proto (default: the repository's proto/)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="eventlog-stubs-") as stubs:
        pb, rpc = generate_stubs(args.proto_root, stubs)
        print(f"== Connecting to {args.addr}")
        with grpc.insecure_channel(args.addr) as channel:
            try:
                run(pb, rpc, channel, args.timeout)
            except grpc.RpcError as err:
                # Every failed call ends up here: the status code and the server's message.
                print(f"error: {err.code().name}: {err.details()}", file=sys.stderr)
                return 1
            except RuntimeError as err:
                print(f"error: {err}", file=sys.stderr)
                return 1
    print("== OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
