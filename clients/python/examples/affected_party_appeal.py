"""An affected party appeals a blocking measure on its own resource (Art. 10).

    python affected_party_appeal.py --holding 58.60.1.0/24 [--endpoint E] [--pki DIR]

Declares the resource it holds (an ownership entry with relation HOLDER: standing to appeal),
lists the measures on it with their appeal windows, and files an appeal with the deciding
regulator against each appealable measure in force that it has not appealed yet.
"""

from __future__ import annotations

import argparse
import os

import fenghuo
from fenghuo.v1 import appeal_pb2, common_pb2, identification_pb2, registry_pb2


def date(d: common_pb2.Date) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default=os.environ.get("FENGHUO_ENDPOINT", "localhost:50051"))
    parser.add_argument("--pki", default="fenghuo-data/pki/clients/party-gd")
    parser.add_argument("--holding", default="58.60.1.0/24", help="the IP prefix the party holds")
    parser.add_argument("--contact", default="IT manager, +86 20 5555 0000")
    args = parser.parse_args()

    with fenghuo.Client.from_pki_dir(args.endpoint, args.pki) as client:
        party = client.party
        party.declare(
            [
                registry_pb2.OwnershipEntry(
                    kind=registry_pb2.OWNERSHIP_KIND_IP_PREFIX,
                    value=args.holding,
                    relation=registry_pb2.OWNERSHIP_RELATION_HOLDER,
                )
            ]
        )
        resource = fenghuo.target(identification_pb2.MEASURE_TARGET_KIND_IP, args.holding)
        filed = 0
        for measure in party.measures_against(resource):
            window = ("provisionally " if measure.appeal_window_provisional else "") + date(measure.appeal_window_closes_on)
            print(f"measure {measure.notice_id} on {measure.target.target.value} by {measure.issuer_organisation_id}, "
                  f"appeal by {window}")
            if not measure.appealable or measure.standing != appeal_pb2.MEASURE_STANDING_IN_FORCE or measure.open_appeal_id:
                continue
            appeal = party.file_appeal(
                measure.notice_id,
                measure.target.target_id,
                grounds="Our web shop runs on this address; the malware was removed and the host rebuilt.",
                contact=args.contact,
            )
            filed += 1
            print(f"  filed appeal {appeal.id} with {appeal.deciding_regulator_organisation_id}, "
                  f"answer due {date(appeal.answer_due_on) if appeal.HasField('answer_due_on') else 'when the calendar is loaded'}")
        print(f"filed {filed} appeal(s)")


if __name__ == "__main__":
    main()
