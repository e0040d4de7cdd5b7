"""The whole lifecycle through the SDK: submit, identify, decide, deliver, acknowledge,
report, verify; and the appeal of an affected party (Art. 6-10)."""

from __future__ import annotations

import hashlib

import grpc
import pytest

import fenghuo
from conftest import Server
from fenghuo.v1 import appeal_pb2, common_pb2, disposal_pb2, identification_pb2, registry_pb2, threat_pb2
from scenario import confirmed_threat, declare_telecom_space, first


def block(ip: str) -> disposal_pb2.DecisionMeasure:
    return disposal_pb2.DecisionMeasure(
        measure_type=identification_pb2.MEASURE_TYPE_STOP_SERVICE_OR_BLOCK,
        targets=[fenghuo.target(identification_pb2.MEASURE_TARGET_KIND_IP, ip)],
        instructions="Null-route and report",
    )


def test_a_threat_walks_from_submission_to_verified_disposal(server: Server) -> None:
    vendor, telecom = server.client("vendor-bj"), server.client("telecom-gd")
    cncert, miit = server.officer("cncert"), server.officer("miit")
    declare_telecom_space(telecom)
    threat_id = confirmed_threat(vendor, cncert, "58.60.2.1")
    assert vendor.unit.threat(threat_id).status == threat_pb2.THREAT_STATUS_CONFIRMED

    decision = miit.regulator.issue_decision(threat_id, [block("58.60.2.1")], request_id=f"lifecycle-{threat_id}")
    (issued,) = decision.notices
    # A retry with the same request_id returns the same notices.
    again = miit.regulator.issue_decision(threat_id, [block("58.60.2.1")], request_id=f"lifecycle-{threat_id}")
    assert [n.notice_id for n in again.notices] == [issued.notice_id]

    with telecom.unit.notices() as notices:
        delivery = first(notices, lambda d: d.notice.notice_id == issued.notice_id)
    body = fenghuo.verify(delivery.notice, (server.pki("telecom-gd") / "ca.crt").read_bytes())
    assert body.addressee_organisation_id == "telecom-gd" and body.issuer_organisation_id == "miit"
    assert fenghuo.body_sha256(delivery.notice) == hashlib.sha256(delivery.notice.signed.body).digest()

    received = telecom.unit.acknowledge(delivery)
    assert received.state == disposal_pb2.NOTICE_STATE_RECEIVED
    reported = telecom.unit.report_disposed(delivery.notice, details="null-routed at the border")
    assert reported.state == disposal_pb2.NOTICE_STATE_RESULTS_REPORTED

    effective = {t.target_id: (disposal_pb2.VERIFICATION_OUTCOME_EFFECTIVE, "no longer answers") for t in body.targets}
    verified = cncert.institution.verify_result(issued.notice_id, effective)
    assert verified.status.state == disposal_pb2.NOTICE_STATE_VERIFIED
    assert miit.regulator.review_queue(threat_id) == []


def test_an_affected_party_appeals_a_block_and_the_revocation_reaches_the_unit(server: Server) -> None:
    vendor, telecom, party = server.client("vendor-bj"), server.client("telecom-gd"), server.client("party-gd")
    cncert, miit = server.officer("cncert"), server.officer("miit")
    declare_telecom_space(telecom)
    holding = registry_pb2.OwnershipEntry(
        kind=registry_pb2.OWNERSHIP_KIND_IP_PREFIX, value="58.60.3.0/24", relation=registry_pb2.OWNERSHIP_RELATION_HOLDER
    )
    party.party.declare([holding])
    threat_id = confirmed_threat(vendor, cncert, "58.60.3.3")
    (issued,) = [
        n
        for n in miit.regulator.issue_decision(threat_id, [block("58.60.3.3")]).notices
        if disposal_pb2.NoticeBody.FromString(n.signed.body).kind == disposal_pb2.NOTICE_KIND_DISPOSAL
    ]

    # The holder is told of the measure on its resource (Art. 10) on its own notice stream.
    with party.party.notices() as notices:
        told = first(notices, lambda d: disposal_pb2.NoticeBody.FromString(d.notice.signed.body).informs_of_notice_id == issued.notice_id)
    party.party.acknowledge(told)

    resource = fenghuo.target(identification_pb2.MEASURE_TARGET_KIND_IP, "58.60.3.0/24")
    (measure,) = [m for m in party.party.measures_against(resource) if m.notice_id == issued.notice_id]
    assert measure.appealable and measure.issuer_organisation_id == "miit"
    appeal = party.party.file_appeal(issued.notice_id, measure.target.target_id, "Our shop; host rebuilt.", "IT, +86 20 5555 0000")
    assert appeal.state == appeal_pb2.APPEAL_STATE_OPEN
    with pytest.raises(fenghuo.FenghuoError) as twice:
        party.party.file_appeal(issued.notice_id, measure.target.target_id, "again", "IT")
    assert twice.value.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ALREADY_EXISTS)

    answered = miit.regulator.answer_appeal(appeal.id, appeal_pb2.APPEAL_DECISION_REVOKED, "Host rebuilt; measure lifted.")
    assert answered.appeal.state == appeal_pb2.APPEAL_STATE_ANSWERED
    with telecom.unit.notices() as notices:
        revocation = first(notices, lambda d: d.notice.notice_id == answered.revocation.notice_id)
    body = disposal_pb2.NoticeBody.FromString(revocation.notice.signed.body)
    assert body.kind == disposal_pb2.NOTICE_KIND_REVOCATION and body.revokes_notice_id == issued.notice_id
    telecom.unit.acknowledge(revocation)
    lifted = telecom.unit.report_lifted(issued.notice_id, details="route restored")
    assert lifted.state == disposal_pb2.NOTICE_STATE_LIFTED
    assert common_pb2.EVENT_GRADE_MAJOR == cncert.institution.threat(threat_id).grade
