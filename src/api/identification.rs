//! IdentificationService (Art. 7): the gRPC edge of [`crate::identification`]. A request
//! becomes an [`IdentifyThreat`]; an [`IdentifyError`] becomes its status here.

use prost::Message;
use sha2::{Digest, Sha256};
use tonic::{Request, Response, Status};

use super::{internal, invalid, page, precondition};
use crate::auth::Caller;
use crate::domain::grading::EventGrade;
use crate::domain::measure::{Measure, MeasureError};
use crate::domain::threat::visibility::Reader;
use crate::identification::{
    Identifications, IdentifyError, IdentifyThreat, RecommendedMeasure, Verdict,
};
use crate::pb;
use crate::pb::identification_service_server::IdentificationService;
use crate::store::identifications::{self as ids, IdentificationRow};
use crate::store::threats;

pub struct IdentificationApi {
    pub workflow: Identifications,
}

impl From<IdentifyError> for Status {
    fn from(e: IdentifyError) -> Status {
        match e {
            IdentifyError::ThreatNotFound { .. } => Status::not_found(e.to_string()),
            IdentifyError::AlreadyIdentified { ref threat_id, .. }
            | IdentifyError::AlreadyIdentifiedUnrecorded { ref threat_id, .. } => precondition(
                "ALREADY_IDENTIFIED",
                &format!("threat:{threat_id}"),
                e.to_string(),
            ),
            IdentifyError::GradeNeedsReason { .. } => invalid("grade_reason", e.to_string()),
            IdentifyError::UnknownStatus { .. }
            | IdentifyError::Storage(_)
            | IdentifyError::Tasks(_) => internal(e),
        }
    }
}

/// A measure parsed from the contract; `prefix` names the measure's field in errors.
///
/// # Errors
/// INVALID_ARGUMENT naming the field of the first [`MeasureError`].
pub fn parse_measure(
    prefix: &str,
    measure_type: i32,
    targets: &[pb::MeasureTarget],
) -> Result<Measure, Status> {
    Measure::parse(
        measure_type,
        targets.iter().map(|t| (t.kind, t.value.as_str())),
    )
    .map_err(|e: MeasureError| invalid(&format!("{prefix}.{}", e.field()), e.to_string()))
}

/// A measure type and its targets, normalised as at intake, as the contract carries them.
pub fn measure_targets(
    prefix: &str,
    measure_type: i32,
    raw_targets: &[pb::MeasureTarget],
) -> Result<(pb::MeasureType, Vec<pb::MeasureTarget>), Status> {
    let measure = parse_measure(prefix, measure_type, raw_targets)?;
    let kind = pb::MeasureType::try_from(measure.measure_type() as i32)
        .map_err(|_| internal("a measure type the contract lacks"))?;
    Ok((kind, crate::identification::measure_targets(&measure)))
}

/// An Identify request as the workflow's command.
fn command(req: &pb::IdentifyRequest) -> Result<IdentifyThreat, Status> {
    let request_sha256 = hex::encode(Sha256::digest(req.encode_to_vec()));
    let threat_id = uuid::Uuid::parse_str(req.threat_id.trim())
        .map_err(|_| invalid("threat_id", "not a threat id"))?
        .to_string();
    let confirmed = match pb::IdentificationOutcome::try_from(req.outcome) {
        Ok(pb::IdentificationOutcome::Confirmed) => true,
        Ok(pb::IdentificationOutcome::Rejected) => false,
        _ => return Err(invalid("outcome", "CONFIRMED or REJECTED (Art. 7)")),
    };
    let grade = EventGrade::from_i32(req.grade);
    if confirmed && grade.is_none() {
        return Err(invalid(
            "grade",
            "a confirmed threat is graded: particularly serious, serious, major or general",
        ));
    }
    let reason = req.reason.trim().to_owned();
    if !confirmed && reason.is_empty() {
        return Err(invalid(
            "reason",
            "a rejection gives its reason: the submitters and the feed see it",
        ));
    }
    if !confirmed && !req.recommended_measures.is_empty() {
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
    if !confirmed && !potential_harm.is_empty() {
        return Err(invalid(
            "potential_harm",
            "only a confirmed threat's harm is assessed for its notices (2009 mechanism Art. 8(3))",
        ));
    }
    if !confirmed && !grade_reason.is_empty() {
        return Err(invalid(
            "grade_reason",
            "only a confirmed threat is graded (2009 mechanism Art. 7)",
        ));
    }
    let measures = req
        .recommended_measures
        .iter()
        .enumerate()
        .map(|(i, m)| {
            Ok(RecommendedMeasure {
                measure: parse_measure(
                    &format!("recommended_measures[{i}]"),
                    m.measure_type,
                    &m.targets,
                )?,
                rationale: m.rationale.trim().to_owned(),
            })
        })
        .collect::<Result<Vec<_>, Status>>()?;
    let verdict = match grade {
        Some(grade) if confirmed => Verdict::Confirmed {
            grade,
            grade_reason,
            potential_harm,
            measures,
        },
        _ => Verdict::Rejected,
    };
    Ok(IdentifyThreat {
        threat_id,
        verdict,
        reason,
        request_sha256,
    })
}

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
            &self.workflow.store,
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
        let rows = threats::unidentified(&self.workflow.store, &reader, category, &after, size)
            .await
            .map_err(internal)?;
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let stats = threats::sighting_stats(&self.workflow.store, &ids, &reader)
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
                ids::by_id(&self.workflow.store, &parse("identification_id", &id)?).await
            }
            Some(pb::get_identification_request::Key::ThreatId(id)) => {
                ids::by_threat(&self.workflow.store, &parse("threat_id", &id)?).await
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
        let command = command(request.get_ref())?;
        let identified = self.workflow.identify(&caller, command).await?;
        Ok(Response::new(pb::IdentifyResponse {
            identification: Some(body(&identified.row)?),
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
