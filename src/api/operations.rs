//! OperationsService: what the platform operator watches — version, backend, calendar years,
//! durable timers and operator alerts.

use tonic::{Request, Response, Status};

use super::{internal, optional_timestamp, timestamp};
use crate::domain::calendar::local_date;
use crate::domain::clock::{SharedClock, to_micros};
use crate::pb;
use crate::pb::operations_service_server::OperationsService;
use crate::store::{Dialect, Store, calendar, timers};

pub struct OperationsApi {
    pub store: Store,
    pub clock: SharedClock,
}

const MAX_ALERTS: u32 = 1000;

#[tonic::async_trait]
impl OperationsService for OperationsApi {
    #[tracing::instrument(skip_all)]
    async fn get_status(
        &self,
        _request: Request<pb::GetStatusRequest>,
    ) -> Result<Response<pb::PlatformStatus>, Status> {
        let now = self.clock.now();
        let cal = calendar::current(&self.store).await.map_err(internal)?;
        let coverage = cal.coverage(local_date(now));
        let (open, overdue, pending, failing) = timers::open_counts(&self.store, now)
            .await
            .map_err(internal)?;
        let alerts = timers::open_alerts(&self.store).await.map_err(internal)?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(Response::new(pb::PlatformStatus {
            version: env!("CARGO_PKG_VERSION").into(),
            commit: crate::bench::COMMIT.into(),
            backend: match self.store.dialect() {
                Dialect::Sqlite => "sqlite",
                Dialect::Postgres => "postgres",
            }
            .into(),
            server_time: Some(timestamp(to_micros(now))),
            calendar_years: cal.loaded_years(),
            calendar_last_day: coverage.map(|c| c.last_day.to_string()).unwrap_or_default(),
            calendar_warning: coverage.and_then(|c| c.warning()).unwrap_or_default(),
            timers_open: count(open),
            timers_overdue: count(overdue),
            timers_pending_calendar: count(pending),
            timers_failing: count(failing),
            open_alerts: alerts.len() as u64,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_operator_alerts(
        &self,
        request: Request<pb::ListOperatorAlertsRequest>,
    ) -> Result<Response<pb::ListOperatorAlertsResponse>, Status> {
        let req = request.into_inner();
        let limit = match req.limit {
            0 => MAX_ALERTS,
            n => n.min(MAX_ALERTS),
        };
        let rows = timers::alerts(&self.store, req.include_resolved, limit)
            .await
            .map_err(internal)?;
        Ok(Response::new(pb::ListOperatorAlertsResponse {
            alerts: rows
                .into_iter()
                .map(|a| pb::OperatorAlert {
                    id: a.id,
                    raised_at: Some(timestamp(a.raised_at)),
                    kind: a.kind,
                    subject: a.subject,
                    message: a.message,
                    resolved_at: optional_timestamp(a.resolved_at),
                })
                .collect(),
        }))
    }
}
