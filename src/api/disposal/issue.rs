//! IssueDecision (Art. 8): the gRPC edge of [`crate::disposal::decision`]. The request is
//! checked in itself and becomes an [`IssueDecision`]; an [`IssueDecisionError`] becomes
//! its status here.

use prost::Message;
use sha2::{Digest, Sha256};
use tonic::Status;

use super::progress::{calendar_gap, no_signing_key};
use super::{DisposalApi, view};
use crate::api::identification::measure_targets;
use crate::api::{from_timestamp, internal, invalid, precondition};
use crate::auth::Caller;
use crate::disposal::decision::{
    EmergencyCall, IssueDecision, IssueDecisionError, OrderError, OrderedMeasure,
};
use crate::disposal::{DueError, Fault};
use crate::domain::notice;
use crate::domain::policy::TimeLimit;
use crate::pb;

/// A time limit from the contract.
pub fn time_limit(field: &str, t: Option<&pb::TimeLimit>) -> Result<Option<TimeLimit>, Status> {
    crate::disposal::time_limit(t).map_err(|e| invalid(field, e.to_string()))
}

pub fn parse_id(field: &str, raw: &str) -> Result<String, Status> {
    uuid::Uuid::parse_str(raw.trim())
        .map(|u| u.to_string())
        .map_err(|_| invalid(field, "not an id"))
}

/// A list of ids, each named by its index in errors.
pub fn parse_ids(field: &str, raw: &[String]) -> Result<Vec<String>, Status> {
    raw.iter()
        .enumerate()
        .map(|(i, id)| parse_id(&format!("{field}[{i}]"), id))
        .collect()
}

fn text(field: &str, raw: &str, max: usize) -> Result<String, Status> {
    let v = raw.trim();
    if v.chars().count() > max {
        return Err(invalid(field, format!("at most {max} characters")));
    }
    Ok(v.to_owned())
}

impl From<Fault> for Status {
    fn from(f: Fault) -> Status {
        internal(f)
    }
}

impl From<DueError> for Status {
    fn from(e: DueError) -> Status {
        match e {
            DueError::Gap(g) => calendar_gap(&g),
            DueError::Fault(f) => internal(f),
        }
    }
}

impl From<OrderError> for Status {
    fn from(e: OrderError) -> Status {
        match e {
            OrderError::UnknownOrganisation { ref field, .. }
            | OrderError::CallToNonAddressee { ref field, .. }
            | OrderError::CallInFuture { ref field }
            | OrderError::CallTooOld { ref field }
            | OrderError::CallMissing { ref field, .. } => invalid(field, e.to_string()),
            OrderError::OrganisationDisabled { ref field, .. } => {
                precondition("ORGANISATION_DISABLED", field, e.to_string())
            }
            OrderError::Unroutable { ref field, .. } => {
                precondition("UNROUTABLE_TARGET", field, e.to_string())
            }
            OrderError::AddresseeRole { ref field, .. } => {
                precondition("ADDRESSEE_ROLE", field, e.to_string())
            }
            OrderError::OutsideProvince { .. } => Status::permission_denied(e.to_string()),
            OrderError::Fault(f) => internal(f),
        }
    }
}

impl From<IssueDecisionError> for Status {
    fn from(e: IssueDecisionError) -> Status {
        match e {
            IssueDecisionError::RequestIdReused { .. } => Status::already_exists(e.to_string()),
            IssueDecisionError::ThreatNotFound { .. } => Status::not_found(e.to_string()),
            IssueDecisionError::ThreatNotConfirmed { ref threat_id, .. } => precondition(
                "THREAT_NOT_CONFIRMED",
                &format!("threat:{threat_id}"),
                e.to_string(),
            ),
            IssueDecisionError::Order(o) => o.into(),
            IssueDecisionError::NoSigningKey(k) => no_signing_key(&k),
            IssueDecisionError::Calendar(g) => calendar_gap(&g),
            IssueDecisionError::Settle(s) => s.into(),
            IssueDecisionError::Fault(f) => internal(f),
        }
    }
}

/// The measures of a request, each checked in itself; `list_field` names the list.
///
/// # Errors
/// INVALID_ARGUMENT naming the field of the first fault.
pub fn ordered_measures(
    list_field: &str,
    raw: &[pb::DecisionMeasure],
) -> Result<Vec<OrderedMeasure>, Status> {
    raw.iter()
        .enumerate()
        .map(|(i, m)| ordered_measure(&format!("{list_field}[{i}]"), m))
        .collect()
}

