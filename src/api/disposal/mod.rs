//! DisposalService (Art. 8, 9, 12): decisions, signed notices and their
//! delivery, results, verification, revocation and non-compliance.

pub(crate) mod compliance;
pub mod issue;
pub(crate) mod progress;
pub mod view;

use tonic::{Request, Response, Status};

use self::issue::parse_id;
use super::streams::{BoxStream, OpenStreams};
use super::{from_timestamp, internal, invalid, page};
use crate::auth::Caller;
use crate::auth::policy::Scope;
use crate::delivery::FALLBACK_POLL;
use crate::disposal::Disposals;
use crate::domain::clock::to_micros;
use crate::pb;
use crate::pb::disposal_service_server::DisposalService;
use crate::store::notices::{self, NoticeFilter, NoticeRow};

/// Notices per read of a subscriber's backlog.
const DELIVERY_BATCH: u32 = 256;

pub struct DisposalApi {
    /// The disposal workflows (receipt, results, verification, revocation, lifting, offline).
    pub workflow: Disposals,
    /// Open notice streams per organisation on this replica, against the cap of `[streams]`.
    pub notice_streams: OpenStreams,
}

impl DisposalApi {
    /// An organisation named in a filter must lie within the caller's scope.
    pub(crate) async fn check_named_organisation(
        &self,
        caller: &Caller,
        field: &str,
        id: &str,
    ) -> Result<(), Status> {
        let org = crate::store::registry::get_organisation(&self.workflow.store, id)
            .await
            .map_err(internal)?
            .ok_or_else(|| invalid(field, format!("no organisation {id:?} is registered")))?;
        caller.check_organisation(&self.workflow.store, &org).await
    }

    /// Fills `NoticeStatus.open_appeal_ids` (Art. 10).
    async fn with_open_appeals(&self, notices: &mut [pb::Notice]) -> Result<(), Status> {
        let ids: Vec<String> = notices.iter().map(|n| n.notice_id.clone()).collect();
        let open = crate::store::appeals::on_notices(&self.workflow.store, &ids)
            .await
            .map_err(internal)?;
        for n in notices {
            if let Some(status) = n.status.as_mut() {
                status.open_appeal_ids = open
                    .iter()
                    .filter(|a| a.notice_id == n.notice_id && a.state.is_open())
                    .map(|a| a.id.clone())
                    .collect();
            }
        }
        Ok(())
    }

    /// Whether the caller may read this notice: its addressee, the regulators
    /// of its province, and the national bodies (docs/authorization.md).
    fn may_read(caller: &Caller, row: &NoticeRow) -> bool {
        let own = row.addressee.as_deref() == Some(caller.organisation_id.as_str());
        match caller.scope {
            Scope::Allow => true,
            Scope::OwnProvince => own || row.province == caller.province,
            Scope::OwnOrganisation => own,
            Scope::Deny => false,
        }
    }
}

