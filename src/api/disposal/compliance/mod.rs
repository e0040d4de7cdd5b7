//! Art. 12: non-compliance records, on-time rates, enforcement; and the Art. 9
//! review queue the regulator works.

mod errors;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use chrono::NaiveDate;
use tonic::Status;

use super::issue::{parse_id, parse_ids};
use super::{DisposalApi, view};
use crate::api::calendar::date_from_pb;
use crate::api::{internal, invalid, next_page_token, page};
use crate::auth::Caller;
use crate::auth::policy::Scope;
use crate::compliance;
use crate::compliance::enforcement::{self, EnforcementKind, RecordEnforcement};
use crate::domain::calendar::start_of_day;
use crate::domain::clock::to_micros;
use crate::pb;
use crate::store::notices::{self, DutyRow, NonComplianceFilter};
use crate::store::{registry, reporting};

/// Microseconds of 00:00 Asia/Shanghai on `date`.
fn start_of(date: NaiveDate) -> i64 {
    to_micros(start_of_day(date))
}

/// `[from, before)` in microseconds for inclusive Asia/Shanghai dates.
fn due_range(
    from: Option<&pb::Date>,
    to: Option<&pb::Date>,
    from_field: &str,
    to_field: &str,
) -> Result<(Option<i64>, Option<i64>), Status> {
    let from = from
        .map(|d| date_from_pb(from_field, Some(d)))
        .transpose()?;
    let to = to.map(|d| date_from_pb(to_field, Some(d))).transpose()?;
    if let (Some(f), Some(t)) = (from, to)
        && t < f
    {
        return Err(invalid(to_field, format!("{t} is before {from_field} {f}")));
    }
    Ok((
        from.map(start_of),
        to.and_then(|t| t.succ_opt()).map(start_of),
    ))
}

/// A RecordEnforcement request as the workflow's command: everything wrong in itself is
/// refused here, naming the field.
fn enforcement_command(req: pb::RecordEnforcementRequest) -> Result<RecordEnforcement, Status> {
    let e = req
        .enforcement
        .ok_or_else(|| invalid("enforcement", "required"))?;
    let kind = match pb::EnforcementKind::try_from(e.kind) {
        Ok(pb::EnforcementKind::Interview) => EnforcementKind::Interview,
        Ok(pb::EnforcementKind::Warning) => EnforcementKind::Warning,
        Ok(pb::EnforcementKind::Fine) => EnforcementKind::Fine,
        Ok(pb::EnforcementKind::Unspecified) | Err(_) => {
            return Err(invalid(
                "enforcement.kind",
                "interview, warning or fine (Art. 12)",
            ));
        }
    };
    let decided_on = date_from_pb("enforcement.decided_on", e.decided_on.as_ref())?;
    match (kind, e.fine_amount_fen) {
        (EnforcementKind::Fine, 0) => {
            return Err(invalid(
                "enforcement.fine_amount_fen",
                "a fine states its amount in fen",
            ));
        }
        (EnforcementKind::Fine, _) | (_, 0) => {}
        _ => {
            return Err(invalid(
                "enforcement.fine_amount_fen",
                "only a fine has an amount",
            ));
        }
    }
    let description = e.description.trim();
    if description.is_empty() || description.chars().count() > 4000 {
        return Err(invalid(
            "enforcement.description",
            "required, at most 4000 characters",
        ));
    }
    if e.document_number.chars().count() > 100 {
        return Err(invalid(
            "enforcement.document_number",
            "at most 100 characters",
        ));
    }
    let legal_basis = e.legal_basis.trim();
    if legal_basis.is_empty() || legal_basis.chars().count() > 500 {
        return Err(invalid(
            "enforcement.legal_basis",
            "required, at most 500 characters: the law the measure stands on (e.g. Cybersecurity Law Art. 56; Art. 12 of the 2017 Measures)",
        ));
    }
    Ok(RecordEnforcement {
        organisation_id: e.organisation_id.trim().to_owned(),
        kind,
        decided_on,
        document_number: e.document_number.trim().to_owned(),
        fine_amount_fen: e.fine_amount_fen,
        description: description.to_owned(),
        legal_basis: legal_basis.to_owned(),
        non_compliance_ids: parse_ids("enforcement.non_compliance_ids", &e.non_compliance_ids)?,
        resolves_review_item_ids: parse_ids(
            "resolves_review_item_ids",
            &req.resolves_review_item_ids,
        )?,
    })
}

