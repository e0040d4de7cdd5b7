"""A security vendor submits threat reports in bulk on one stream (Art. 6 interface).

    python vendor_bulk_submit.py [--endpoint localhost:50051 (or $FENGHUO_ENDPOINT)] [--pki DIR] [--items N] [--c2 IP]

Reports botnet control servers: the `--c2` address first, then N-1 synthetic ones. Every item
is acknowledged after its commit; a refused item is an ack with outcome REFUSED naming the
field (the stream goes on). After a disconnect the SDK resends what was not acknowledged.
Prints how many were accepted, merged (a sighting of a known threat) and refused, and the rate.
"""

from __future__ import annotations

import argparse
import os
import collections
import time
import uuid
from collections.abc import Iterator

from google.protobuf import timestamp_pb2

import fenghuo
from fenghuo.v1 import common_pb2, threat_pb2


def botnet_c2(ip: str, bots: int) -> threat_pb2.ThreatReport:
    now = timestamp_pb2.Timestamp()
    now.GetCurrentTime()
    return threat_pb2.ThreatReport(
        discovered_at=now,
        tlp=common_pb2.TLP_GREEN,
        kind=threat_pb2.SUBMISSION_KIND_ABOUT_OTHERS,
        event=threat_pb2.EventInformation(
            grade=common_pb2.EVENT_GRADE_MAJOR,
            affected_unit="Example Hosting Ltd",
            occurred_at=now,
            brief_course="Seen by passive DNS and sinkhole traffic",
            estimated_harm_and_impact=f"about {bots:,} bots",
            measures_taken="none yet",
        ),
        malicious_resource=threat_pb2.MaliciousResource(
            kind=threat_pb2.MALICIOUS_RESOURCE_KIND_IP,
            value=ip,
            purpose=threat_pb2.MALICIOUS_RESOURCE_PURPOSE_BOTNET_CONTROL_SERVER,
            control_server=threat_pb2.ControlServer(
                port=8080,
                transport=threat_pb2.TRANSPORT_PROTOCOL_TCP,
                application_protocol="HTTP",
                malware_family="Mirai",
                bot_count=bots,
                domains=["cc.evil-example.com"],
            ),
        ),
    )


def requests(first_ip: str, items: int, run: str) -> Iterator[threat_pb2.SubmitThreatRequest]:
    template = botnet_c2("45.0.0.1", 20_000)
    yield threat_pb2.SubmitThreatRequest(submission_id=f"{run}-0", report=botnet_c2(first_ip, 120_000))
    for i in range(1, items):
        report = threat_pb2.ThreatReport()
        report.CopyFrom(template)
        report.malicious_resource.value = f"45.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        yield threat_pb2.SubmitThreatRequest(submission_id=f"{run}-{i}", report=report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default=os.environ.get("FENGHUO_ENDPOINT", "localhost:50051"))
    parser.add_argument("--pki", default="fenghuo-data/pki/clients/vendor-bj")
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--c2", default="58.60.1.1", help="the first report's control server")
    args = parser.parse_args()

    with fenghuo.Client.from_pki_dir(args.endpoint, args.pki) as client:
        outcomes: collections.Counter[str] = collections.Counter()
        started = time.perf_counter()
        for ack in client.unit.submit_stream(requests(args.c2, args.items, uuid.uuid4().hex[:12])):
            outcomes[threat_pb2.SubmissionOutcome.Name(ack.outcome)] += 1
            error = fenghuo.refusal(ack)
            if error is not None and outcomes["SUBMISSION_OUTCOME_REFUSED"] <= 5:
                print(f"refused {ack.submission_id}: {error}")
        elapsed = time.perf_counter() - started
    total = sum(outcomes.values())
    print(
        f"submitted {total} items in {elapsed:.2f} s ({total / elapsed:,.0f} items/s): "
        f"accepted {outcomes['SUBMISSION_OUTCOME_ACCEPTED']}, merged {outcomes['SUBMISSION_OUTCOME_MERGED']}, "
        f"refused {outcomes['SUBMISSION_OUTCOME_REFUSED']}"
    )
    if total != args.items:
        raise SystemExit(f"expected {args.items} acknowledgements, got {total}")


if __name__ == "__main__":
    main()
