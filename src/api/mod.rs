//! The gRPC edge: one tonic service per proto service. Handlers are thin:
//! convert, authorize (the layer has resolved the [`crate::auth::Caller`]),
//! call the store or domain, convert back.

pub mod appeal;
pub mod audit;
pub mod bulletins;
pub mod calendar;
pub mod contacts;
pub mod disposal;
pub mod identification;
pub mod institution_tasks;
pub mod operations;
pub mod ownership;
pub mod protection;
pub mod registry;
pub mod statistics;
pub mod streams;
pub mod threat;
pub mod trailers;

use std::fmt::Display;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::echo::{ECHO_LIMIT, shorten};
use crate::pb;
use crate::store::page;

/// Of a refusal's description: room for a quoted value ([`ECHO_LIMIT`]) and the reason.
const DESCRIPTION_LIMIT: usize = 500;

/// An unexpected failure: the cause goes to the log, the caller gets a generic message.
pub fn internal(e: impl Display) -> Status {
    tracing::error!(error = %e, "internal error");
    Status::internal("internal error; the server log has the details")
}

/// Input wrong in itself: INVALID_ARGUMENT with a BadRequest field violation.
pub fn invalid(field: &str, description: impl Into<String>) -> Status {
    let field = shorten(field, ECHO_LIMIT);
    let description = shorten(&description.into(), DESCRIPTION_LIMIT).into_owned();
    Status::with_error_details(
        Code::InvalidArgument,
        format!("{field}: {description}"),
        ErrorDetails::with_bad_request_violation(field.into_owned(), description),
    )
}

/// Well-formed but refused by the current state: FAILED_PRECONDITION with a PreconditionFailure.
pub fn precondition(kind: &str, subject: &str, description: impl Into<String>) -> Status {
    let subject = shorten(subject, ECHO_LIMIT);
    let description = shorten(&description.into(), DESCRIPTION_LIMIT).into_owned();
    Status::with_error_details(
        Code::FailedPrecondition,
        format!("{subject}: {description}"),
        ErrorDetails::with_precondition_failure_violation(kind, subject.into_owned(), description),
    )
}

/// Page size and the decoded token of a list request.
pub fn page(request: Option<&pb::PageRequest>) -> Result<(u32, String), Status> {
    let (size, token) = request
        .map(|p| (p.page_size, p.page_token.as_str()))
        .unwrap_or((0, ""));
    let size = match size {
        0 => page::DEFAULT_SIZE,
        n if n <= page::MAX_SIZE => n,
        n => {
            return Err(invalid(
                "page.page_size",
                format!("must be at most {} (got {n})", page::MAX_SIZE),
            ));
        }
    };
    let token = page::decode(token)
        .ok_or_else(|| invalid("page.page_token", "not a token this server issued"))?;
    Ok((size, token))
}

/// The next-page token when a page came back full.
pub fn next_page_token(len: usize, size: u32, last_key: Option<&str>) -> String {
    match last_key {
        Some(k) if len == size as usize => page::encode(k),
        _ => String::new(),
    }
}

pub use crate::pb::timestamp;

pub fn optional_timestamp(micros: Option<i64>) -> Option<prost_types::Timestamp> {
    micros.map(timestamp)
}

pub fn from_timestamp(
    field: &str,
    ts: &prost_types::Timestamp,
) -> Result<chrono::DateTime<chrono::Utc>, Status> {
    chrono::DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).unwrap_or(u32::MAX))
        .ok_or_else(|| invalid(field, "not a valid timestamp"))
}
