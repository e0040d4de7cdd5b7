"""Streams: every item of a submit stream acknowledged; the notice stream and the feed
resume from their last cursor when the server goes away or a new subscription starts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2

import fenghuo
from fenghuo.streams import resumable
from conftest import Server
from fenghuo.v1 import disposal_pb2, identification_pb2, threat_pb2
from scenario import botnet_c2, confirmed_threat, declare_telecom_space, first


@pytest.mark.parametrize("batch_size", [1, 64])
def test_a_submit_stream_acknowledges_every_item_once(server: Server, batch_size: int) -> None:
    run = uuid.uuid4().hex
    requests = (
        threat_pb2.SubmitThreatRequest(submission_id=f"{run}-{i}", report=botnet_c2(f"45.1.{i >> 8}.{i & 255}"))
        for i in range(500)
    )
    acks = list(server.client("vendor-bj").unit.submit_stream(requests, batch_size=batch_size))
    assert sorted(a.submission_id for a in acks) == sorted(f"{run}-{i}" for i in range(500))
    assert all(fenghuo.refusal(a) is None for a in acks)


def test_a_batched_submit_stream_names_a_refused_item_and_goes_on(server: Server) -> None:
    run = uuid.uuid4().hex
    requests = [
        threat_pb2.SubmitThreatRequest(submission_id=f"{run}-{i}", report=botnet_c2(f"45.3.{i >> 8}.{i & 255}"))
        for i in range(10)
    ]
    requests[3].report.malicious_resource.value = "10.9.9.9"
    acks = {a.submission_id: a for a in server.client("vendor-bj").unit.submit_stream(requests, batch_size=4)}
    assert len(acks) == 10
    error = fenghuo.refusal(acks[f"{run}-3"])
    assert error is not None and error.fields == ["report.malicious_resource.value"]
    assert sum(fenghuo.refusal(a) is None for a in acks.values()) == 9
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        next(server.client("vendor-bj").unit.submit_stream(requests, batch_size=0))


@pytest.mark.parametrize("batch_size", [1, 50])
def test_a_submit_stream_resends_what_was_not_acknowledged_when_the_server_crashes(
    own_server: Server, batch_size: int
) -> None:
    run = uuid.uuid4().hex

    def requests() -> Iterator[threat_pb2.SubmitThreatRequest]:
        for i in range(600):
            if i == 300:
                own_server.restart(kill=True)  # mid-stream, from gRPC's sending thread
            prefix = f"45.{20 + batch_size % 200}"
            yield threat_pb2.SubmitThreatRequest(submission_id=f"{run}-{i}", report=botnet_c2(f"{prefix}.{i >> 8}.{i & 255}"))

    acks = list(own_server.client("vendor-bj").unit.submit_stream(requests(), batch_size=batch_size))
    assert {a.submission_id for a in acks} == {f"{run}-{i}" for i in range(600)}
    assert all(fenghuo.refusal(a) is None for a in acks)
    # Everything was committed once: a resent item that had been stored is a replayed ack.
    threats = own_server.client("miit").unit.search(category=threat_pb2.THREAT_CATEGORY_MALICIOUS_RESOURCE)
    assert len([t for t in threats if t.indicator.startswith(f"45.{20 + batch_size % 200}.")]) == 600


def test_the_feed_resumes_after_a_stored_cursor(server: Server) -> None:
    vendor, reader = server.client("vendor-bj"), server.client("registrar-bj")
    threat = vendor.unit.submit(botnet_c2("58.60.8.8")).threat_id
    with reader.unit.feed() as feed:
        seen = first(feed, lambda e: e.threat_id == threat)
        cursor = feed.cursor
    assert cursor == seen.cursor
    later = vendor.unit.submit(botnet_c2("58.60.8.9")).threat_id
    with reader.unit.feed(cursor) as feed:
        event = next(feed)
    assert event.threat_id == later, "the event after the stored cursor comes first"


def test_a_notice_stream_resumes_from_its_cursor_after_the_server_restarts(own_server: Server) -> None:
    server = own_server
    vendor, telecom = server.client("vendor-bj"), server.client("telecom-gd")
    declare_telecom_space(telecom)

    def decide(ip: str) -> str:
        threat_id = confirmed_threat(vendor, server.officer("cncert"), ip)
        measure = disposal_pb2.DecisionMeasure(
            measure_type=identification_pb2.MEASURE_TYPE_STOP_SERVICE_OR_BLOCK,
            targets=[fenghuo.target(identification_pb2.MEASURE_TARGET_KIND_IP, ip)],
        )
        return server.officer("miit").regulator.issue_decision(threat_id, [measure]).notices[0].notice_id

    before = decide("58.60.9.1")
    notices = telecom.unit.notices(retry_for=60)
    delivered = [first(notices, lambda d: True).notice.notice_id]
    assert delivered == [before]

    server.restart()  # the stream breaks; the subscription reopens from its cursor
    after = decide("58.60.9.2")
    delivered.append(first(notices, lambda d: True).notice.notice_id)
    notices.close()
    assert delivered == [before, after], "the first notice is not delivered again"
    assert notices.reconnects >= 1


def test_unavailable_and_a_dropped_slow_reader_resume_and_other_errors_do_not() -> None:
    slow = any_pb2.Any()
    slow.Pack(error_details_pb2.ErrorInfo(reason="SLOW_READER", domain="fenghuo", metadata={"cursor": "c"}))
    assert resumable(fenghuo.FenghuoError(grpc.StatusCode.UNAVAILABLE, "restarting"))
    assert resumable(fenghuo.FenghuoError(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow", status_details=[slow]))
    assert not resumable(fenghuo.FenghuoError(grpc.StatusCode.RESOURCE_EXHAUSTED, "32 open feeds"))
    assert not resumable(fenghuo.FenghuoError(grpc.StatusCode.PERMISSION_DENIED, "disabled"))
