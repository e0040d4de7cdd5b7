//! StatisticsService: converts the request, decides whose figures the caller gets
//! (docs/authorization.md), and hands over to `crate::statistics`; the monthly bulletins
//! to `super::bulletins`.

use tonic::{Request, Response, Status};

use super::calendar::date_from_pb;
use super::{bulletins, internal, invalid};
use crate::auth::Caller;
use crate::auth::policy::Scope as Reach;
use crate::domain::clock::{SharedClock, to_micros};
use crate::domain::organisation::Province;
use crate::pb;
use crate::pb::statistics_service_server::StatisticsService;
use crate::statistics::{self, Period, PeriodError, Scope};
use crate::store::{Store, registry};

pub struct StatisticsApi {
    pub store: Store,
    pub clock: SharedClock,
    /// `[limits] max_message_bytes`: a bulletin that would not fit is refused by name
    /// rather than cut off by the transport.
    pub max_message_bytes: usize,
}

impl From<PeriodError> for Status {
    fn from(e: PeriodError) -> Status {
        let field = e.field();
        match e {
            PeriodError::Reversed { .. }
            | PeriodError::TooLong { .. }
            | PeriodError::BadMonth { .. }
            | PeriodError::OutOfRange { .. } => invalid(field, e.to_string()),
        }
    }
}

fn period(p: Option<&pb::StatisticsPeriod>) -> Result<Period, Status> {
    use pb::statistics_period::Span;
    let span = p
        .and_then(|p| p.span.as_ref())
        .ok_or_else(|| invalid("period", "required: a day, week_of, month or range"))?;
    Ok(match span {
        Span::Day(d) => Period::day(date_from_pb("period.day", Some(d))?),
        Span::WeekOf(d) => {
            Period::week_of(date_from_pb("period.week_of", Some(d))?, "period.week_of")?
        }
        Span::Month(m) => Period::month(m, "period.month")?,
        Span::Range(r) => Period::range(
            date_from_pb("period.range.from", r.from.as_ref())?,
            date_from_pb("period.range.to", r.to.as_ref())?,
            "period.range.to",
        )?,
    })
}

/// A bulletin is national and read whole: its matrix cells are `allow` or `deny` (the
/// layer refused `deny`); a narrower cell would need a record-level rule it does not have.
fn bulletin_reader<T>(request: &Request<T>) -> Result<Caller, Status> {
    let caller = Caller::from_request(request)?;
    match caller.scope {
        Reach::Allow => Ok(caller),
        Reach::OwnProvince | Reach::OwnOrganisation | Reach::Deny => {
            Err(Status::permission_denied(format!(
                "{} may not call {}: a bulletin is read whole (docs/authorization.md)",
                caller.organisation_id, caller.rpc
            )))
        }
    }
}

impl StatisticsApi {
    /// Whose figures this caller asked for and may see.
    async fn scope(&self, caller: &Caller, req: &pb::StatisticsRequest) -> Result<Scope, Status> {
        let province = req.province.trim();
        let org = req.organisation_id.trim();
        if !province.is_empty() && !org.is_empty() {
            return Err(invalid(
                "organisation_id",
                "name a province or an organisation, not both",
            ));
        }
        if !org.is_empty() {
            let row = registry::get_organisation(&self.store, org)
                .await
                .map_err(internal)?
                .ok_or_else(|| invalid("organisation_id", format!("no organisation {org:?}")))?;
            caller.check_organisation(&self.store, &row).await?;
            return Ok(Scope::Organisation(row.id));
        }
        match caller.scope {
            Reach::Allow if province.is_empty() => Ok(Scope::National),
            Reach::Allow => match Province::parse(province) {
                Ok(Province::Code(code)) => Ok(Scope::Province(code)),
                Ok(Province::National) => Ok(Scope::National),
                Err(e) => Err(invalid("province", e.to_string())),
            },
            Reach::OwnProvince if province.is_empty() || province == caller.province => {
                Ok(Scope::Province(caller.province.clone()))
            }
            Reach::OwnProvince | Reach::OwnOrganisation if !province.is_empty() => {
                caller.check_scope(false, province, &format!("province {province}"))?;
                Err(Status::permission_denied(format!("province {province}")))
            }
            Reach::OwnProvince | Reach::OwnOrganisation => {
                Ok(Scope::Organisation(caller.organisation_id.clone()))
            }
            Reach::Deny => Err(Status::permission_denied(format!(
                "{} may not call {}",
                caller.organisation_id, caller.rpc
            ))),
        }
    }

    async fn prepare(
        &self,
        request: &Request<pb::StatisticsRequest>,
    ) -> Result<(Period, Scope), Status> {
        let caller = Caller::from_request(request)?;
        let req = request.get_ref();
        let period = period(req.period.as_ref())?;
        let scope = self.scope(&caller, req).await?;
        Ok((period, scope))
    }
}

#[tonic::async_trait]
impl StatisticsService for StatisticsApi {
    #[tracing::instrument(skip_all)]
    async fn get_threat_statistics(
        &self,
        request: Request<pb::StatisticsRequest>,
    ) -> Result<Response<pb::ThreatStatistics>, Status> {
        let (period, scope) = self.prepare(&request).await?;
        let stats = statistics::threat_statistics(&self.store, &period, &scope)
            .await
            .map_err(internal)?;
        Ok(Response::new(stats))
    }

    #[tracing::instrument(skip_all)]
    async fn get_disposal_statistics(
        &self,
        request: Request<pb::StatisticsRequest>,
    ) -> Result<Response<pb::DisposalStatistics>, Status> {
        let (period, scope) = self.prepare(&request).await?;
        let now = to_micros(self.clock.now());
        let stats = statistics::disposal_statistics(&self.store, &period, &scope, now)
            .await
            .map_err(internal)?;
        Ok(Response::new(stats))
    }

    #[tracing::instrument(skip_all)]
    async fn get_appeal_statistics(
        &self,
        request: Request<pb::StatisticsRequest>,
    ) -> Result<Response<pb::AppealStatistics>, Status> {
        let (period, scope) = self.prepare(&request).await?;
        let now = to_micros(self.clock.now());
        let stats = statistics::appeal_statistics(&self.store, &period, &scope, now)
            .await
            .map_err(internal)?;
        Ok(Response::new(stats))
    }

    #[tracing::instrument(skip_all)]
    async fn list_bulletins(
        &self,
        request: Request<pb::ListBulletinsRequest>,
    ) -> Result<Response<pb::ListBulletinsResponse>, Status> {
        bulletin_reader(&request)?;
        Ok(Response::new(
            bulletins::list(&self.store, request.get_ref()).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(month = %request.get_ref().month))]
    async fn get_bulletin(
        &self,
        request: Request<pb::GetBulletinRequest>,
    ) -> Result<Response<pb::GetBulletinResponse>, Status> {
        bulletin_reader(&request)?;
        let bulletin =
            bulletins::get(&self.store, request.get_ref(), self.max_message_bytes).await?;
        Ok(Response::new(bulletin))
    }
}
