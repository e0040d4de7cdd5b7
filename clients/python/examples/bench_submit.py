"""Measures the SDK's stream submit rate from this one Python process (BENCHMARKS.md).

    python bench_submit.py [--endpoint localhost:50051] [--pki DIR] [--items N] [--batch-size B]
                           [--prebuilt] [--profile FILE]

Streams N botnet control server reports with `client.unit.submit_stream` and waits for every
acknowledgement. `--batch-size 1` sends one item per message (`SubmitThreatStream`), more sends
that many per message (`SubmitThreatBatches`). The requests are built while streaming (from one
template, the way a converter of a file would), unless `--prebuilt` builds them all first and
times the SDK alone. Prints items/s and the CPU seconds this process used; `--profile` writes a
cProfile of the run (read it with `python -m pstats FILE`).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import time
import uuid
from collections.abc import Iterator

import fenghuo
from fenghuo.v1 import threat_pb2
from vendor_bulk_submit import botnet_c2


def requests(items: int, run: str) -> Iterator[threat_pb2.SubmitThreatRequest]:
    template = threat_pb2.SubmitThreatRequest(report=botnet_c2("45.0.0.1", 20_000))
    for i in range(items):
        request = threat_pb2.SubmitThreatRequest()
        request.CopyFrom(template)
        request.submission_id = f"{run}-{i}"
        request.report.malicious_resource.value = f"46.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        yield request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default=os.environ.get("FENGHUO_ENDPOINT", "localhost:50051"))
    parser.add_argument("--pki", default="fenghuo-data/pki/clients/vendor-bj")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--prebuilt", action="store_true", help="build every request before timing")
    parser.add_argument("--profile", help="write a cProfile of the run to this file")
    args = parser.parse_args()

    run = uuid.uuid4().hex[:12]
    source: Iterator[threat_pb2.SubmitThreatRequest] = requests(args.items, run)
    if args.prebuilt:
        source = iter(list(source))
    profile = cProfile.Profile() if args.profile else None
    with fenghuo.Client.from_pki_dir(args.endpoint, args.pki) as client:
        refused = acked = 0
        cpu, started = time.process_time(), time.perf_counter()
        if profile is not None:
            profile.enable()
        for ack in client.unit.submit_stream(source, batch_size=args.batch_size):
            acked += 1
            refused += ack.outcome == threat_pb2.SUBMISSION_OUTCOME_REFUSED
        if profile is not None:
            profile.disable()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profile is not None:
        profile.dump_stats(args.profile)
    print(
        f"submit_stream(batch_size={args.batch_size}{', prebuilt' if args.prebuilt else ''}): "
        f"{acked} acks in {elapsed:.2f} s = {acked / elapsed:,.0f} items/s; "
        f"this process used {cpu:.2f} CPU-s ({cpu / acked * 1e6:.1f} µs per item); refused {refused}"
    )
    if acked != args.items:
        raise SystemExit(f"expected {args.items} acknowledgements, got {acked}")


if __name__ == "__main__":
    main()
