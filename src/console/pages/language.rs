//! The language switch: sets the cookie and goes back.

use axum::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Params;

/// Sets the language cookie and goes back to the page it was chosen on.
pub async fn set_language(Path(code): Path<String>, Query(q): Params) -> Response {
    let lang = if code == "en" { "en" } else { "zh" };
    // Only a path of this site: never an open redirect.
    let back = q
        .get("back")
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .cloned()
        .unwrap_or_else(|| "/".into());
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&back) {
        headers.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!(
        "lang={lang}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=31536000"
    )) {
        headers.insert(header::SET_COOKIE, v);
    }
    response
}
