//! FileAppeal and AnswerAppeal requests as the workflows' commands: everything wrong in
//! itself is refused here, naming the field.

use prost::Message;
use sha2::{Digest, Sha256};
use tonic::Status;

use crate::api::calendar::date_from_pb;
use crate::api::disposal::issue::{self, parse_id};
use crate::api::invalid;
use crate::appeals::answer::{AnswerAppeal, AppealDecision};
use crate::appeals::filing::{Appellant, FileAppeal};
use crate::pb;

/// The customer's mandate an addressee attaches when it appeals for a customer (Art. 10: the
/// appeal is the customer's, so the addressee shows it was asked to file it).
fn mandate(m: Option<&pb::CustomerMandate>) -> Result<pb::CustomerMandate, Status> {
    let why = "Art. 10: an addressee appealing for its customer attaches the customer's mandate";
    let m = m.ok_or_else(|| invalid("mandate", format!("{why}: required")))?;
    let digest = m.document_sha256.trim().to_ascii_lowercase();
    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(
            "mandate.document_sha256",
            format!("{why}: the SHA-256 of the signed mandate, 64 hex digits"),
        ));
    }
    let contact = m.customer_contact.trim();
    if contact.is_empty() || contact.chars().count() > 200 {
        return Err(invalid(
            "mandate.customer_contact",
            format!("{why}: how to reach the customer, 1 to 200 characters"),
        ));
    }
    Ok(pb::CustomerMandate {
        document_sha256: digest,
        customer_contact: contact.to_owned(),
    })
}

/// A mandate belongs only to a filing for a customer.
fn no_mandate(req: &pb::FileAppealRequest) -> Result<(), Status> {
    match req.mandate {
        Some(_) => Err(invalid(
            "mandate",
            "only an addressee appealing for its customer attaches a mandate",
        )),
        None => Ok(()),
    }
}

fn identity(
    field: &str,
    a: Option<&pb::AppellantIdentity>,
    need_number: bool,
) -> Result<pb::AppellantIdentity, Status> {
    let a = a.ok_or_else(|| invalid(field, "required"))?;
    let check = |f: &str, v: &str, required: bool| -> Result<String, Status> {
        let v = v.trim();
        if required && v.is_empty() {
            return Err(invalid(&format!("{field}.{f}"), "required"));
        }
        if v.chars().count() > 200 {
            return Err(invalid(&format!("{field}.{f}"), "at most 200 characters"));
        }
        Ok(v.to_owned())
    };
    Ok(pb::AppellantIdentity {
        name: check("name", &a.name, true)?,
        identity_number: check("identity_number", &a.identity_number, need_number)?,
        contact: check("contact", &a.contact, true)?,
    })
}

/// A FileAppeal request as the workflow's command: everything wrong in itself is refused
/// here, naming the field.
pub(super) fn file_command(req: pb::FileAppealRequest) -> Result<FileAppeal, Status> {
    use pb::file_appeal_request::Appellant as A;
    let notice_id = parse_id("notice_id", &req.notice_id)?;
    let target_id = parse_id("target_id", &req.target_id)?;
    let grounds = req.grounds.trim().to_owned();
    if grounds.is_empty() || grounds.chars().count() > 8000 {
        return Err(invalid(
            "grounds",
            "why the measure is wrong: 1 to 8000 characters",
        ));
    }
    if req.evidence.len() > 20 {
        return Err(invalid("evidence", "at most 20 items"));
    }
    for (i, e) in req.evidence.iter().enumerate() {
        if e.description.trim().is_empty() {
            return Err(invalid(&format!("evidence[{i}].description"), "required"));
        }
        if let Some(pb::evidence_item::Content::Data(d)) = &e.content
            && d.len() > 1024 * 1024
        {
            return Err(invalid(
                &format!("evidence[{i}].data"),
                "at most 1 MiB inline",
            ));
        }
    }
    let appellant = match &req.appellant {
        None => {
            return Err(invalid(
                "appellant",
                "an affected party, a customer named by the addressee, or a recorded paper or phone appeal",
            ));
        }
        Some(A::AffectedParty(f)) => {
            let contact = f.contact.trim();
            if contact.is_empty() || contact.chars().count() > 200 {
                return Err(invalid(
                    "affected_party.contact",
                    "who receives the answer: 1 to 200 characters",
                ));
            }
            no_mandate(&req)?;
            Appellant::AffectedParty {
                contact: contact.to_owned(),
            }
        }
        Some(A::Customer(c)) => Appellant::Customer {
            person: identity("customer", Some(c), true)?,
            mandate: mandate(req.mandate.as_ref())?,
        },
        Some(A::Recorded(r)) => {
            let person = identity("recorded.appellant", r.appellant.as_ref(), false)?;
            let channel = match pb::AppealChannel::try_from(r.channel) {
                Ok(c) if c != pb::AppealChannel::Unspecified => c,
                _ => return Err(invalid("recorded.channel", "paper or phone")),
            };
            let received_on = date_from_pb("recorded.received_on", r.received_on.as_ref())?;
            no_mandate(&req)?;
            Appellant::Recorded {
                person,
                channel,
                received_on,
            }
        }
    };
    Ok(FileAppeal {
        notice_id,
        target_id,
        grounds,
        evidence: req.evidence,
        appellant,
    })
}
/// An AnswerAppeal request as the workflow's command.
pub(super) fn answer_command(req: &pb::AnswerAppealRequest) -> Result<AnswerAppeal, Status> {
    let appeal_id = parse_id("appeal_id", &req.appeal_id)?;
    let kind = match pb::AppealDecision::try_from(req.decision) {
        Ok(d) if d != pb::AppealDecision::Unspecified => d,
        _ => return Err(invalid("decision", "upheld, revoked or modified (Art. 10)")),
    };
    let reasons = req.reasons.trim().to_owned();
    if reasons.is_empty() || reasons.chars().count() > 8000 {
        return Err(invalid(
            "reasons",
            "the answer gives its reasons: 1 to 8000 characters",
        ));
    }
    let modified = kind == pb::AppealDecision::Modified;
    if modified && req.replacement_measures.is_empty() {
        return Err(invalid(
            "replacement_measures",
            "a modified measure names its replacement",
        ));
    }
    if !modified && !req.replacement_measures.is_empty() {
        return Err(invalid(
            "replacement_measures",
            "only a MODIFIED answer carries replacement measures",
        ));
    }
    let decision = match kind {
        pb::AppealDecision::Modified => AppealDecision::Modified {
            replacements: issue::ordered_measures(
                "replacement_measures",
                &req.replacement_measures,
            )?,
        },
        pb::AppealDecision::Revoked => AppealDecision::Revoked,
        _ => AppealDecision::Upheld,
    };
    Ok(AnswerAppeal {
        appeal_id,
        decision,
        reasons,
        lift_limit: issue::time_limit("lift_time_limit", req.lift_time_limit.as_ref())?,
        request_sha256: Sha256::digest(req.encode_to_vec()).into(),
    })
}
