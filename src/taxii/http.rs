//! TAXII 2.1's HTTP rules: the media type (section 1.6.8: 406 / 415), error messages
//! (section 3.6.1) and the status codes of section 3.6.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The media type of every TAXII request and answer.
pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
/// The media type of the objects a collection holds.
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";

/// Why a TAXII request was not answered; one variant per rule.
#[derive(Debug, thiserror::Error)]
pub enum TaxiiError {
    #[error("the Accept header must name {TAXII_MEDIA_TYPE} (or application/taxii+json)")]
    NotAcceptable,
    #[error("the Content-Type must be {TAXII_MEDIA_TYPE} (or application/taxii+json)")]
    UnsupportedMediaType,
    /// A parameter or the body is wrong in itself.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("the request body is larger than {max} bytes: send fewer objects per envelope")]
    TooLarge { max: usize },
    #[error("{0}")]
    Unauthenticated(String),
    /// Wrong role, or a collection the caller may not read or write.
    #[error("{0}")]
    Forbidden(String),
    /// Absent, or invisible to this caller.
    #[error("{0}")]
    NotFound(String),
    /// Unexpected; the cause went to the log.
    #[error("internal error; the server log has the details")]
    Internal,
}

impl TaxiiError {
    pub fn invalid(field: &str, reason: impl Into<String>) -> TaxiiError {
        TaxiiError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Logs an unexpected failure with its cause and answers 500.
    pub fn internal(e: impl std::fmt::Display) -> TaxiiError {
        tracing::error!(error = %e, "TAXII: internal error");
        TaxiiError::Internal
    }

    fn status(&self) -> (StatusCode, &'static str) {
        match self {
            TaxiiError::NotAcceptable => (StatusCode::NOT_ACCEPTABLE, "Not Acceptable"),
            TaxiiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported Media Type")
            }
            TaxiiError::Invalid { .. } => (StatusCode::BAD_REQUEST, "Bad Request"),
            TaxiiError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large"),
            TaxiiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "Unauthorized"),
            TaxiiError::Forbidden(_) => (StatusCode::FORBIDDEN, "Forbidden"),
            TaxiiError::NotFound(_) => (StatusCode::NOT_FOUND, "Not Found"),
            TaxiiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        }
    }
}

/// The gRPC auth layer's refusals, as TAXII answers them.
impl From<tonic::Status> for TaxiiError {
    fn from(s: tonic::Status) -> TaxiiError {
        match s.code() {
            tonic::Code::Unauthenticated => TaxiiError::Unauthenticated(s.message().into()),
            tonic::Code::PermissionDenied => TaxiiError::Forbidden(s.message().into()),
            tonic::Code::NotFound => TaxiiError::NotFound(s.message().into()),
            _ => TaxiiError::internal(s.message()),
        }
    }
}

impl IntoResponse for TaxiiError {
    fn into_response(self) -> Response {
        let (code, title) = self.status();
        let body = json!({
            "title": title,
            "description": self.to_string(),
            "http_status": code.as_u16().to_string(),
        });
        taxii_json(code, &body, HeaderMap::new())
    }
}

/// A TAXII answer: JSON in the TAXII media type.
pub fn taxii_json(code: StatusCode, body: &Value, mut headers: HeaderMap) -> Response {
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(TAXII_MEDIA_TYPE),
    );
    (code, headers, body.to_string()).into_response()
}

/// Whether a media type names TAXII 2.1: `application/taxii+json` with no version or 2.1.
fn is_taxii(media: &str) -> bool {
    let mut parts = media.split(';').map(str::trim);
    if !parts
        .next()
        .is_some_and(|t| t.eq_ignore_ascii_case("application/taxii+json"))
    {
        return false;
    }
    parts.all(|p| match p.split_once('=') {
        Some((k, v)) if k.trim().eq_ignore_ascii_case("version") => {
            v.trim().trim_matches('"') == "2.1"
        }
        _ => true,
    })
}

/// 406 unless the Accept header names TAXII 2.1.
pub fn check_accept(headers: &HeaderMap) -> Result<(), TaxiiError> {
    let ok = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(is_taxii);
    if ok {
        Ok(())
    } else {
        Err(TaxiiError::NotAcceptable)
    }
}

/// 415 unless the body is declared TAXII 2.1.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), TaxiiError> {
    match headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        Some(v) if is_taxii(v) => Ok(()),
        _ => Err(TaxiiError::UnsupportedMediaType),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taxii_media_types_are_recognised_with_or_without_the_version() {
        assert!(is_taxii("application/taxii+json;version=2.1"));
        assert!(is_taxii("application/taxii+json; version=2.1"));
        assert!(is_taxii("application/taxii+json"));
        assert!(!is_taxii("application/taxii+json;version=2.0"));
        assert!(!is_taxii("application/json"));
        assert!(!is_taxii("*/*"));
    }
}
