//! IdentificationService (Art. 7): an institution confirms or rejects each
//! threat, grades it and recommends Art. 8 measures.

use prost::Message;
use sha2::{Digest, Sha256};
use tonic::{Request, Response, Status};

use super::{internal, invalid, page, precondition, timestamp};
use crate::auth::Caller;
use crate::domain::clock::{SharedClock, to_micros};
use crate::domain::grading::{EventGrade, GradeThresholds};
use crate::domain::threat::visibility::Reader;
use crate::domain::threat::{Identification, ThreatStatus, indicator};
use crate::pb;
use crate::pb::identification_service_server::IdentificationService;
use crate::store::identifications::{self as ids, IdentificationRow, NewIdentification};
use crate::store::threats;
use crate::store::{Store, audit};

pub struct IdentificationApi {
    pub store: Store,
    pub clock: SharedClock,
    /// Scale thresholds of the event grades (2009 mechanism Art. 7).
    pub grading: GradeThresholds,
    /// The feed's wake-up: an identification is a feed event.
    pub feed: crate::delivery::NoticeSignal,
    /// Limits of the institution's own tasks (2009 mechanism Art. 8(3), 9(5)).
    pub policy: std::sync::Arc<crate::domain::policy::DeadlinePolicy>,
}

impl IdentificationApi {
    /// The largest scale the threat's sightings report and the grade it is given, read in `tx`.
    async fn reported_scale(
        &self,
        tx: &mut crate::store::Tx,
        threat_id: &str,
    ) -> Result<Option<(EventGrade, u64)>, Status> {
        let reports = threats::reports_of(tx, threat_id).await.map_err(internal)?;
        let bots = reports.iter().filter_map(|(_, r)| {
            match pb::ThreatReport::decode(r.as_slice()).ok()?.category? {
                pb::threat_report::Category::MaliciousResource(m) => {
                    m.control_server.map(|c| c.bot_count)
                }
                _ => None,
            }
        });
        Ok(self.grading.grade_of_reports(bots))
    }
}

/// A recommended measure with its targets normalised as at intake.
fn measure(i: usize, m: &pb::RecommendedMeasure) -> Result<pb::RecommendedMeasure, Status> {
    let (kind, targets) = measure_targets(
        &format!("recommended_measures[{i}]"),
        m.measure_type,
        &m.targets,
    )?;
    Ok(pb::RecommendedMeasure {
        measure_type: kind as i32,
        targets,
        rationale: m.rationale.trim().to_owned(),
    })
}

/// A measure type and its targets, normalised as at intake; `prefix` names the
/// measure's field in errors. Art. 8(1) acts on resources only; broadband
/// accounts only under 8(1).
pub fn measure_targets(
    prefix: &str,
    measure_type: i32,
    raw_targets: &[pb::MeasureTarget],
) -> Result<(pb::MeasureType, Vec<pb::MeasureTarget>), Status> {
    use pb::MeasureTargetKind as T;
    let field = |f: &str| format!("{prefix}.{f}");
    let kind = match pb::MeasureType::try_from(measure_type) {
        Ok(k) if k != pb::MeasureType::Unspecified => k,
        _ => {
            return Err(invalid(
                &field("measure_type"),
                "one of the measures of Art. 8(1)-(4)",
            ));
        }
    };
    let mut targets = Vec::with_capacity(raw_targets.len());
    for (j, t) in raw_targets.iter().enumerate() {
        let tf = field(&format!("targets[{j}].value"));
        let target_kind = T::try_from(t.kind).unwrap_or(T::Unspecified);
        let as_field = |e: indicator::IndicatorError| invalid(&tf, e.to_string());
        let value = match target_kind {
            T::Unspecified => {
                return Err(invalid(&field(&format!("targets[{j}].kind")), "required"));
            }
            T::Ip => indicator::ip(&t.value).map_err(as_field)?,
            T::Domain => indicator::domain(&t.value).map_err(as_field)?,
            T::Url => indicator::url(&t.value).map_err(as_field)?,
            T::EmailAccount => indicator::email(&t.value).map_err(as_field)?,
            T::PhoneNumber => indicator::phone(&t.value).map_err(as_field)?,
            T::BroadbandAccount | T::System => {
                let v = t.value.trim();
                if v.is_empty() || v.chars().count() > 300 {
                    return Err(invalid(&tf, "1 to 300 characters"));
                }
                v.to_owned()
            }
        };
        if kind == pb::MeasureType::StopServiceOrBlock && target_kind == T::System {
            return Err(invalid(
                &tf,
                "Art. 8(1) acts on an IP, broadband account, domain, URL, e-mail account or phone number",
            ));
        }
        if kind != pb::MeasureType::StopServiceOrBlock && target_kind == T::BroadbandAccount {
            return Err(invalid(
                &tf,
                "a broadband account is blocked under Art. 8(1) only",
            ));
        }
        targets.push(pb::MeasureTarget {
            kind: target_kind as i32,
            value,
        });
    }
    if targets.is_empty() {
        return Err(invalid(
            &field("targets"),
            "a measure names at least one target",
        ));
    }
    if targets.len() > MAX_TARGETS {
        return Err(invalid(
            &field("targets"),
            format!("at most {MAX_TARGETS} targets per measure"),
        ));
    }
    Ok((kind, targets))
}