/// Art. 12 duty counts; statistics count by the same definition.
pub(crate) fn counts(duties: &[&DutyRow], now: i64) -> pb::DutyCounts {
    let mut c = pb::DutyCounts::default();
    for d in duties {
        match d.met_at {
            // Art. 12: a measure reported not taken is its own figure, never on time.
            Some(_) if d.not_disposed != 0 => c.not_disposed += 1,
            Some(m) if m < d.due_at => c.on_time += 1,
            Some(_) => c.late += 1,
            None if d.due_at <= now => c.missing += 1,
            None => continue,
        }
        c.due += 1;
    }
    c.on_time_rate = if c.due == 0 {
        1.0
    } else {
        f64::from(c.on_time) / f64::from(c.due)
    };
    c
}

/// Reports as duties: each was met when it arrived, on time or late (reporting measures Art. 13).
fn report_counts((due, late): (i64, i64)) -> pb::DutyCounts {
    let (due, late) = (due.max(0) as u32, late.clamp(0, due.max(0)) as u32);
    pb::DutyCounts {
        due,
        on_time: due - late,
        late,
        missing: 0,
        not_disposed: 0,
        on_time_rate: if due == 0 {
            1.0
        } else {
            f64::from(due - late) / f64::from(due)
        },
    }
}

impl DisposalApi {
    /// The units a summary lists: notices' addressees and reporters with report deadlines
    /// (of a province, or all), merged by id for one page.
    async fn listed_units(
        &self,
        province: Option<&str>,
        after: &str,
        size: u32,
    ) -> Result<Vec<String>, sqlx::Error> {
        let mut units = notices::addressees(&self.workflow.store, province, after, size).await?;
        units.extend(reporting::reporters(&self.workflow.store, province, after, size).await?);
        units.sort();
        units.dedup();
        units.truncate(size as usize);
        Ok(units)
    }

    pub(super) async fn list_non_compliance(
        &self,
        caller: &Caller,
        req: pb::ListNonComplianceRequest,
    ) -> Result<pb::ListNonComplianceResponse, Status> {
        let (size, after) = page(req.page.as_ref())?;
        let (due_from, due_before) = due_range(
            req.due_from.as_ref(),
            req.due_to.as_ref(),
            "due_from",
            "due_to",
        )?;
        let mut kinds = Vec::new();
        for (i, k) in req.kinds.iter().enumerate() {
            if !(1..=5).contains(k) {
                return Err(invalid(
                    &format!("kinds[{i}]"),
                    "unknown non-compliance kind",
                ));
            }
            kinds.push(i64::from(*k));
        }
        let org = req.organisation_id.trim();
        let mut filter = NonComplianceFilter {
            kinds,
            due_from,
            due_before,
            unenforced_only: req.unenforced_only,
            after_id: after,
            ..Default::default()
        };
        if !org.is_empty() {
            // A named unit: it must lie within the caller's scope; then all its records show.
            if caller.scope != Scope::Allow {
                self.check_named_organisation(caller, "organisation_id", org)
                    .await?;
            }
            filter.org_id = Some(org.to_owned());
        } else {
            match caller.scope {
                Scope::Allow => {}
                Scope::OwnProvince => filter.province = Some(caller.province.clone()),
                _ => filter.org_id = Some(caller.organisation_id.clone()),
            }
        }
        let rows = notices::list_non_compliance(&self.workflow.store, &filter, size)
            .await
            .map_err(internal)?;
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let mut enforced: HashMap<String, Vec<String>> = HashMap::new();
        for (nc, e) in notices::enforcements_of(&self.workflow.store, &ids)
            .await
            .map_err(internal)?
        {
            enforced.entry(nc).or_default().push(e);
        }
        Ok(pb::ListNonComplianceResponse {
            next_page_token: next_page_token(rows.len(), size, rows.last().map(|r| r.id.as_str())),
            records: rows
                .iter()
                .map(|r| view::non_compliance(r, enforced.remove(&r.id).unwrap_or_default()))
                .collect(),
        })
    }

