"""Typed helpers per role: the calls each kind of organisation makes most, without the
request plumbing (like the Rust client's `roles`). Everything else stays reachable through
the stubs of `Client`. Every helper raises `FenghuoError`.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TypeVar

from fenghuo.client import Client
from fenghuo.errors import FenghuoError
from fenghuo.streams import RESUMABLE, Subscription
from fenghuo.v1 import (
    appeal_pb2,
    common_pb2,
    disposal_pb2,
    identification_pb2,
    registry_pb2,
    threat_pb2,
)

T = TypeVar("T")


def pages(fetch: Callable[[str], tuple[Sequence[T], str]]) -> Iterator[T]:
    """Every item of a paged list: `fetch(page_token)` returns (items, next_page_token)."""
    token = ""
    while True:
        items, token = fetch(token)
        yield from items
        if not token:
            return


def target(kind: identification_pb2.MeasureTargetKind.ValueType, value: str) -> identification_pb2.MeasureTarget:
    return identification_pb2.MeasureTarget(kind=kind, value=value)


def refusal(ack: threat_pb2.SubmissionAck) -> FenghuoError | None:
    """The error a refused stream item stands for (None when it was stored)."""
    if ack.outcome != threat_pb2.SUBMISSION_OUTCOME_REFUSED:
        return None
    return FenghuoError.from_refusal(ack.refusal.code, ack.refusal.field, ack.refusal.reason)


#: The gRPC path of the batched intake stream (its messages are encoded by `encode_batch`).
SUBMIT_THREAT_BATCHES = "/fenghuo.v1.ThreatService/SubmitThreatBatches"


def encode_batch(requests: Sequence[threat_pb2.SubmitThreatRequest]) -> bytes:
    """A `SubmitThreatBatch` holding `requests`, encoded without copying them into one message
    first: a repeated message field is each item's bytes behind its tag and length."""
    parts = []
    for request in requests:
        data = request.SerializeToString()
        parts.append(_ITEM_TAG + _varint(len(data)))
        parts.append(data)
    return b"".join(parts)


_ITEM_TAG = bytes([(1 << 3) | 2])  # SubmitThreatBatch.items: field 1, length-delimited


