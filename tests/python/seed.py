"""The reference batch every client test shares (appended once per session by the `seeded`
fixture of conftest.py), and small helpers the test modules share."""

# Deadline of every RPC, in seconds.
RPC_TIMEOUT_S = 10

ACTOR_ID = "russia"
GROUP_ID = "liwa-al-quds"
EVENT_ID = "ev-2022-03-russia-backs-liwa-al-quds"


def seed_batch(pb2):
    """The reference batch: a state, an armed group and an event between them."""
    russia = pb2.Actor(
        id=ACTOR_ID,
        name="Russia",
        aliases=["Moscow"],
        kind=pb2.ACTOR_KIND_STATE,
        country="RUS",
    )
    group = pb2.Actor(
        id=GROUP_ID,
        name="Liwa' al-Quds",
        aliases=["Jerusalem Brigade"],
        kind=pb2.ACTOR_KIND_ARMED_GROUP,
        country="SYR",
    )
    event = pb2.Event(
        id=EVENT_ID,
        relation="backs",
        participants=[
            pb2.Participant(actor_id=ACTOR_ID, role=pb2.ROLE_INITIATOR),
            pb2.Participant(actor_id=GROUP_ID, role=pb2.ROLE_TARGET),
        ],
        date="2022-03~",
        location=pb2.Location(name="Aleppo", country="SYR", admin1="Aleppo"),
        summary="Russia reportedly backs Liwa' al-Quds around Aleppo.",
        sources=[pb2.Source(name="SOHR", url="https://example.org/sohr/1", published="2022-03-15")],
        certainty=pb2.CERTAINTY_REPORTED,
    )
    return pb2.AppendRequest(
        entries=[pb2.Entry(actor=russia), pb2.Entry(actor=group), pb2.Entry(event=event)]
    )


def head(pb, stub):
    return stub.GetLogInfo(pb.pb2.GetLogInfoRequest(), timeout=RPC_TIMEOUT_S).head
