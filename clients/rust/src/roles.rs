//! Typed helpers per role: the calls each kind of organisation makes most,
//! without the request plumbing. Everything else stays reachable through the
//! service clients of [`Client`].

use tonic::Status;
use tonic::codec::Streaming;

use crate::resume::Subscription;
use crate::{Client, pb};

/// A reporting and disposing unit (basic telecom, internet enterprise,
/// security vendor, registry, registrar): submits threats (Art. 6, 11) and
/// follows the shared feed.
#[derive(Clone)]
pub struct Unit(pub Client);

/// A regulator (MIIT or a provincial Communications Administration).
#[derive(Clone)]
pub struct Regulator(pub Client);

/// A professional institution (CNCERT, CAICT): reads every report (Art. 7).
#[derive(Clone)]
pub struct Institution(pub Client);

impl Client {
    pub fn unit(&self) -> Unit {
        Unit(self.clone())
    }
    pub fn regulator(&self) -> Regulator {
        Regulator(self.clone())
    }
    pub fn institution(&self) -> Institution {
        Institution(self.clone())
    }

    /// The organisation, roles and officer the server sees.
    pub async fn who_am_i(&self) -> Result<pb::WhoAmIResponse, Status> {
        Ok(self
            .registry()
            .who_am_i(pb::WhoAmIRequest {})
            .await?
            .into_inner())
    }

    /// The shared feed from `cursor` (None: from the oldest retained event).
    pub async fn feed(&self, cursor: Option<&str>) -> Result<Streaming<pb::FeedEvent>, Status> {
        let request = pb::SubscribeFeedRequest {
            cursor: cursor.unwrap_or_default().into(),
            ..Default::default()
        };
        Ok(self.threats().subscribe_feed(request).await?.into_inner())
    }

    /// The shared feed as `request` asks for it (its cursor, `from_now`, categories), resumed
    /// from the last event after a disconnect (see [`crate::resume`]). Heartbeats move the
    /// cursor without being yielded; [`Subscription::without_skipping`] yields them too.
    /// `from_now` applies to the first opening only: a resume continues from the cursor.
    pub fn follow_feed(&self, request: pb::SubscribeFeedRequest) -> Subscription<pb::FeedEvent> {
        let client = self.clone();
        let mut first = true;
        Subscription::new(request.cursor.clone(), move |cursor: String| {
            let request = pb::SubscribeFeedRequest {
                from_now: request.from_now && first && cursor.is_empty(),
                cursor,
                ..request.clone()
            };
            first = false;
            let mut threats = client.threats();
            async move { Ok(threats.subscribe_feed(request).await?.into_inner()) }
        })
        .skipping(|event: &pb::FeedEvent| {
            matches!(event.event, Some(pb::feed_event::Event::Heartbeat(_)))
        })
    }

    /// Notices (revocations included) addressed to this organisation, resumed from the last
    /// delivery after a disconnect; without a cursor, first every notice not yet acknowledged.
    /// Deliveries are at least once: a notice id already yielded is not yielded again.
    pub fn follow_notices(&self, cursor: Option<&str>) -> Subscription<pb::NoticeDelivery> {
        let client = self.clone();
        Subscription::new(cursor.unwrap_or_default(), move |cursor: String| {
            let mut disposal = client.disposal();
            async move {
                let request = pb::SubscribeNoticesRequest { cursor };
                Ok(disposal.subscribe_notices(request).await?.into_inner())
            }
        })
        .deduplicated_by(|delivery: &pb::NoticeDelivery| {
            delivery.notice.as_ref().map(|n| n.notice_id.clone())
        })
    }

    /// The events of one appeal (None: of every appeal visible to the caller, from now),
    /// resumed from the last event after a disconnect.
    pub fn watch_appeal(
        &self,
        appeal_id: Option<&str>,
        cursor: Option<&str>,
    ) -> Subscription<pb::AppealEvent> {
        let client = self.clone();
        let appeal_id = appeal_id.unwrap_or_default().to_owned();
        Subscription::new(cursor.unwrap_or_default(), move |cursor: String| {
            let mut appeals = client.appeals();
            let request = pb::WatchAppealRequest {
                appeal_id: appeal_id.clone(),
                cursor,
            };
            async move { Ok(appeals.watch_appeal(request).await?.into_inner()) }
        })
    }

    /// Audit records committed after `after_seq` (0: from the first), resumed from the last
    /// record after a disconnect. Its [`Subscription::cursor`] is the last seq, in decimal.
    pub fn follow_audit(&self, after_seq: u64) -> Subscription<pb::AuditRecord> {
        let client = self.clone();
        let start = if after_seq == 0 {
            String::new()
        } else {
            after_seq.to_string()
        };
        Subscription::new(start, move |cursor: String| {
            let mut audit = client.audit();
            // Only this subscription sets the cursor: the seq of a record, or empty.
            let after_seq = cursor.parse().unwrap_or(0);
            async move {
                let request = pb::StreamAuditRequest { after_seq };
                Ok(audit.stream_audit(request).await?.into_inner())
            }
        })
    }

    pub async fn threat(&self, threat_id: &str) -> Result<pb::Threat, Status> {
        let request = pb::GetThreatRequest {
            threat_id: threat_id.into(),
            sightings_page: None,
        };
        self.threats()
            .get_threat(request)
            .await?
            .into_inner()
            .threat
            .ok_or_else(|| Status::internal("the server answered without the threat"))
    }

