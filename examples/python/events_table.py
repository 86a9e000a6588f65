"""The HTTP/JSON API from pandas: the events between two dates that involve an actor, as a
table, every page of them.

    python examples/python/events_table.py --url http://127.0.0.1:8080 --actor Moscow \
        --relation clashes_with --from 2022 --to 2022

Needs only pandas (and a server started with --http-listen); no gRPC stubs. Set EVENTLOG_TOKEN
when the server has access tokens.
"""

import argparse
import json
import os
import urllib.parse
import urllib.request

import pandas as pd


def pages(url, params):
    """Every page of `GET /v1/events`, following nextPageToken."""
    token = ""
    headers = {}
    if os.environ.get("EVENTLOG_TOKEN"):
        headers["Authorization"] = "Bearer " + os.environ["EVENTLOG_TOKEN"]
    while True:
        query = urllib.parse.urlencode(dict(params, page_token=token), doseq=True)
        request = urllib.request.Request(f"{url}/v1/events?{query}", headers=headers)
        with urllib.request.urlopen(request, timeout=10) as answer:
            page = json.load(answer)
        yield page
        token = page.get("nextPageToken", "")
        if not token:
            return


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the server's --http-listen URL")
    parser.add_argument("--actor", required=True, help="an actor's id, name or alias")
    parser.add_argument("--relation", action="append", default=[], help="a relation; repeat for more")
    parser.add_argument("--from", dest="date_from", default="", help="EDTF date the events may not end before")
    parser.add_argument("--to", dest="date_to", default="", help="EDTF date the events may not start after")
    args = parser.parse_args()
    params = {"actor": args.actor, "relation": args.relation, "from": args.date_from,
              "to": args.date_to, "page_size": 100}
    entries = [entry for page in pages(args.url, params) for entry in page.get("entries", [])]
    events = pd.json_normalize([entry["event"] for entry in entries])
    if events.empty:
        print("no events match")
        return
    columns = ["id", "date", "dateSpan.earliest", "dateSpan.latest", "relation", "certainty"]
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(events[columns].to_string(index=False))


if __name__ == "__main__":
    main()
