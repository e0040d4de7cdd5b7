//! AuditService: query, verify and follow the hash-chained audit log.

use std::time::Duration;

use tonic::{Request, Response, Status};

use super::streams::{BoxStream, OpenStreams};
use super::{from_timestamp, internal, invalid, page, timestamp};
use crate::auth::Caller;
use crate::auth::policy::Scope;
use crate::pb;
use crate::pb::audit_service_server::AuditService;
use crate::store::audit::{self, AuditFilter, AuditRecord};
use crate::store::{Store, registry};

pub struct AuditApi {
    pub store: Store,
    /// Open audit follows per organisation on this replica, against the cap of `[streams]`.
    pub follows: OpenStreams,
}

/// How often a follower looks for newly committed records.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(200);

fn record_to_pb(r: AuditRecord) -> pb::AuditRecord {
    pb::AuditRecord {
        seq: r.seq as u64,
        at: Some(timestamp(r.at)),
        organisation_id: r.org_id,
        certificate_fingerprint: r.cert_fingerprint,
        officer: r.officer,
        action: r.action,
        subject: r.subject,
        details_json: r.details_json,
        prev_hash: r.prev_hash,
        hash: r.hash,
    }
}

impl AuditApi {
    /// The organisations whose records the caller may read; None = all.
    async fn readable_organisations(
        &self,
        caller: &Caller,
        requested: &str,
    ) -> Result<Option<Vec<String>>, Status> {
        let allowed = match caller.scope {
            Scope::Allow => None,
            Scope::OwnProvince => Some(
                registry::ids_in_province(&self.store, &caller.province)
                    .await
                    .map_err(internal)?,
            ),
            Scope::OwnOrganisation => Some(
                registry::with_descendants(&self.store, &caller.organisation_id)
                    .await
                    .map_err(internal)?,
            ),
            Scope::Deny => Some(Vec::new()),
        };
        if requested.is_empty() {
            return Ok(allowed);
        }
        match allowed {
            Some(ids) if !ids.iter().any(|i| i == requested) => {
                Err(Status::permission_denied(format!(
                    "{} may not read the audit records of organisation {requested}",
                    caller.organisation_id
                )))
            }
            _ => Ok(Some(vec![requested.to_owned()])),
        }
    }
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    #[tracing::instrument(skip_all)]
    async fn query_audit(
        &self,
        request: Request<pb::QueryAuditRequest>,
    ) -> Result<Response<pb::QueryAuditResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let (size, token) = page(req.page.as_ref())?;
        let after_seq = match token.as_str() {
            "" => 0,
            t => t
                .parse()
                .map_err(|_| invalid("page.page_token", "not a token this server issued"))?,
        };
        let filter = AuditFilter {
            subject: (!req.subject.is_empty()).then(|| req.subject.clone()),
            organisation_ids: self
                .readable_organisations(&caller, &req.organisation_id)
                .await?,
            from: req
                .from
                .as_ref()
                .map(|t| from_timestamp("from", t))
                .transpose()?,
            to: req
                .to
                .as_ref()
                .map(|t| from_timestamp("to", t))
                .transpose()?,
            after_seq,
        };
        if let (Some(f), Some(t)) = (filter.from, filter.to)
            && f >= t
        {
            return Err(invalid("to", "must be after `from`"));
        }
        let rows = audit::query(&self.store, &filter, size)
            .await
            .map_err(internal)?;
        let next_page_token = match rows.last() {
            Some(last) if rows.len() == size as usize => audit::page_token(last.seq),
            _ => String::new(),
        };
        Ok(Response::new(pb::QueryAuditResponse {
            records: rows.into_iter().map(record_to_pb).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn verify_audit_chain(
        &self,
        _request: Request<pb::VerifyAuditChainRequest>,
    ) -> Result<Response<pb::VerifyAuditChainResponse>, Status> {
        let report = audit::verify_chain(&self.store).await.map_err(internal)?;
        let (first_bad_seq, problem) = report
            .problem
            .clone()
            .map(|(s, p)| (s as u64, p))
            .unwrap_or_default();
        Ok(Response::new(pb::VerifyAuditChainResponse {
            intact: report.intact(),
            records_checked: report.records_checked,
            first_bad_seq,
            problem,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn stream_audit(
        &self,
        request: Request<pb::StreamAuditRequest>,
    ) -> Result<Response<BoxStream<pb::AuditRecord>>, Status> {
        let caller = Caller::from_request(&request)?;
        let after = i64::try_from(request.get_ref().after_seq)
            .map_err(|_| invalid("after_seq", "too large"))?;
        let organisation_ids = self.readable_organisations(&caller, "").await?;
        let slot = self.follows.open(&caller.organisation_id)?;
        let store = self.store.clone();
        let stream = async_stream::try_stream! {
            let mut filter = AuditFilter { organisation_ids, after_seq: after, ..Default::default() };
            let mut tick = tokio::time::interval(FOLLOW_INTERVAL);
            loop {
                tick.tick().await;
                let rows = audit::query(&store, &filter, 500).await.map_err(internal)?;
                for r in rows {
                    filter.after_seq = r.seq;
                    yield record_to_pb(r);
                }
            }
        };
        Ok(Response::new(self.follows.paced(
            slot,
            after.to_string(),
            stream,
        )))
    }
}
