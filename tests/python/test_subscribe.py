"""A Python subscriber receives, live, the entries another client appends.

Runs against a server of its own (the module's fixture), so the entries appended here do not
change what the other tests see.
"""

import threading

import pytest

from conftest import RPC_TIMEOUT_S, connected, running_server


@pytest.fixture(scope="module")
def own_address(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("subscribe-server")) as address:
        yield address


def actor(pb2, actor_id, name):
    return pb2.Entry(actor=pb2.Actor(id=actor_id, name=name, kind=pb2.ACTOR_KIND_ARMED_GROUP))


def clash(pb2, event_id):
    return pb2.Entry(
        event=pb2.Event(
            id=event_id,
            relation="clashes_with",
            participants=[
                pb2.Participant(actor_id="hts", role=pb2.ROLE_PARTICIPANT),
                pb2.Participant(actor_id="liwa-al-quds", role=pb2.ROLE_PARTICIPANT),
            ],
            date="2022-09~",
            certainty=pb2.CERTAINTY_REPORTED,
        )
    )


def test_a_subscriber_receives_entries_appended_by_another_client(pb, own_address):
    pb2 = pb.pb2
    with connected(pb, own_address) as writer, connected(pb, own_address) as reader:
        writer.Append(
            pb2.AppendRequest(entries=[actor(pb2, "hts", "Hay'at Tahrir al-Sham"),
                                       actor(pb2, "liwa-al-quds", "Liwa' al-Quds")]),
            timeout=RPC_TIMEOUT_S,
        )
        request = pb2.SubscribeRequest(
            from_position=1,
            filter=pb2.SubscriptionFilter(kinds=[pb2.ENTRY_KIND_EVENT]),
        )
        stream = reader.Subscribe(request, timeout=3 * RPC_TIMEOUT_S)
        received = []
        caught_up = threading.Event()

        def consume():
            for response in stream:
                kind = response.WhichOneof("message")
                if kind == "caught_up":
                    caught_up.set()
                elif kind == "entry":
                    received.append(response.entry)
                elif kind == "entries":
                    received.extend(response.entries.entries)
                if len(received) >= 3:
                    stream.cancel()
                    return

        consumer = threading.Thread(target=consume, daemon=True)
        consumer.start()
        assert caught_up.wait(RPC_TIMEOUT_S), "the stream never went live"
        for i in range(3):
            writer.Append(pb2.AppendRequest(entries=[clash(pb2, f"clash-{i}")]),
                          timeout=RPC_TIMEOUT_S)
        consumer.join(RPC_TIMEOUT_S)
        assert not consumer.is_alive(), f"only {len(received)} entries arrived"

    assert [e.event.id for e in received] == ["clash-0", "clash-1", "clash-2"]
    assert [e.position for e in received] == [3, 4, 5]
    assert received[0].event.date_span.earliest == "2022-08-01"
