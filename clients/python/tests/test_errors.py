"""Refusals arrive as one exception type with the google.rpc details decoded."""

from __future__ import annotations

import uuid

import grpc
import pytest

import fenghuo
from conftest import Server
from fenghuo.v1 import disposal_pb2, identification_pb2, threat_pb2
from scenario import botnet_c2


def test_a_missing_report_element_is_raised_with_the_field_violation_naming_it(server: Server) -> None:
    report = botnet_c2("58.60.4.4")
    report.event.estimated_harm_and_impact = ""
    with pytest.raises(fenghuo.FenghuoError) as refused:
        server.client("vendor-bj").unit.submit(report)
    error = refused.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.fields == ["report.event.estimated_harm_and_impact"]
    assert "Art. 14" in error.field_violations[0].description
    assert isinstance(error, grpc.RpcError) and error.details() == error.message


def test_a_decision_on_an_unidentified_threat_is_raised_with_the_precondition_failure(server: Server) -> None:
    ack = server.client("vendor-bj").unit.submit(botnet_c2("58.60.5.5"))
    measure = disposal_pb2.DecisionMeasure(
        measure_type=identification_pb2.MEASURE_TYPE_STOP_SERVICE_OR_BLOCK,
        targets=[fenghuo.target(identification_pb2.MEASURE_TARGET_KIND_IP, "58.60.5.5")],
    )
    with pytest.raises(fenghuo.FenghuoError) as refused:
        server.officer("miit").regulator.issue_decision(ack.threat_id, [measure])
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    (violation,) = refused.value.precondition_failures
    assert "Art. 8" in violation.description, violation


def test_calls_through_the_raw_stubs_raise_the_same_error(server: Server) -> None:
    with pytest.raises(fenghuo.FenghuoError) as refused:
        server.client("vendor-bj").threats.GetThreat(threat_pb2.GetThreatRequest(threat_id="not-an-id"))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.fields == ["threat_id"]


def test_a_refused_stream_item_is_an_ack_and_the_stream_goes_on(server: Server) -> None:
    bad = botnet_c2("10.0.0.1")  # private-use: refused, naming the IANA registry
    run = uuid.uuid4().hex
    requests = [
        threat_pb2.SubmitThreatRequest(submission_id=f"{run}-bad", report=bad),
        threat_pb2.SubmitThreatRequest(submission_id=f"{run}-good", report=botnet_c2("58.60.6.6")),
    ]
    acks = {a.submission_id: a for a in server.client("vendor-bj").unit.submit_stream(requests)}
    assert fenghuo.refusal(acks[f"{run}-good"]) is None
    error = fenghuo.refusal(acks[f"{run}-bad"])
    assert error is not None and error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.fields == ["report.malicious_resource.value"], error
