//! Intake outcomes as the contract's acknowledgements, a refusal with its status and field.

use tonic::Status;

use crate::api::invalid;
use crate::pb;
use crate::store::threats::{IngestOutcome, Refusal};

pub(super) fn ack(submission_id: String, outcome: IngestOutcome) -> pb::SubmissionAck {
    match outcome {
        IngestOutcome::Stored {
            threat_id,
            sighting_id,
            created_threat,
            committed_at,
            replayed,
        } => pb::SubmissionAck {
            submission_id,
            outcome: if created_threat {
                pb::SubmissionOutcome::Accepted
            } else {
                pb::SubmissionOutcome::Merged
            } as i32,
            threat_id,
            sighting_id,
            replayed,
            committed_at: Some(super::super::timestamp(committed_at)),
            refusal: None,
        },
        IngestOutcome::Refused(r) => {
            let status = refusal_status(&r);
            refused(submission_id, &status, refusal_field(&r))
        }
    }
}

fn refusal_field(r: &Refusal) -> &'static str {
    r.field()
}

pub(crate) fn refusal_status(r: &Refusal) -> Status {
    match r {
        Refusal::Conflict { .. } => Status::already_exists(r.reason()),
        Refusal::UnknownThreat { .. } => Status::not_found(r.reason()),
        Refusal::CategoryMismatch { .. } => invalid(r.field(), r.reason()),
    }
}

pub(super) fn refused(submission_id: String, status: &Status, field: &str) -> pb::SubmissionAck {
    pb::SubmissionAck {
        submission_id,
        outcome: pb::SubmissionOutcome::Refused as i32,
        refusal: Some(pb::Refusal {
            code: status.code() as i32,
            field: field.into(),
            reason: status.message().into(),
        }),
        ..Default::default()
    }
}