/// Targets per measure: a notice stays readable and its signature cheap to check.
pub const MAX_TARGETS: usize = 1000;

fn body(row: &IdentificationRow) -> Result<pb::Identification, Status> {
    pb::Identification::decode(row.body.as_slice()).map_err(internal)
}

impl IdentificationApi {
    fn reader(caller: &Caller) -> Reader {
        Reader::new(&caller.organisation_id, &caller.roles, &caller.province)
    }

    /// The identification, if the caller may see its threat.
    async fn visible(
        &self,
        caller: &Caller,
        row: Option<IdentificationRow>,
    ) -> Result<pb::Identification, Status> {
        let not_found = || Status::not_found("no identification visible to the caller");
        let row = row.ok_or_else(not_found)?;
        let seen = threats::sighting_stats(
            &self.store,
            std::slice::from_ref(&row.threat_id),
            &Self::reader(caller),
        )
        .await
        .map_err(internal)?;
        if seen.is_empty() {
            return Err(not_found());
        }
        body(&row)
    }
}

#[tonic::async_trait]
impl IdentificationService for IdentificationApi {
    #[tracing::instrument(skip_all)]
    async fn list_unidentified(
        &self,
        request: Request<pb::ListUnidentifiedRequest>,
    ) -> Result<Response<pb::ListUnidentifiedResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let (size, after) = page(req.page.as_ref())?;
        let category = match req.category {
            0 => None,
            c if (1..=5).contains(&c) => Some(i64::from(c)),
            _ => return Err(invalid("category", "unknown category")),
        };
        let reader = Self::reader(&caller);
        let rows = threats::unidentified(&self.store, &reader, category, &after, size)
            .await
            .map_err(internal)?;
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let stats = threats::sighting_stats(&self.store, &ids, &reader)
            .await
            .map_err(internal)?;
        Ok(Response::new(pb::ListUnidentifiedResponse {
            next_page_token: super::next_page_token(
                rows.len(),
                size,
                rows.last().map(|r| r.id.as_str()),
            ),
            threats: rows
                .iter()
                .map(|r| {
                    super::threat::view::threat(
                        r,
                        stats.get(&r.id).copied().unwrap_or_default(),
                        Vec::new(),
                    )
                })
                .collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_identification(
        &self,
        request: Request<pb::GetIdentificationRequest>,
    ) -> Result<Response<pb::GetIdentificationResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let parse = |field: &str, raw: &str| {
            uuid::Uuid::parse_str(raw.trim())
                .map(|u| u.to_string())
                .map_err(|_| invalid(field, "not an id"))
        };
        let row = match request.into_inner().key {
            Some(pb::get_identification_request::Key::IdentificationId(id)) => {
                ids::by_id(&self.store, &parse("identification_id", &id)?).await
            }
            Some(pb::get_identification_request::Key::ThreatId(id)) => {
                ids::by_threat(&self.store, &parse("threat_id", &id)?).await
            }
            None => return Err(invalid("key", "an identification_id or a threat_id")),
        }
        .map_err(internal)?;
        let identification = self.visible(&caller, row).await?;
        Ok(Response::new(pb::GetIdentificationResponse {
            identification: Some(identification),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn identify(
        &self,
        request: Request<pb::IdentifyRequest>,
    ) -> Result<Response<pb::IdentifyResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let request_sha256 = hex::encode(Sha256::digest(req.encode_to_vec()));
        let threat_id = uuid::Uuid::parse_str(req.threat_id.trim())
            .map_err(|_| invalid("threat_id", "not a threat id"))?
            .to_string();
        let event = match pb::IdentificationOutcome::try_from(req.outcome) {
            Ok(pb::IdentificationOutcome::Confirmed) => Identification::Confirm,
            Ok(pb::IdentificationOutcome::Rejected) => Identification::Reject,
            _ => return Err(invalid("outcome", "CONFIRMED or REJECTED (Art. 7)")),
        };
        let grade = match (event, pb::EventGrade::try_from(req.grade)) {
            (Identification::Confirm, Ok(g)) if g != pb::EventGrade::Unspecified => g as i64,
            (Identification::Confirm, _) => {
                return Err(invalid(
                    "grade",
                    "a confirmed threat is graded: particularly serious, serious, major or general",
                ));
            }
            (Identification::Reject, _) => 0,
        };
        let reason = req.reason.trim().to_owned();
        if event == Identification::Reject && reason.is_empty() {
            return Err(invalid(
                "reason",
                "a rejection gives its reason: the submitters and the feed see it",
            ));
        }
        if event == Identification::Reject && !req.recommended_measures.is_empty() {
            return Err(invalid(
                "recommended_measures",
                "measures are recommended only for a confirmed threat (Art. 7)",
            ));
        }
        let grade_reason = req.grade_reason.trim().to_owned();
        if grade_reason.chars().count() > 2000 {
            return Err(invalid("grade_reason", "at most 2,000 characters"));
        }
        let potential_harm = req.potential_harm.trim().to_owned();
        if potential_harm.chars().count() > 2000 {
            return Err(invalid("potential_harm", "at most 2,000 characters"));
        }
        if event == Identification::Reject && !potential_harm.is_empty() {
            return Err(invalid(
                "potential_harm",
                "only a confirmed threat's harm is assessed for its notices (2009 mechanism Art. 8(3))",
            ));
        }
        if event == Identification::Reject && !grade_reason.is_empty() {
            return Err(invalid(
                "grade_reason",
                "only a confirmed threat is graded (2009 mechanism Art. 7)",
            ));
        }
        let measures = req
            .recommended_measures
            .iter()
            .enumerate()
            .map(|(i, m)| measure(i, m))
            .collect::<Result<Vec<_>, _>>()?;

        let now = self.clock.now();
        let mut tx = self.store.begin().await.map_err(internal)?;
        let Some((status, category)) = ids::lock_threat(&self.store, &mut tx, &threat_id)
            .await
            .map_err(internal)?
        else {
            return Err(Status::not_found(format!(
                "threat {threat_id} does not exist"
            )));
        };
        let current =
            ThreatStatus::from_i64(status).ok_or_else(|| internal("unknown threat status"))?;
        let next = match current.transition(event) {
            Ok(next) => next,
            Err(done) => {
                drop(tx);
                let existing = ids::by_threat(&self.store, &threat_id)
                    .await
                    .map_err(internal)?;
                return match existing {
                    Some(row) if row.request_sha256 == request_sha256 => {
                        Ok(Response::new(pb::IdentifyResponse {
                            identification: Some(body(&row)?),
                        }))
                    }
                    Some(row) => Err(precondition(
                        "ALREADY_IDENTIFIED",
                        &format!("threat:{threat_id}"),
                        format!(
                            "identified by {} at {}: {done}",
                            row.institution,
                            crate::domain::clock::from_micros(row.identified_at).to_rfc3339()
                        ),
                    )),
                    None => Err(precondition(
                        "ALREADY_IDENTIFIED",
                        &format!("threat:{threat_id}"),
                        done.to_string(),
                    )),
                };
            }
        };
        let scale = self.reported_scale(&mut tx, &threat_id).await?;
        if event == Identification::Confirm
            && let Some((by_thresholds, bots)) = scale
            && i64::from(by_thresholds.as_i32()) != grade
            && grade_reason.is_empty()
        {
            let given = EventGrade::from_i32(grade as i32).map_or("?", EventGrade::as_str);
            return Err(invalid(
                "grade_reason",
                format!(
                    "the sightings report {bots} bots, which the thresholds grade {} (2009 mechanism Art. 7); grading it {given} needs a grade_reason",
                    by_thresholds.as_str()
                ),
            ));
        }
        let (reported_bot_count, threshold_grade) = match scale {
            Some((g, bots)) => (bots, g.as_i32()),
            None => (0, 0),
        };
        let identification = pb::Identification {
            reported_bot_count,
            threshold_grade,
            grade_reason: grade_reason.clone(),
            potential_harm: potential_harm.clone(),
            id: uuid::Uuid::now_v7().to_string(),
            threat_id: threat_id.clone(),
            outcome: req.outcome,
            grade: grade as i32,
            reason: reason.clone(),
            recommended_measures: measures,
            institution_organisation_id: caller.organisation_id.clone(),
            officer_name: caller.officer.clone().unwrap_or_default(),
            identified_at: Some(timestamp(to_micros(now))),
        };
        let row = IdentificationRow {
            id: identification.id.clone(),
            threat_id: threat_id.clone(),
            outcome: i64::from(req.outcome),
            institution: caller.organisation_id.clone(),
            identified_at: to_micros(now),
            request_sha256,
            body: identification.encode_to_vec(),
        };
        let summary = serde_json::json!({
            "identification_id": row.id,
            "outcome": req.outcome,
            "grade": grade,
            "institution": row.institution,
            "identified_at": row.identified_at,
            "reason": reason,
            "threshold_grade": threshold_grade,
            "grade_reason": grade_reason,
            "potential_harm": potential_harm,
        });
        ids::record(
            &mut tx,
            NewIdentification {
                dialect: self.store.dialect(),
                row: &row,
                status: next as i64,
                grade,
                category,
                summary_json: summary.to_string(),
            },
        )
        .await
        .map_err(internal)?;
        if event == Identification::Confirm {
            super::institution_tasks::create_for_confirmation(
                &mut tx,
                &self.policy,
                &caller.organisation_id,
                &threat_id,
                grade,
                now,
            )
            .await
            .map_err(internal)?;
        }
        audit::append(
            &mut tx,
            self.store.dialect(),
            now,
            &caller.actor(),
            "identification.identify",
            &format!("threat:{threat_id}"),
            summary,
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        self.feed.wake_all();
        Ok(Response::new(pb::IdentifyResponse {
            identification: Some(identification),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_institution_tasks(
        &self,
        request: Request<pb::ListInstitutionTasksRequest>,
    ) -> Result<Response<pb::ListInstitutionTasksResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        Ok(Response::new(
            self.list_tasks(&caller, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn complete_institution_task(
        &self,
        request: Request<pb::CompleteInstitutionTaskRequest>,
    ) -> Result<Response<pb::CompleteInstitutionTaskResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        Ok(Response::new(
            self.complete_task(&caller, request.into_inner()).await?,
        ))
    }
}
