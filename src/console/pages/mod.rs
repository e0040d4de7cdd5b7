//! The console's pages: each calls the RPCs it names (in-process, as the caller the auth
//! layer admits for that RPC) and renders the answer. This module holds what the pages
//! share (paging, filters, banners); each page lives in the module named after it.

mod appeals;
mod bulletins;
mod compliance;
mod dashboard;
mod language;
mod notices;
mod threats;

use std::collections::HashMap;

use axum::extract::Query;
use axum::response::Response;

use super::PageError;
use crate::pb;

pub use appeals::{appeal, appeals};
pub use bulletins::{bulletin_document, bulletins};
pub use compliance::non_compliance;
pub use dashboard::dashboard;
pub use language::set_language;
pub use notices::{notice, notices};
pub use threats::{identification_queue, threat, threats};

type Page = Result<Response, PageError>;
type Params = Query<HashMap<String, String>>;

const PAGE_SIZE: u32 = 50;

fn page_request(q: &HashMap<String, String>) -> Option<pb::PageRequest> {
    Some(pb::PageRequest {
        page_size: PAGE_SIZE,
        page_token: q.get("page_token").cloned().unwrap_or_default(),
    })
}

/// The query string of the next page: the same filters, the next token.
fn next_page(q: &HashMap<String, String>, token: &str) -> String {
    if token.is_empty() {
        return String::new();
    }
    let mut q = q.clone();
    q.insert("page_token".into(), token.to_owned());
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    let mut keys: Vec<_> = q.iter().filter(|(_, v)| !v.is_empty()).collect();
    keys.sort();
    for (k, v) in keys {
        url.append_pair(k, v);
    }
    format!("?{}", url.finish())
}

/// An enum filter from the query: its wire name, or 0 (any).
fn enum_filter(q: &HashMap<String, String>, key: &str, parse: fn(&str) -> Option<i32>) -> i32 {
    q.get(key).and_then(|v| parse(v)).unwrap_or(0)
}

/// The banner an action's redirect asks for (a key of the word table, nothing else).
fn done(q: &HashMap<String, String>) -> &'static str {
    match q.get("done").map(String::as_str) {
        Some("identified") => "identified",
        Some("decision_issued") => "decision_issued",
        Some("answered") => "answered",
        Some("acknowledged") => "acknowledged",
        Some("reported") => "reported",
        Some("verified") => "verified",
        _ => "",
    }
}

fn param(q: &HashMap<String, String>, key: &str) -> String {
    q.get(key).map(|v| v.trim().to_owned()).unwrap_or_default()
}