def _varint(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _as_bytes(message: bytes) -> bytes:
    return message


class _Shared(Iterator[T]):
    """An iterator read by one thread at a time: after a disconnect the sending thread of the
    new stream may start while the old one is still inside `next` (a generator raises
    "already executing" then). What the old thread takes is pending, so it is resent."""

    def __init__(self, inner: Iterator[T]) -> None:
        self._inner = inner
        self._lock = threading.Lock()

    def __next__(self) -> T:
        with self._lock:
            return next(self._inner)


def body_sha256(notice: disposal_pb2.Notice) -> bytes:
    """SHA-256 of the signed body exactly as received: what AcknowledgeReceipt records."""
    return hashlib.sha256(notice.signed.body).digest()


class _Role:
    def __init__(self, client: Client) -> None:
        self.client = client

    @property
    def _timeout(self) -> float:
        return self.client.timeout


class Reader(_Role):
    """What every organisation may read: threats by TLP visibility, the shared feed."""

    def threat(self, threat_id: str) -> threat_pb2.Threat:
        request = threat_pb2.GetThreatRequest(threat_id=threat_id)
        return self.client.threats.GetThreat(request, timeout=self._timeout).threat

    def search(
        self,
        indicator: str = "",
        *,
        category: threat_pb2.ThreatCategory.ValueType = threat_pb2.THREAT_CATEGORY_UNSPECIFIED,
        statuses: Sequence[threat_pb2.ThreatStatus.ValueType] = (),
    ) -> list[threat_pb2.Threat]:
        """Threats matching an indicator (normalised by the intake rules), newest first; every page."""

        def fetch(token: str) -> tuple[Sequence[threat_pb2.Threat], str]:
            request = threat_pb2.SearchThreatsRequest(
                indicator=indicator,
                category=category,
                statuses=statuses,
                page=common_pb2.PageRequest(page_size=1000, page_token=token),
            )
            response = self.client.threats.SearchThreats(request, timeout=self._timeout)
            return response.threats, response.next_page_token

        return list(pages(fetch))

    def feed(
        self,
        cursor: str = "",
        *,
        from_now: bool = False,
        categories: Sequence[threat_pb2.ThreatCategory.ValueType] = (),
        heartbeats: bool = False,
        retry_for: float | None = 300.0,
    ) -> Subscription[threat_pb2.FeedEvent]:
        """The shared feed after `cursor` (empty: from the oldest retained event, or from now),
        resuming from the last event after a disconnect. Heartbeats only move the cursor
        unless `heartbeats`."""
        first = [True]

        def open_stream(at: str) -> Iterator[threat_pb2.FeedEvent]:
            now = from_now and first[0] and not at
            first[0] = False
            request = threat_pb2.SubscribeFeedRequest(cursor=at, from_now=now, categories=categories)
            return self.client.threats.SubscribeFeed(request)

        def skip(event: threat_pb2.FeedEvent) -> bool:
            return not heartbeats and event.WhichOneof("event") == "heartbeat"

        return Subscription(open_stream, cursor, skip=skip, retry_for=retry_for)


class Addressee(Reader):
    """An organisation notices are addressed to: a unit, or a holder told of a measure (Art. 10)."""

    def notices(self, cursor: str = "", *, retry_for: float | None = 300.0) -> Subscription[disposal_pb2.NoticeDelivery]:
        """Notices and revocations to this organisation, in commit order. Without a cursor:
        every notice not yet acknowledged, then live. Resumes from the last delivery after a
        disconnect; a notice delivered again is skipped (deliveries are at least once)."""

        def open_stream(at: str) -> Iterator[disposal_pb2.NoticeDelivery]:
            return self.client.disposal.SubscribeNotices(disposal_pb2.SubscribeNoticesRequest(cursor=at))

        return Subscription(open_stream, cursor, dedup_key=lambda d: d.notice.notice_id, retry_for=retry_for)

    def acknowledge(self, notice: disposal_pb2.Notice | disposal_pb2.NoticeDelivery) -> disposal_pb2.NoticeStatus:
        """Receipt (送达) of a notice as received: sends the SHA-256 of its body."""
        if isinstance(notice, disposal_pb2.NoticeDelivery):
            notice = notice.notice
        request = disposal_pb2.AcknowledgeReceiptRequest(notice_id=notice.notice_id, body_sha256=body_sha256(notice))
        return self.client.disposal.AcknowledgeReceipt(request, timeout=self._timeout).status

    def notice(self, notice_id: str) -> disposal_pb2.Notice:
        request = disposal_pb2.GetNoticeRequest(notice_id=notice_id)
        return self.client.disposal.GetNotice(request, timeout=self._timeout).notice

    def measures_against(
        self, resource: identification_pb2.MeasureTarget, *, include_inactive: bool = False
    ) -> list[appeal_pb2.MeasureOnResource]:
        """The measures on one's own resource (an IP prefix, a domain and what is under it)."""

        def fetch(token: str) -> tuple[Sequence[appeal_pb2.MeasureOnResource], str]:
            request = appeal_pb2.ListMeasuresAgainstRequest(
                resource=resource,
                include_inactive=include_inactive,
                page=common_pb2.PageRequest(page_size=1000, page_token=token),
            )
            response = self.client.appeals.ListMeasuresAgainst(request, timeout=self._timeout)
            return response.measures, response.next_page_token

        return list(pages(fetch))

    def withdraw_appeal(self, appeal_id: str, reason: str) -> appeal_pb2.Appeal:
        request = appeal_pb2.WithdrawAppealRequest(appeal_id=appeal_id, reason=reason)
        return self.client.appeals.WithdrawAppeal(request, timeout=self._timeout).appeal

    def watch_appeal(
        self, appeal_id: str = "", cursor: str = "", *, retry_for: float | None = 300.0
    ) -> Subscription[appeal_pb2.AppealEvent]:
        """Events of one appeal (or of every visible one), resuming after a disconnect."""

        def open_stream(at: str) -> Iterator[appeal_pb2.AppealEvent]:
            return self.client.appeals.WatchAppeal(appeal_pb2.WatchAppealRequest(appeal_id=appeal_id, cursor=at))

        return Subscription(open_stream, cursor, retry_for=retry_for)

    def declare(
        self, entries: Iterable[registry_pb2.OwnershipEntry], *, replace: bool = False
    ) -> registry_pb2.ImportOwnershipEntriesResponse:
        """Declares resources in the ownership registry (Art. 9; holdings for Art. 10); an entry
        without an owner is this organisation's."""
        own = []
        for entry in entries:
            if not entry.owner_organisation_id:
                copy = registry_pb2.OwnershipEntry()
                copy.CopyFrom(entry)
                copy.owner_organisation_id = self.client.organisation
                entry = copy
            own.append(entry)
        request = registry_pb2.ImportOwnershipEntriesRequest(entries=own, replace_owner_entries=replace)
        return self.client.registry.ImportOwnershipEntries(request, timeout=self._timeout)


class Unit(Addressee):
    """A reporting and disposing unit: submits threats (Art. 6, 11), carries out notices (Art. 9)."""

    def submit(self, report: threat_pb2.ThreatReport, submission_id: str | None = None) -> threat_pb2.SubmissionAck:
        """One report; a retry with the same id and content returns the original ack."""
        request = threat_pb2.SubmitThreatRequest(submission_id=submission_id or str(uuid.uuid4()), report=report)
        return self.client.threats.SubmitThreat(request, timeout=self._timeout).ack

    def submit_stream(
        self,
        requests: Iterable[threat_pb2.SubmitThreatRequest],
        *,
        resend: bool = True,
        retry_for: float | None = 300.0,
        batch_size: int = 1,
    ) -> Iterator[threat_pb2.SubmissionAck]:
        """Streams reports; yields one ack per item, after its commit (order not guaranteed;
        a refusal is an ack with outcome REFUSED, see `refusal`). After a disconnect it
        reopens the stream and resends every unacknowledged item first (idempotency makes
        that safe), so each item is acknowledged, unless `resend` is False.
        `requests` is read from gRPC's sending thread: it must not block for long.

        `batch_size` > 1 sends up to that many items per message (`SubmitThreatBatches`):
        grpcio costs about 100 µs of CPU per message, so one item per message holds a Python
        process under 10,000 items/s; batches of a few hundred lift that ceiling several
        times (BENCHMARKS.md). An item waits until its batch is full or `requests` ends, so
        use batches for files and backlogs, not for items that trickle in."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        source = _Shared(iter(requests))
        pending: dict[str, threat_pb2.SubmitThreatRequest] = {}
        lock = threading.Lock()

        def outgoing(first: list[threat_pb2.SubmitThreatRequest]) -> Iterator[threat_pb2.SubmitThreatRequest]:
            yield from first
            for request in source:
                with lock:
                    pending[request.submission_id] = request
                yield request

        def batches(first: list[threat_pb2.SubmitThreatRequest]) -> Iterator[bytes]:
            for start in range(0, len(first), batch_size):
                yield encode_batch(first[start : start + batch_size])
            batch: list[threat_pb2.SubmitThreatRequest] = []
            for request in source:
                # Pending from the moment it is read: a break before its batch is sent resends it.
                with lock:
                    pending[request.submission_id] = request
                batch.append(request)
                if len(batch) == batch_size:
                    yield encode_batch(batch)
                    batch = []
            if batch:
                yield encode_batch(batch)

        def acks(again: list[threat_pb2.SubmitThreatRequest]) -> tuple[Iterator[threat_pb2.SubmissionAck], Callable[[], object]]:
            if batch_size == 1:
                single = self.client.threats.SubmitThreatStream(outgoing(again))
                return single, single.cancel
            batched = self.client.channel.stream_stream(
                SUBMIT_THREAT_BATCHES,
                request_serializer=_as_bytes,
                response_deserializer=threat_pb2.SubmissionAckBatch.FromString,
            )(batches(again))
            return (ack for answer in batched for ack in answer.acks), batched.cancel

        broken_since: float | None = None
        backoff = 0.1
        while True:
            with lock:
                again = list(pending.values())
            call, cancel = acks(again)
            try:
                for ack in call:
                    with lock:
                        pending.pop(ack.submission_id, None)
                    broken_since = None
                    yield ack
                if not pending:
                    return
            except FenghuoError as error:
                now = time.monotonic()
                broken_since = broken_since if broken_since is not None else now
                if not resend or error.code() not in RESUMABLE:
                    raise
                if retry_for is not None and now - broken_since > retry_for:
                    raise
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                cancel()  # the caller stopped early: end the stream (a no-op once it ended)

    def report_result(
        self,
        notice_id: str,
        results: Sequence[disposal_pb2.TargetResult],
        *,
        contact_person: str = "",
        contact_phone: str = "",
    ) -> disposal_pb2.NoticeStatus:
        """Art. 9: the result per target; a later report for a target supersedes."""
        request = disposal_pb2.ReportResultRequest(
            notice_id=notice_id, results=results, contact_person=contact_person, contact_phone=contact_phone
        )
        return self.client.disposal.ReportResult(request, timeout=self._timeout).status

    def report_disposed(self, notice: disposal_pb2.Notice, details: str = "") -> disposal_pb2.NoticeStatus:
        """Reports every target of a notice disposed."""
        body = disposal_pb2.NoticeBody.FromString(notice.signed.body)
        results = [
            disposal_pb2.TargetResult(target_id=t.target_id, outcome=disposal_pb2.DISPOSAL_OUTCOME_DISPOSED, details=details)
            for t in body.targets
        ]
        return self.report_result(notice.notice_id, results)

    def report_lifted(
        self, notice_id: str, target_ids: Sequence[str] = (), details: str = ""
    ) -> disposal_pb2.NoticeStatus:
        """A revoked measure lifted (the revoked notice's id; no targets: every revoked one)."""
        request = disposal_pb2.ReportLiftedRequest(notice_id=notice_id, target_ids=target_ids, details=details)
        return self.client.disposal.ReportLifted(request, timeout=self._timeout).status

    def change_tlp(self, sighting_id: str, tlp: common_pb2.Tlp.ValueType, reason: str) -> threat_pb2.Sighting:
        """Re-marks one of the unit's own sightings."""
        request = threat_pb2.ChangeSightingTlpRequest(sighting_id=sighting_id, tlp=tlp, reason=reason)
        return self.client.threats.ChangeSightingTlp(request, timeout=self._timeout).sighting

    def appeal_for_customer(
        self,
        notice_id: str,
        target_id: str,
        grounds: str,
        customer: appeal_pb2.AppellantIdentity,
        mandate: appeal_pb2.CustomerMandate,
    ) -> appeal_pb2.Appeal:
        """Art. 10: the addressee appeals in a customer's name, with the customer's mandate."""
        request = appeal_pb2.FileAppealRequest(
            notice_id=notice_id, target_id=target_id, grounds=grounds, customer=customer, mandate=mandate
        )
        return self.client.appeals.FileAppeal(request, timeout=self._timeout).appeal


class AffectedParty(Addressee):
    """A holder of a resource blocked under Art. 8(1): told of the measure, may appeal (Art. 10)."""

    def file_appeal(
        self,
        notice_id: str,
        target_id: str,
        grounds: str,
        contact: str,
        evidence: Sequence[threat_pb2.EvidenceItem] = (),
    ) -> appeal_pb2.Appeal:
        """Appeals a measure on one's own resource, to the deciding regulator."""
        request = appeal_pb2.FileAppealRequest(
            notice_id=notice_id,
            target_id=target_id,
            grounds=grounds,
            evidence=evidence,
            affected_party=appeal_pb2.AffectedPartyFiling(contact=contact),
        )
        return self.client.appeals.FileAppeal(request, timeout=self._timeout).appeal

    def appeals(self, states: Sequence[appeal_pb2.AppealState.ValueType] = ()) -> list[appeal_pb2.Appeal]:
        return _appeals(self, states)


def _appeals(role: _Role, states: Sequence[appeal_pb2.AppealState.ValueType]) -> list[appeal_pb2.Appeal]:
    def fetch(token: str) -> tuple[Sequence[appeal_pb2.Appeal], str]:
        request = appeal_pb2.ListAppealsRequest(
            states=states, page=common_pb2.PageRequest(page_size=1000, page_token=token)
        )
        response = role.client.appeals.ListAppeals(request, timeout=role.client.timeout)
        return response.appeals, response.next_page_token

    return list(pages(fetch))


class Institution(Reader):
    """A professional institution (CNCERT, CAICT): identifies threats (Art. 7), verifies results (Art. 9)."""

    def unidentified(
        self, category: threat_pb2.ThreatCategory.ValueType = threat_pb2.THREAT_CATEGORY_UNSPECIFIED
    ) -> list[threat_pb2.Threat]:
        """The Art. 7 queue, oldest first."""

        def fetch(token: str) -> tuple[Sequence[threat_pb2.Threat], str]:
            request = identification_pb2.ListUnidentifiedRequest(
                category=category, page=common_pb2.PageRequest(page_size=1000, page_token=token)
            )
            response = self.client.identification.ListUnidentified(request, timeout=self._timeout)
            return response.threats, response.next_page_token

        return list(pages(fetch))

    def confirm(
        self,
        threat_id: str,
        grade: common_pb2.EventGrade.ValueType,
        *,
        recommended_measures: Sequence[identification_pb2.RecommendedMeasure] = (),
        grade_reason: str = "",
        potential_harm: str = "",
    ) -> identification_pb2.Identification:
        """Confirms a threat (needs an officer token)."""
        request = identification_pb2.IdentifyRequest(
            threat_id=threat_id,
            outcome=threat_pb2.IDENTIFICATION_OUTCOME_CONFIRMED,
            grade=grade,
            recommended_measures=recommended_measures,
            grade_reason=grade_reason,
            potential_harm=potential_harm,
        )
        return self.identify(request)

    def reject(self, threat_id: str, reason: str) -> identification_pb2.Identification:
        request = identification_pb2.IdentifyRequest(
            threat_id=threat_id, outcome=threat_pb2.IDENTIFICATION_OUTCOME_REJECTED, reason=reason
        )
        return self.identify(request)

    def identify(self, request: identification_pb2.IdentifyRequest) -> identification_pb2.Identification:
        return self.client.identification.Identify(request, timeout=self._timeout).identification

    def verify_result(
        self,
        notice_id: str,
        outcomes: Mapping[str, tuple[disposal_pb2.VerificationOutcome.ValueType, str]],
    ) -> disposal_pb2.VerifyResultResponse:
        """Verifies targets (Art. 9): {target_id: (outcome, what was checked)}."""
        request = disposal_pb2.VerifyResultRequest(
            notice_id=notice_id,
            verifications=[
                disposal_pb2.TargetVerification(target_id=t, outcome=o, details=d) for t, (o, d) in outcomes.items()
            ],
        )
        return self.client.disposal.VerifyResult(request, timeout=self._timeout)


class Regulator(Reader):
    """A regulator (MIIT, a provincial Communications Administration): decides (Art. 8),
    answers appeals (Art. 10). Decisions need an officer token."""

    def issue_decision(
        self,
        threat_id: str,
        measures: Sequence[disposal_pb2.DecisionMeasure],
        *,
        request_id: str | None = None,
        resolves_review_item_ids: Sequence[str] = (),
    ) -> disposal_pb2.IssueDecisionResponse:
        """Orders measures on a confirmed threat; a retry with the same request_id returns the
        same notices."""
        request = disposal_pb2.IssueDecisionRequest(
            request_id=request_id or str(uuid.uuid4()),
            threat_id=threat_id,
            measures=measures,
            resolves_review_item_ids=resolves_review_item_ids,
        )
        return self.client.disposal.IssueDecision(request, timeout=self._timeout)

    def revoke_notice(self, notice_id: str, reason: str, target_ids: Sequence[str] = ()) -> disposal_pb2.Notice:
        request = disposal_pb2.RevokeNoticeRequest(notice_id=notice_id, reason=reason, target_ids=target_ids)
        return self.client.disposal.RevokeNotice(request, timeout=self._timeout).revocation

    def review_queue(self, threat_id: str = "") -> list[disposal_pb2.ReviewQueueItem]:
        def fetch(token: str) -> tuple[Sequence[disposal_pb2.ReviewQueueItem], str]:
            request = disposal_pb2.ListReviewQueueRequest(
                threat_id=threat_id, page=common_pb2.PageRequest(page_size=1000, page_token=token)
            )
            response = self.client.disposal.ListReviewQueue(request, timeout=self._timeout)
            return response.items, response.next_page_token

        return list(pages(fetch))

    def appeals(self, states: Sequence[appeal_pb2.AppealState.ValueType] = ()) -> list[appeal_pb2.Appeal]:
        """The appeals this regulator must answer (the national regulator: all)."""
        return _appeals(self, states)

    def answer_appeal(
        self,
        appeal_id: str,
        decision: appeal_pb2.AppealDecision.ValueType,
        reasons: str,
        *,
        replacement_measures: Sequence[disposal_pb2.DecisionMeasure] = (),
        lift_time_limit: common_pb2.TimeLimit | None = None,
    ) -> appeal_pb2.AnswerAppealResponse:
        """Upholds, revokes or modifies (with replacement measures) the appealed measure."""
        request = appeal_pb2.AnswerAppealRequest(
            appeal_id=appeal_id,
            decision=decision,
            reasons=reasons,
            replacement_measures=replacement_measures,
            lift_time_limit=lift_time_limit,
        )
        return self.client.appeals.AnswerAppeal(request, timeout=self._timeout)

    def import_ownership(
        self, entries: Iterable[registry_pb2.OwnershipEntry], *, replace: bool = False
    ) -> registry_pb2.ImportOwnershipEntriesResponse:
        """Ownership entries for routing (Art. 9), for any owner in the jurisdiction."""
        request = registry_pb2.ImportOwnershipEntriesRequest(entries=entries, replace_owner_entries=replace)
        return self.client.registry.ImportOwnershipEntries(request, timeout=self._timeout)

    def disable_organisation(self, organisation_id: str, reason: str) -> registry_pb2.Organisation:
        """Disables an organisation (needs an officer token): its calls and streams end."""
        request = registry_pb2.SetOrganisationEnabledRequest(id=organisation_id, enabled=False, reason=reason)
        return self.client.registry.SetOrganisationEnabled(request, timeout=self._timeout)