#[tonic::async_trait]
impl DisposalService for DisposalApi {
    #[tracing::instrument(skip_all)]
    async fn issue_decision(
        &self,
        request: Request<pb::IssueDecisionRequest>,
    ) -> Result<Response<pb::IssueDecisionResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        Ok(Response::new(
            self.issue(&caller, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_notice(
        &self,
        request: Request<pb::GetNoticeRequest>,
    ) -> Result<Response<pb::GetNoticeResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let id = parse_id("notice_id", &request.get_ref().notice_id)?;
        let row = notices::get_notice(&self.workflow.store, &id)
            .await
            .map_err(internal)?
            .filter(|r| Self::may_read(&caller, r))
            .ok_or_else(|| Status::not_found(format!("no notice {id} visible to the caller")))?;
        let targets = notices::targets_of(&self.workflow.store, std::slice::from_ref(&id))
            .await
            .map_err(internal)?;
        let mut notice = view::notice(&row, &targets);
        self.with_open_appeals(std::slice::from_mut(&mut notice))
            .await?;
        Ok(Response::new(pb::GetNoticeResponse {
            notice: Some(notice),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_notices(
        &self,
        request: Request<pb::ListNoticesRequest>,
    ) -> Result<Response<pb::ListNoticesResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let (size, after) = page(req.page.as_ref())?;
        let before_position = match after.as_str() {
            "" => None,
            t => Some(
                t.parse::<i64>()
                    .map_err(|_| invalid("page.page_token", "not a token this server issued"))?,
            ),
        };
        let optional_id = |field: &str, raw: &str| match raw.trim() {
            "" => Ok(None),
            v => parse_id(field, v).map(Some),
        };
        let mut kinds = Vec::new();
        for (i, k) in req.kinds.iter().enumerate() {
            if !(1..=3).contains(k) {
                return Err(invalid(&format!("kinds[{i}]"), "unknown notice kind"));
            }
            kinds.push(i64::from(*k));
        }
        let mut states = Vec::new();
        for (i, s) in req.states.iter().enumerate() {
            if !(1..=8).contains(s) {
                return Err(invalid(&format!("states[{i}]"), "unknown notice state"));
            }
            states.push(i64::from(*s));
        }
        let time = |field: &str, t: Option<&prost_types::Timestamp>| {
            t.map(|t| from_timestamp(field, t).map(to_micros))
                .transpose()
        };
        let mut filter = NoticeFilter {
            threat_id: optional_id("threat_id", &req.threat_id)?,
            decision_id: optional_id("decision_id", &req.decision_id)?,
            kinds,
            states,
            issued_from: time("issued_from", req.issued_from.as_ref())?,
            issued_before: time("issued_before", req.issued_before.as_ref())?,
            before_position,
            ..Default::default()
        };
        let addressee = req.addressee_organisation_id.trim();
        if !addressee.is_empty() && caller.scope != Scope::Allow {
            self.check_named_organisation(&caller, "addressee_organisation_id", addressee)
                .await?;
        }
        match caller.scope {
            Scope::Allow => {}
            Scope::OwnProvince => {
                filter.province = Some(caller.province.clone());
                filter.or_addressee = Some(caller.organisation_id.clone());
            }
            _ => {
                if !addressee.is_empty() && addressee != caller.organisation_id {
                    return Err(Status::permission_denied(format!(
                        "{} sees only the notices addressed to it, not those of {addressee}",
                        caller.organisation_id
                    )));
                }
                filter.addressee = Some(caller.organisation_id.clone());
            }
        }
        if !addressee.is_empty() {
            filter.addressee = Some(addressee.to_owned());
        }
        let rows = notices::list(&self.workflow.store, &filter, size)
            .await
            .map_err(internal)?;
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let targets = notices::targets_of(&self.workflow.store, &ids)
            .await
            .map_err(internal)?;
        let last = rows.last().map(|r| r.position.to_string());
        let mut listed = view::notices(&rows, &targets);
        self.with_open_appeals(&mut listed).await?;
        Ok(Response::new(pb::ListNoticesResponse {
            notices: listed,
            next_page_token: super::next_page_token(rows.len(), size, last.as_deref()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn subscribe_notices(
        &self,
        request: Request<pb::SubscribeNoticesRequest>,
    ) -> Result<Response<BoxStream<pb::NoticeDelivery>>, Status> {
        let caller = Caller::from_request(&request)?;
        let cursor = request.into_inner().cursor;
        // No cursor: every notice not yet acknowledged, then live.
        let (mut position, unreceived_only) = match cursor.trim() {
            "" => (0, true),
            c => (
                view::decode_cursor(c)
                    .ok_or_else(|| invalid("cursor", "not a cursor this server issued"))?,
                false,
            ),
        };
        let slot = self.notice_streams.open(&caller.organisation_id)?;
        let start = cursor.trim().to_owned();
        let store = self.workflow.store.clone();
        let signal = self.workflow.signal.clone();
        let addressee = caller.organisation_id;
        let stream = async_stream::try_stream! {
            // Woken by notices to this addressee only, not by every notice.
            let subscription = signal.subscribe(&addressee);
            loop {
                let woken = subscription.notified();
                let rows = notices::deliveries_after(&store, &addressee, position, unreceived_only, DELIVERY_BATCH)
                    .await
                    .map_err(internal)?;
                if rows.is_empty() {
                    tokio::select! {
                        _ = woken => {}
                        _ = tokio::time::sleep(FALLBACK_POLL) => {}
                    }
                    continue;
                }
                let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
                let targets = notices::targets_of(&store, &ids).await.map_err(internal)?;
                for (row, notice) in rows.iter().zip(view::notices(&rows, &targets)) {
                    position = row.position;
                    yield pb::NoticeDelivery {
                        cursor: view::encode_cursor(row.position),
                        notice: Some(notice),
                    };
                }
            }
        };
        Ok(Response::new(
            self.notice_streams.paced(slot, start, stream),
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn acknowledge_receipt(
        &self,
        request: Request<pb::AcknowledgeReceiptRequest>,
    ) -> Result<Response<pb::AcknowledgeReceiptResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let status = self.acknowledge(&caller, request.into_inner()).await?;
        Ok(Response::new(pb::AcknowledgeReceiptResponse {
            status: Some(status),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn report_result(
        &self,
        request: Request<pb::ReportResultRequest>,
    ) -> Result<Response<pb::ReportResultResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let status = self.report(&caller, request.into_inner()).await?;
        Ok(Response::new(pb::ReportResultResponse {
            status: Some(status),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn verify_result(
        &self,
        request: Request<pb::VerifyResultRequest>,
    ) -> Result<Response<pb::VerifyResultResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        Ok(Response::new(
            self.verify(&caller, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn list_review_queue(
        &self,
        request: Request<pb::ListReviewQueueRequest>,
    ) -> Result<Response<pb::ListReviewQueueResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        Ok(Response::new(
            self.review_queue(&caller, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_notice(
        &self,
        request: Request<pb::RevokeNoticeRequest>,
    ) -> Result<Response<pb::RevokeNoticeResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let revocation = self.revoke(&caller, request.into_inner()).await?;
        Ok(Response::new(pb::RevokeNoticeResponse {
            revocation: Some(revocation),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn report_lifted(
        &self,
        request: Request<pb::ReportLiftedRequest>,
    ) -> Result<Response<pb::ReportLiftedResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let status = self.lifted(&caller, request.into_inner()).await?;
        Ok(Response::new(pb::ReportLiftedResponse {
            status: Some(status),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn record_offline_notification(
        &self,
        request: Request<pb::RecordOfflineNotificationRequest>,
    ) -> Result<Response<pb::RecordOfflineNotificationResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let status = self.offline(&caller, request.into_inner()).await?;
        Ok(Response::new(pb::RecordOfflineNotificationResponse {
            status: Some(status),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_non_compliance(
        &self,
        request: Request<pb::ListNonComplianceRequest>,
    ) -> Result<Response<pb::ListNonComplianceResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        Ok(Response::new(
            DisposalApi::list_non_compliance(self, &caller, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_compliance_summary(
        &self,
        request: Request<pb::GetComplianceSummaryRequest>,
    ) -> Result<Response<pb::GetComplianceSummaryResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        Ok(Response::new(
            self.summary(&caller, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn accept_not_disposed_reason(
        &self,
        request: Request<pb::AcceptNotDisposedReasonRequest>,
    ) -> Result<Response<pb::AcceptNotDisposedReasonResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let item = self
            .accept_not_disposed(&caller, request.into_inner())
            .await?;
        Ok(Response::new(pb::AcceptNotDisposedReasonResponse {
            item: Some(item),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn record_enforcement(
        &self,
        request: Request<pb::RecordEnforcementRequest>,
    ) -> Result<Response<pb::RecordEnforcementResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let enforcement = self.enforce(&caller, request.into_inner()).await?;
        Ok(Response::new(pb::RecordEnforcementResponse {
            enforcement: Some(enforcement),
        }))
    }
}