fn ordered_measure(prefix: &str, m: &pb::DecisionMeasure) -> Result<OrderedMeasure, Status> {
    let field = |f: &str| format!("{prefix}.{f}");
    let (measure_type, targets) = measure_targets(prefix, m.measure_type, &m.targets)?;
    let addressee = Some(m.addressee_organisation_id.trim())
        .filter(|a| !a.is_empty())
        .map(str::to_owned);
    if addressee.is_none()
        && measure_type != pb::MeasureType::StopServiceOrBlock
        && measure_type != pb::MeasureType::Other
    {
        return Err(invalid(
            &field("addressee_organisation_id"),
            "required for Art. 8(2) and 8(3): the provider whose network or system is to be cleaned or rectified",
        ));
    }
    let time_limit = time_limit(&field("time_limit"), m.time_limit.as_ref())?;
    if !m.emergency && !m.emergency_calls.is_empty() {
        return Err(invalid(
            &field("emergency_calls"),
            "only an emergency measure records phone calls (Art. 8, last paragraph)",
        ));
    }
    let mut calls = Vec::with_capacity(m.emergency_calls.len());
    for (k, c) in m.emergency_calls.iter().enumerate() {
        let cf = |f: &str| field(&format!("emergency_calls[{k}].{f}"));
        let called_at = from_timestamp(
            &cf("called_at"),
            c.called_at
                .as_ref()
                .ok_or_else(|| invalid(&cf("called_at"), "required"))?,
        )?;
        let called_person = text(&cf("called_person"), &c.called_person, 200)?;
        if called_person.is_empty() {
            return Err(invalid(
                &cf("called_person"),
                "who took the call is required",
            ));
        }
        calls.push(EmergencyCall {
            addressee: c.addressee_organisation_id.trim().to_owned(),
            called_at,
            called_person,
        });
    }
    let protected_system = match &m.protected_system {
        None => None,
        Some(_) if measure_type != pb::MeasureType::Rectify => {
            return Err(invalid(
                &field("protected_system"),
                "only an Art. 8(3) rectification concerns a protected system",
            ));
        }
        Some(p) => Some(protected_system(&field("protected_system"), p)?),
    };
    let legal_basis = match text(&field("legal_basis"), &m.legal_basis, 500)? {
        b if b.is_empty() => notice::default_legal_basis(measure_type as i32).to_owned(),
        b => b,
    };
    Ok(OrderedMeasure {
        measure_type,
        targets,
        addressee,
        time_limit,
        emergency: m.emergency,
        calls,
        protected_system,
        legal_basis,
        instructions: text(&field("instructions"), &m.instructions, 4000)?,
    })
}

/// Art. 8(3): a protected system as named in the request, with every party its kind
/// requires informed. The organisations named are checked by the workflow.
fn protected_system(field: &str, p: &pb::ProtectedSystem) -> Result<pb::ProtectedSystem, Status> {
    let kind = match pb::ProtectedSystemKind::try_from(p.kind) {
        Ok(k) if k != pb::ProtectedSystemKind::Unspecified => k,
        _ => {
            return Err(invalid(
                &format!("{field}.kind"),
                "party or government organ, critical information infrastructure, or important information system",
            ));
        }
    };
    let mut out = pb::ProtectedSystem {
        kind: kind as i32,
        system_name: text(&format!("{field}.system_name"), &p.system_name, 300)?,
        operator_name: text(&format!("{field}.operator_name"), &p.operator_name, 300)?,
        informational_addressees: Vec::new(),
        marked_organisation_id: String::new(),
    };
    for (i, a) in p.informational_addressees.iter().enumerate() {
        let af = |f: &str| format!("{field}.informational_addressees[{i}].{f}");
        let k = match pb::InformationalAddresseeKind::try_from(a.kind) {
            Ok(pb::InformationalAddresseeKind::ResourceHolder) => {
                return Err(invalid(
                    &af("kind"),
                    "resource holders are informed by the server from the ownership registry (Art. 10), never named",
                ));
            }
            Ok(k) if k != pb::InformationalAddresseeKind::Unspecified => k,
            _ => return Err(invalid(&af("kind"), "required")),
        };
        let organisation_id = a.organisation_id.trim().to_owned();
        let name = text(&af("name"), &a.name, 300)?;
        if name.is_empty() && organisation_id.is_empty() {
            return Err(invalid(
                &af("name"),
                "required for an addressee off the platform",
            ));
        }
        out.informational_addressees
            .push(pb::InformationalAddressee {
                kind: k as i32,
                organisation_id,
                name,
                contact: text(&af("contact"), &a.contact, 300)?,
            });
    }
    for required in notice::required_informational_kinds(kind as i32) {
        if !out
            .informational_addressees
            .iter()
            .any(|a| a.kind == *required)
        {
            let name = pb::InformationalAddresseeKind::try_from(*required)
                .map(|k| k.as_str_name())
                .unwrap_or("?");
            return Err(invalid(
                &format!("{field}.informational_addressees"),
                format!(
                    "Art. 8(3): a case involving a {} also informs {name}",
                    kind.as_str_name()
                ),
            ));
        }
    }
    Ok(out)
}

