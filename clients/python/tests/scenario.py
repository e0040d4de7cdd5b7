"""Reports and steps the tests share."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Protocol, TypeVar

from google.protobuf import timestamp_pb2

import fenghuo
from fenghuo.v1 import common_pb2, registry_pb2, threat_pb2



class _HasCursor(Protocol):
    @property
    def cursor(self) -> str: ...


T = TypeVar("T", bound=_HasCursor)


def now() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.GetCurrentTime()
    return stamp


def botnet_c2(ip: str, bots: int = 120_000) -> threat_pb2.ThreatReport:
    return threat_pb2.ThreatReport(
        discovered_at=now(),
        tlp=common_pb2.TLP_GREEN,
        kind=threat_pb2.SUBMISSION_KIND_ABOUT_OTHERS,
        event=threat_pb2.EventInformation(
            grade=common_pb2.EVENT_GRADE_MAJOR,
            affected_unit="Example Hosting Ltd",
            occurred_at=now(),
            brief_course="Observed by passive DNS",
            estimated_harm_and_impact=f"about {bots} bots",
            measures_taken="none yet",
        ),
        malicious_resource=threat_pb2.MaliciousResource(
            kind=threat_pb2.MALICIOUS_RESOURCE_KIND_IP,
            value=ip,
            purpose=threat_pb2.MALICIOUS_RESOURCE_PURPOSE_BOTNET_CONTROL_SERVER,
            control_server=threat_pb2.ControlServer(
                port=8080,
                transport=threat_pb2.TRANSPORT_PROTOCOL_TCP,
                malware_family="Mirai",
                bot_count=bots,
                domains=["cc.evil-example.com"],
            ),
        ),
    )


def declare_telecom_space(telecom: fenghuo.Client) -> None:
    """telecom-gd is responsible for 58.60.0.0/14 (Art. 9), so notices about it route there."""
    entry = registry_pb2.OwnershipEntry(kind=registry_pb2.OWNERSHIP_KIND_IP_PREFIX, value="58.60.0.0/14")
    telecom.unit.declare([entry])


def confirmed_threat(vendor: fenghuo.Client, cncert: fenghuo.Client, ip: str) -> str:
    """A threat submitted by the vendor and confirmed by CNCERT's officer; its id."""
    ack = vendor.unit.submit(botnet_c2(ip), submission_id=str(uuid.uuid4()))
    cncert.institution.confirm(ack.threat_id, common_pb2.EVENT_GRADE_MAJOR)
    return ack.threat_id


def first(subscription: fenghuo.Subscription[T], wanted: Callable[[T], bool], timeout: float = 30.0) -> T:
    """The first item of a stream that `wanted` accepts; fails after `timeout` seconds."""
    watchdog = threading.Timer(timeout, subscription.close)
    watchdog.start()
    try:
        for item in subscription:
            if wanted(item):
                return item
    finally:
        watchdog.cancel()
    raise AssertionError(f"nothing wanted arrived within {timeout} s")
