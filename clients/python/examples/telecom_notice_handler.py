"""A basic telecom enterprise handles its disposal notices (Art. 8, 9).

    python telecom_notice_handler.py [--endpoint E] [--pki DIR] [--declare PREFIX ...]
                                     [--declare-only] [--stop-after N] [--cursor-file FILE]

`--declare` first declares the address space the unit is responsible for (Art. 9), so notices
about it are routed here. Then it follows the notice stream: every notice not yet
acknowledged, then live (or after the cursor saved in `--cursor-file`), resuming from the last
cursor if the connection breaks. For each notice: verify the signature over the body as
received against the platform CA, acknowledge receipt (送达, the SHA-256 of that body), carry
the measure out and report each target disposed; a revocation: report the measure lifted.
"""

from __future__ import annotations

import argparse
import os
import pathlib

import fenghuo
from fenghuo.v1 import disposal_pb2, registry_pb2


def handle(unit: fenghuo.Unit, delivery: disposal_pb2.NoticeDelivery, ca: bytes) -> None:
    body = fenghuo.verify(delivery.notice, ca)  # raises NoticeVerificationError: do not act
    unit.acknowledge(delivery)
    kind = disposal_pb2.NoticeKind.Name(body.kind)
    targets = ", ".join(t.target.value for t in body.targets)
    print(f"notice {body.notice_id} {kind} from {body.issuer_organisation_id}: {targets}")
    if body.kind == disposal_pb2.NOTICE_KIND_DISPOSAL:
        # ... null-route, suspend, remove: the unit's own tooling acts here ...
        status = unit.report_disposed(delivery.notice, details="null-routed at the border")
        print(f"  reported disposed: {disposal_pb2.NoticeState.Name(status.state)}")
    elif body.kind == disposal_pb2.NOTICE_KIND_REVOCATION:
        status = unit.report_lifted(body.revokes_notice_id, details="route restored")
        print(f"  reported lifted: {disposal_pb2.NoticeState.Name(status.state)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default=os.environ.get("FENGHUO_ENDPOINT", "localhost:50051"))
    parser.add_argument("--pki", default="fenghuo-data/pki/clients/telecom-gd")
    parser.add_argument("--declare", action="append", default=[], metavar="PREFIX")
    parser.add_argument("--declare-only", action="store_true")
    parser.add_argument("--stop-after", type=int, default=0, help="stop after N notices (0: never)")
    parser.add_argument("--cursor-file", type=pathlib.Path)
    args = parser.parse_args()

    ca = (pathlib.Path(args.pki) / "ca.crt").read_bytes()
    with fenghuo.Client.from_pki_dir(args.endpoint, args.pki) as client:
        unit = client.unit
        if args.declare:
            entries = [registry_pb2.OwnershipEntry(kind=registry_pb2.OWNERSHIP_KIND_IP_PREFIX, value=p) for p in args.declare]
            result = unit.declare(entries)
            print(f"declared {result.imported} new, {result.unchanged} unchanged, {len(result.pending_entry_ids)} pending")
        if args.declare_only:
            return
        cursor = args.cursor_file.read_text().strip() if args.cursor_file and args.cursor_file.exists() else ""
        handled = 0
        with unit.notices(cursor) as notices:
            for delivery in notices:
                handle(unit, delivery, ca)
                if args.cursor_file:
                    args.cursor_file.write_text(notices.cursor)
                handled += 1
                if handled == args.stop_after:
                    break


if __name__ == "__main__":
    main()