    pub(super) async fn summary(
        &self,
        caller: &Caller,
        req: pb::GetComplianceSummaryRequest,
    ) -> Result<pb::GetComplianceSummaryResponse, Status> {
        let (size, after) = page(req.page.as_ref())?;
        let (from, before) = due_range(
            req.due_from.as_ref(),
            req.due_to.as_ref(),
            "due_from",
            "due_to",
        )?;
        let now = to_micros(self.workflow.clock.now());
        let orgs: Vec<String> = if req.organisation_ids.is_empty() {
            match caller.scope {
                Scope::Allow => self.listed_units(None, &after, size).await,
                Scope::OwnProvince => {
                    self.listed_units(Some(&caller.province), &after, size)
                        .await
                }
                _ => Ok(if after.is_empty() {
                    vec![caller.organisation_id.clone()]
                } else {
                    Vec::new()
                }),
            }
            .map_err(internal)?
        } else {
            let mut out = Vec::new();
            for (i, id) in req.organisation_ids.iter().enumerate() {
                let field = format!("organisation_ids[{i}]");
                let org = registry::get_organisation(&self.workflow.store, id.trim())
                    .await
                    .map_err(internal)?
                    .ok_or_else(|| invalid(&field, format!("no organisation {:?}", id.trim())))?;
                caller
                    .check_organisation(&self.workflow.store, &org)
                    .await?;
                if org.id > after {
                    out.push(org.id);
                }
            }
            out.sort();
            out.dedup();
            out.truncate(size as usize);
            out
        };
        let (from, before) = (from.unwrap_or(i64::MIN), before.unwrap_or(i64::MAX));
        let receipts = notices::receipt_duties(&self.workflow.store, &orgs, from, before)
            .await
            .map_err(internal)?;
        let results = notices::result_duties(&self.workflow.store, &orgs, from, before)
            .await
            .map_err(internal)?;
        let lifts = notices::lift_duties(&self.workflow.store, &orgs, from, before)
            .await
            .map_err(internal)?;
        let verifications = notices::verification_duties(&self.workflow.store, &orgs, from, before)
            .await
            .map_err(internal)?;
        let reports: HashMap<String, (i64, i64)> =
            reporting::report_counts(&self.workflow.store, &orgs, from, before)
                .await
                .map_err(internal)?
                .into_iter()
                .map(|(org, due, late)| (org, (due, late)))
                .collect();
        let enforcements: HashMap<String, i64> =
            notices::enforcement_counts(&self.workflow.store, &orgs)
                .await
                .map_err(internal)?
                .into_iter()
                .collect();
        let of = |rows: &[DutyRow], org: &str| -> pb::DutyCounts {
            counts(
                &rows.iter().filter(|d| d.org_id == org).collect::<Vec<_>>(),
                now,
            )
        };
        Ok(pb::GetComplianceSummaryResponse {
            next_page_token: next_page_token(orgs.len(), size, orgs.last().map(String::as_str)),
            units: orgs
                .iter()
                .map(|o| pb::UnitCompliance {
                    organisation_id: o.clone(),
                    receipts: Some(of(&receipts, o)),
                    results: Some(of(&results, o)),
                    lifts: Some(of(&lifts, o)),
                    verifications: Some(of(&verifications, o)),
                    enforcements: enforcements.get(o).copied().unwrap_or(0) as u32,
                    reports: Some(report_counts(reports.get(o).copied().unwrap_or((0, 0)))),
                })
                .collect(),
        })
    }

    pub(super) async fn enforce(
        &self,
        caller: &Caller,
        req: pb::RecordEnforcementRequest,
    ) -> Result<pb::Enforcement, Status> {
        let command = enforcement_command(req)?;
        Ok(enforcement::record(
            &self.workflow.store,
            caller,
            command,
            self.workflow.clock.now(),
        )
        .await?)
    }

    /// Art. 9, 12: the regulator accepts a unit's reason for not disposing of a target.
    pub(super) async fn accept_not_disposed(
        &self,
        caller: &Caller,
        req: pb::AcceptNotDisposedReasonRequest,
    ) -> Result<pb::ReviewQueueItem, Status> {
        let id = parse_id("review_item_id", &req.review_item_id)?;
        let note = req.note.trim();
        if note.is_empty() || note.chars().count() > 2000 {
            return Err(invalid(
                "note",
                "required, at most 2000 characters: why the reason is accepted",
            ));
        }
        let item = compliance::accept_not_disposed(
            &self.workflow.store,
            caller,
            &id,
            note,
            self.workflow.clock.now(),
        )
        .await?;
        view::review_item(&item)
    }

    pub(super) async fn review_queue(
        &self,
        caller: &Caller,
        req: pb::ListReviewQueueRequest,
    ) -> Result<pb::ListReviewQueueResponse, Status> {
        let (size, after) = page(req.page.as_ref())?;
        let threat = match req.threat_id.trim() {
            "" => None,
            t => Some(parse_id("threat_id", t)?),
        };
        let addressee = req.addressee_organisation_id.trim();
        let province = (caller.scope != Scope::Allow).then_some(caller.province.as_str());
        let rows = notices::open_reviews(
            &self.workflow.store,
            province,
            threat.as_deref(),
            (!addressee.is_empty()).then_some(addressee),
            &after,
            size,
        )
        .await
        .map_err(internal)?;
        Ok(pb::ListReviewQueueResponse {
            next_page_token: next_page_token(rows.len(), size, rows.last().map(|r| r.id.as_str())),
            items: rows
                .iter()
                .map(view::review_item)
                .collect::<Result<_, _>>()?,
        })
    }
}