/// 2009 mechanism Art. 17: a referral to public security, checked in itself.
fn referral(r: &pb::PublicSecurityReferral) -> Result<pb::PublicSecurityReferral, Status> {
    let a = r.addressee.clone().unwrap_or_default();
    let field = |f: &str| format!("public_security_referral.{f}");
    if !matches!(
        pb::InformationalAddresseeKind::try_from(a.kind),
        Ok(pb::InformationalAddresseeKind::Unspecified
            | pb::InformationalAddresseeKind::PublicSecurity)
    ) {
        return Err(invalid(
            &field("addressee.kind"),
            "PUBLIC_SECURITY (or unset)",
        ));
    }
    let organisation_id = a.organisation_id.trim().to_owned();
    let name = text(&field("addressee.name"), &a.name, 300)?;
    if organisation_id.is_empty() && name.is_empty() {
        return Err(invalid(
            &field("addressee.name"),
            "required for a public security organ off the platform",
        ));
    }
    let offence = text(&field("suspected_offence"), &r.suspected_offence, 1000)?;
    if offence.is_empty() {
        return Err(invalid(
            &field("suspected_offence"),
            "required: what crime is suspected (2009 mechanism Art. 17)",
        ));
    }
    Ok(pb::PublicSecurityReferral {
        addressee: Some(pb::InformationalAddressee {
            kind: pb::InformationalAddresseeKind::PublicSecurity as i32,
            organisation_id,
            name,
            contact: text(&field("addressee.contact"), &a.contact, 300)?,
        }),
        suspected_offence: offence,
    })
}

/// An IssueDecision request as the workflow's command.
fn command(req: &pb::IssueDecisionRequest) -> Result<IssueDecision, Status> {
    let request_sha256 = hex::encode(Sha256::digest(req.encode_to_vec()));
    let request_id = req.request_id.trim().to_owned();
    if request_id.is_empty() || request_id.chars().count() > 100 {
        return Err(invalid(
            "request_id",
            "1 to 100 characters: the decision's idempotency key",
        ));
    }
    let threat_id = parse_id("threat_id", &req.threat_id)?;
    if req.measures.is_empty() {
        return Err(invalid(
            "measures",
            "a decision orders at least one measure (Art. 8)",
        ));
    }
    if req.measures.len() > 50 {
        return Err(invalid("measures", "at most 50 measures per decision"));
    }
    Ok(IssueDecision {
        resolves_review_item_ids: parse_ids(
            "resolves_review_item_ids",
            &req.resolves_review_item_ids,
        )?,
        measures: ordered_measures("measures", &req.measures)?,
        referral: req
            .public_security_referral
            .as_ref()
            .map(referral)
            .transpose()?,
        request_id,
        request_sha256,
        threat_id,
    })
}

impl DisposalApi {
    pub(super) async fn issue(
        &self,
        caller: &Caller,
        req: pb::IssueDecisionRequest,
    ) -> Result<pb::IssueDecisionResponse, Status> {
        let issued = self.workflow.issue_decision(caller, command(&req)?).await?;
        Ok(pb::IssueDecisionResponse {
            decision_id: issued.decision_id,
            notices: view::notices(&issued.notices, &issued.targets),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::threat::ThreatStatus;

    #[test]
    fn a_threat_not_confirmed_is_refused_saying_whether_it_was_rejected_or_is_waiting() {
        let refusal = |status| {
            Status::from(IssueDecisionError::ThreatNotConfirmed {
                threat_id: "t".into(),
                status,
            })
        };
        let rejected = refusal(ThreatStatus::Rejected);
        assert_eq!(rejected.code(), tonic::Code::FailedPrecondition);
        assert!(rejected.message().contains("was rejected"), "{rejected:?}");
        let waiting = refusal(ThreatStatus::Unidentified);
        assert!(
            waiting.message().contains("is not yet identified"),
            "{waiting:?}"
        );
    }
}
