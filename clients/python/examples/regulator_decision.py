"""A regulator orders measures (Art. 8) and answers appeals (Art. 10) as its duty officer.

    python regulator_decision.py decide --indicator 58.60.1.1 [--endpoint E] [--pki DIR]
    python regulator_decision.py answer --decision upheld|revoked [--endpoint E] [--pki DIR]

`decide` orders the confirmed threats with that indicator blocked (Art. 8(1)); the server
routes each target to the unit responsible for it (Art. 9), signs one notice per addressee
and tells the holders of the resource (Art. 10). `answer` answers every open appeal this
regulator must answer. Officer tokens are signed from the organisation's key file.
"""

from __future__ import annotations

import argparse
import os
import datetime
import pathlib

import fenghuo
from fenghuo.v1 import appeal_pb2, disposal_pb2, identification_pb2, threat_pb2


def decide(regulator: fenghuo.Regulator, indicator: str) -> None:
    threats = regulator.search(indicator, statuses=[threat_pb2.THREAT_STATUS_CONFIRMED])
    if not threats:
        raise SystemExit(f"no confirmed threat with indicator {indicator}")
    for threat in threats:
        block = disposal_pb2.DecisionMeasure(
            measure_type=identification_pb2.MEASURE_TYPE_STOP_SERVICE_OR_BLOCK,
            targets=[fenghuo.target(identification_pb2.MEASURE_TARGET_KIND_IP, indicator)],
            instructions="Null-route the control server and report within the time limit",
        )
        # The same request_id on a retry returns the same notices instead of new ones.
        decision = regulator.issue_decision(threat.id, [block], request_id=f"block-{threat.id}")
        for notice in decision.notices:
            body = disposal_pb2.NoticeBody.FromString(notice.signed.body)
            deadline = datetime.datetime.fromtimestamp(body.deadline.seconds, datetime.timezone.utc)
            print(
                f"notice {notice.notice_id} ({disposal_pb2.NoticeKind.Name(body.kind)}) to "
                f"{body.addressee_organisation_id}" + (f", due {deadline:%Y-%m-%d %H:%M} UTC" if body.deadline.seconds else "")
            )


def answer(regulator: fenghuo.Regulator, decision: str) -> None:
    value = {"upheld": appeal_pb2.APPEAL_DECISION_UPHELD, "revoked": appeal_pb2.APPEAL_DECISION_REVOKED}[decision]
    for appeal in regulator.appeals(states=[appeal_pb2.APPEAL_STATE_OPEN]):
        answered = regulator.answer_appeal(appeal.id, value, reasons=f"Reviewed the grounds: {decision}.")
        print(
            f"appeal {appeal.id} on {appeal.target.target.value}: "
            f"{appeal_pb2.AppealDecision.Name(answered.appeal.answer.decision)}"
            + (f", revocation {answered.revocation.notice_id}" if answered.revocation.notice_id else "")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["decide", "answer"])
    parser.add_argument("--endpoint", default=os.environ.get("FENGHUO_ENDPOINT", "localhost:50051"))
    parser.add_argument("--pki", default="fenghuo-data/pki/clients/miit")
    parser.add_argument("--officer", default="duty-officer")
    parser.add_argument("--indicator", default="58.60.1.1")
    parser.add_argument("--decision", choices=["upheld", "revoked"], default="upheld")
    args = parser.parse_args()

    key = pathlib.Path(args.pki) / "officer-token.key"
    with fenghuo.Client.from_pki_dir(args.endpoint, args.pki, token_key=key, officer=args.officer) as client:
        if args.action == "decide":
            decide(client.regulator, args.indicator)
        else:
            answer(client.regulator, args.decision)


if __name__ == "__main__":
    main()
