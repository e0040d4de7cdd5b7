//! CalendarService: the official working-day calendar (shipped years overlaid with the years
//! an administrator loaded) and LoadYear.

use chrono::NaiveDate;
use tonic::{Request, Response, Status};

use super::{internal, invalid, precondition, timestamp};
use crate::auth::Caller;
use crate::domain::calendar::{CalendarError, WorkingCalendar, YearCalendar, local_date};
use crate::domain::clock::{SharedClock, to_micros};
use crate::pb;
use crate::pb::calendar_service_server::CalendarService;
use crate::store::{Store, calendar};
use crate::timers::TimerHandlers;

pub struct CalendarApi {
    pub store: Store,
    pub clock: SharedClock,
    /// The scheduler's handlers: loading a year runs each pending deadline's follow-up.
    pub handlers: TimerHandlers,
}

/// A `Date` message as a calendar date; `field` names it in the refusal.
pub fn date_from_pb(field: &str, date: Option<&pb::Date>) -> Result<NaiveDate, Status> {
    let d = date.ok_or_else(|| invalid(field, "required"))?;
    let (month, day) = (u32::try_from(d.month), u32::try_from(d.day));
    match (month, day) {
        (Ok(m), Ok(dd)) => NaiveDate::from_ymd_opt(d.year, m, dd),
        _ => None,
    }
    .ok_or_else(|| {
        invalid(
            field,
            format!(
                "{:04}-{:02}-{:02} is not a calendar date",
                d.year, d.month, d.day
            ),
        )
    })
}

pub use crate::pb::date_to_pb;

/// Every calendar rule, mapped once: wrong input → INVALID_ARGUMENT naming the field; a date
/// the loaded years do not cover → FAILED_PRECONDITION naming the date and the loaded years.
pub fn calendar_status(e: CalendarError) -> Status {
    {
        let message = e.to_string();
        match e {
            CalendarError::InvalidYear { .. } => invalid("year", message),
            CalendarError::DateOutsideYear { list, .. } => invalid(
                if list == "holiday" {
                    "holidays"
                } else {
                    "makeup_workdays"
                },
                message,
            ),
            CalendarError::MakeupNotWeekend { .. } | CalendarError::HolidayAndMakeup { .. } => {
                invalid("makeup_workdays", message)
            }
            CalendarError::MissingStatutoryHoliday { .. } => invalid("holidays", message),
            CalendarError::DuplicateYear { .. } => invalid("year", message),
            CalendarError::Json(_) => invalid("calendar", message),
            CalendarError::ZeroWorkingDays => invalid("working_days", message),
            CalendarError::ReversedRange { .. } => invalid("to", message),
            CalendarError::OutsideLoadedYears { date, .. } => {
                precondition("CALENDAR_NOT_LOADED", &date.to_string(), message)
            }
            CalendarError::PastLoadedYears {
                from, last_loaded, ..
            } => precondition(
                "CALENDAR_NOT_LOADED",
                &format!("{}-01-01", last_loaded + 1),
                format!("{message} (counting from {from})"),
            ),
        }
    }
}

impl CalendarApi {
    async fn calendar(&self) -> Result<WorkingCalendar, Status> {
        calendar::current(&self.store).await.map_err(internal)
    }
}

#[tonic::async_trait]
impl CalendarService for CalendarApi {
    #[tracing::instrument(skip_all)]
    async fn is_working_day(
        &self,
        request: Request<pb::IsWorkingDayRequest>,
    ) -> Result<Response<pb::IsWorkingDayResponse>, Status> {
        let date = date_from_pb("date", request.get_ref().date.as_ref())?;
        let working_day = self
            .calendar()
            .await?
            .is_working_day(date)
            .map_err(calendar_status)?;
        Ok(Response::new(pb::IsWorkingDayResponse { working_day }))
    }

    #[tracing::instrument(skip_all)]
    async fn add_working_days(
        &self,
        request: Request<pb::AddWorkingDaysRequest>,
    ) -> Result<Response<pb::AddWorkingDaysResponse>, Status> {
        let req = request.into_inner();
        let from = date_from_pb("from", req.from.as_ref())?;
        if req.working_days == 0 {
            return Err(calendar_status(CalendarError::ZeroWorkingDays));
        }
        let calendar = self.calendar().await?;
        let date = calendar
            .add_working_days(from, req.working_days)
            .map_err(calendar_status)?;
        // The end of the N-th working day: 00:00 Asia/Shanghai of the next day.
        let end = calendar
            .deadline_after(shanghai_noon(from), req.working_days)
            .map_err(calendar_status)?;
        Ok(Response::new(pb::AddWorkingDaysResponse {
            date: Some(date_to_pb(date)),
            deadline: Some(timestamp(to_micros(end))),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn working_days_between(
        &self,
        request: Request<pb::WorkingDaysBetweenRequest>,
    ) -> Result<Response<pb::WorkingDaysBetweenResponse>, Status> {
        let req = request.into_inner();
        let from = date_from_pb("from", req.from.as_ref())?;
        let to = date_from_pb("to", req.to.as_ref())?;
        let working_days = self
            .calendar()
            .await?
            .working_days_between(from, to)
            .map_err(calendar_status)?;
        Ok(Response::new(pb::WorkingDaysBetweenResponse {
            working_days,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_loaded_years(
        &self,
        _request: Request<pb::ListLoadedYearsRequest>,
    ) -> Result<Response<pb::ListLoadedYearsResponse>, Status> {
        let calendar = self.calendar().await?;
        let loaded_by_administrator = calendar::administrator_years(&self.store)
            .await
            .map_err(internal)?;
        let coverage = calendar.coverage(local_date(self.clock.now()));
        Ok(Response::new(pb::ListLoadedYearsResponse {
            years: calendar.loaded_years(),
            loaded_by_administrator,
            last_day: coverage.map(|c| date_to_pb(c.last_day)),
            days_left: coverage.map_or(0, |c| c.days_left),
            warning: coverage.and_then(|c| c.warning()).unwrap_or_default(),
        }))
    }

    #[tracing::instrument(skip_all, fields(year = request.get_ref().year))]
    async fn load_year(
        &self,
        request: Request<pb::LoadYearRequest>,
    ) -> Result<Response<pb::LoadYearResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let dates = |field: &str, list: &[pb::Date]| -> Result<Vec<NaiveDate>, Status> {
            list.iter()
                .enumerate()
                .map(|(i, d)| date_from_pb(&format!("{field}[{i}]"), Some(d)))
                .collect()
        };
        let year = YearCalendar::new(
            req.year,
            dates("holidays", &req.holidays)?,
            dates("makeup_workdays", &req.makeup_workdays)?,
        )
        .map_err(calendar_status)?;
        let loaded = crate::timers::calendar::load_year(
            &self.store,
            &self.handlers,
            self.clock.now(),
            &caller.actor(),
            year,
        )
        .await
        .map_err(internal)?;
        Ok(Response::new(pb::LoadYearResponse {
            year: loaded.year,
            replaced: loaded.replaced,
            deadlines_scheduled: loaded.scheduled.len() as u64,
        }))
    }
}

/// Noon of `date` in Asia/Shanghai, as an instant whose Shanghai date is `date`.
fn shanghai_noon(date: NaiveDate) -> chrono::DateTime<chrono::Utc> {
    // UTC+8 has no DST from 1992, so 04:00 UTC is always noon the same day.
    date.and_hms_opt(4, 0, 0).unwrap_or_default().and_utc()
}
