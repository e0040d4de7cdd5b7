"""A professional institution identifies threats (Art. 7) as its duty officer.

    python institution_identify.py [--endpoint localhost:50051 (or $FENGHUO_ENDPOINT)] [--pki DIR] [--indicator X]

Confirms the unidentified threats matching `--indicator` (or the oldest `--limit` of the
queue). The officer's tokens are signed from the organisation's key file (the dev PKI's
`officer-token.key`), bound to this certificate and renewed before their 15 minutes run out.
When the reported scale grades the threat otherwise, the server names the field it needs
(`grade_reason`); the example shows that refusal and confirms with a reason.
"""

from __future__ import annotations

import argparse
import os
import pathlib

import grpc

import fenghuo
from fenghuo.v1 import common_pb2, threat_pb2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default=os.environ.get("FENGHUO_ENDPOINT", "localhost:50051"))
    parser.add_argument("--pki", default="fenghuo-data/pki/clients/cncert")
    parser.add_argument("--officer", default="duty-officer")
    parser.add_argument("--indicator", default="", help="confirm the threats with this indicator")
    parser.add_argument("--limit", type=int, default=10)
    args = parser.parse_args()

    key = pathlib.Path(args.pki) / "officer-token.key"
    with fenghuo.Client.from_pki_dir(args.endpoint, args.pki, token_key=key, officer=args.officer) as client:
        institution = client.institution
        if args.indicator:
            queue = institution.search(args.indicator, statuses=[threat_pb2.THREAT_STATUS_UNIDENTIFIED])
        else:
            queue = institution.unidentified()[: args.limit]
        for threat in queue:
            try:
                identification = institution.confirm(threat.id, common_pb2.EVENT_GRADE_MAJOR)
            except fenghuo.FenghuoError as e:
                if e.code() != grpc.StatusCode.INVALID_ARGUMENT or e.fields != ["grade_reason"]:
                    raise
                print(f"{threat.id}: {e.field_violations[0].description}")
                identification = institution.confirm(
                    threat.id, common_pb2.EVENT_GRADE_MAJOR, grade_reason="the analyst's assessment of the scale"
                )
            print(
                f"confirmed {threat.id} {threat.indicator} as "
                f"{common_pb2.EventGrade.Name(identification.grade)} by {identification.officer_name}"
            )


if __name__ == "__main__":
    main()