    /// Threats matching an indicator (normalised by the server's intake rules).
    pub async fn search(&self, indicator: &str) -> Result<Vec<pb::Threat>, Status> {
        let request = pb::SearchThreatsRequest {
            indicator: indicator.into(),
            ..Default::default()
        };
        Ok(self
            .threats()
            .search_threats(request)
            .await?
            .into_inner()
            .threats)
    }
}

/// Bundle text per ImportStixBundle message: well under gRPC's 4 MiB message limit.
const STIX_CHUNK: usize = 1024 * 1024;

impl Client {
    /// Imports a STIX 2.1 bundle (its JSON text); one answer per object of the bundle,
    /// in bundle order, each after its report is committed (docs/stix.md).
    pub async fn import_stix(
        &self,
        bundle: &[u8],
        defaults: Option<pb::StixImportDefaults>,
    ) -> Result<Vec<pb::StixObjectResult>, Status> {
        let mut messages: Vec<pb::ImportStixBundleRequest> = bundle
            .chunks(STIX_CHUNK)
            .map(|c| pb::ImportStixBundleRequest {
                chunk: c.to_vec(),
                defaults: None,
            })
            .collect();
        if messages.is_empty() {
            messages.push(pb::ImportStixBundleRequest::default());
        }
        messages[0].defaults = defaults;
        let mut answers = self
            .threats()
            .import_stix_bundle(tokio_stream::iter(messages))
            .await?
            .into_inner();
        let mut out = Vec::new();
        while let Some(a) = answers.message().await? {
            out.push(a);
        }
        Ok(out)
    }

    /// The visible sightings received since `since` (every one when unset) as STIX 2.1
    /// bundles (JSON text), at most 500 sightings each, then the ordered measures issued
    /// since then that the caller sees as ListNotices shows them, at most 500 each.
    pub async fn export_stix(
        &self,
        since: Option<prost_types::Timestamp>,
        categories: Vec<pb::ThreatCategory>,
    ) -> Result<Vec<String>, Status> {
        let request = pb::ExportStixRequest {
            since,
            categories: categories.into_iter().map(|c| c as i32).collect(),
            max_sightings_per_bundle: 0,
        };
        let mut bundles = self.threats().export_stix(request).await?.into_inner();
        let mut out = Vec::new();
        while let Some(b) = bundles.message().await? {
            out.push(b.json);
        }
        Ok(out)
    }
}

impl Unit {
    /// Submits one report; retrying with the same id and content is safe.
    pub async fn submit(
        &self,
        submission_id: &str,
        report: pb::ThreatReport,
    ) -> Result<pb::SubmissionAck, Status> {
        let request = pb::SubmitThreatRequest {
            submission_id: submission_id.into(),
            report: Some(report),
        };
        self.0
            .threats()
            .submit_threat(request)
            .await?
            .into_inner()
            .ack
            .ok_or_else(|| Status::internal("the server answered without an acknowledgement"))
    }

    /// Streams reports; one acknowledgement per item arrives after its commit.
    /// After a disconnect, resend everything not acknowledged.
    pub async fn submit_stream(
        &self,
        requests: impl tokio_stream::Stream<Item = pb::SubmitThreatRequest> + Send + 'static,
    ) -> Result<Streaming<pb::SubmissionAck>, Status> {
        Ok(self
            .0
            .threats()
            .submit_threat_stream(requests)
            .await?
            .into_inner())
    }

    /// Re-marks one of the unit's own sightings.
    pub async fn change_tlp(
        &self,
        sighting_id: &str,
        tlp: pb::Tlp,
        reason: &str,
    ) -> Result<pb::Sighting, Status> {
        let request = pb::ChangeSightingTlpRequest {
            sighting_id: sighting_id.into(),
            tlp: tlp as i32,
            reason: reason.into(),
        };
        self.0
            .threats()
            .change_sighting_tlp(request)
            .await?
            .into_inner()
            .sighting
            .ok_or_else(|| Status::internal("the server answered without the sighting"))
    }
}

impl Regulator {
    /// Disables an organisation (needs an officer token): its calls and streams end.
    pub async fn disable_organisation(
        &self,
        id: &str,
        reason: &str,
    ) -> Result<pb::Organisation, Status> {
        let request = pb::SetOrganisationEnabledRequest {
            id: id.into(),
            enabled: false,
            reason: reason.into(),
        };
        Ok(self
            .0
            .registry()
            .set_organisation_enabled(request)
            .await?
            .into_inner())
    }

    pub async fn revoke_certificate(
        &self,
        fingerprint: &str,
        reason: &str,
    ) -> Result<pb::Certificate, Status> {
        let request = pb::RevokeCertificateRequest {
            fingerprint: fingerprint.into(),
            reason: reason.into(),
        };
        Ok(self
            .0
            .registry()
            .revoke_certificate(request)
            .await?
            .into_inner())
    }

    /// The audit trail of one subject, e.g. "organisation:telecom-gd".
    pub async fn audit_of(&self, subject: &str) -> Result<Vec<pb::AuditRecord>, Status> {
        let request = pb::QueryAuditRequest {
            subject: subject.into(),
            ..Default::default()
        };
        Ok(self
            .0
            .audit()
            .query_audit(request)
            .await?
            .into_inner()
            .records)
    }
}

impl Institution {
    /// Threats still waiting for identification (Art. 7), newest first.
    pub async fn unidentified(&self) -> Result<Vec<pb::Threat>, Status> {
        let request = pb::SearchThreatsRequest {
            statuses: vec![pb::ThreatStatus::Unidentified as i32],
            ..Default::default()
        };
        Ok(self
            .0
            .threats()
            .search_threats(request)
            .await?
            .into_inner()
            .threats)
    }
}
