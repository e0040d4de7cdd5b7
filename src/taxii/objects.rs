//! The feed collection's objects: filters (TAXII 2.1 section 3.4), the `next` cursor over
//! commit order, and one listing that objects/, manifest/, objects/{id}/ and versions/ share.
//!
//! Each visible sighting is served as the objects that belong to it alone
//! (`stix::export::sighting_objects`), all added at its commit: `date_added` is the commit
//! time, and the cursor is (feed position, index of the object in the sighting). Positions
//! follow commit order, so paging never skips or repeats an object, however many share one
//! `date_added`. `match[id]` (and the object routes) read only the sightings the object-id
//! index names (`store::taxii`), under the same TLP rule.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::http::TaxiiError;
use crate::api::threat::view;
use crate::domain::clock::{from_micros, to_micros};
use crate::domain::threat::visibility::Reader;
use crate::stix::service::{ordered_measure, threats_of};
use crate::stix::{export, parse_stix_time, stix_time};
use crate::store::Store;
use crate::store::taxii::{NoticeReader, visible_measures, visible_sightings_committed};

/// Objects per page when the request names no `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// The most objects one page holds; a larger `limit` is lowered to it (section 3.4.1 lets
/// the server return fewer than asked).
pub const MAX_LIMIT: usize = 1000;
/// The most ids one `match[id]` names: each is a bound parameter of the index lookup.
pub const MAX_IDS: usize = 1000;
/// Sightings read per query while a page fills.
const SCAN_BATCH: u32 = 500;

/// Which versions of an object `match[version]` asks for. Every object fenghuo serves has
/// one version (its `modified`), so first, last and all name the same one.
#[derive(Debug, Clone, Default, PartialEq)]
struct Versions {
    any: bool,
    at: Vec<DateTime<Utc>>,
}

/// The parameters of a listing, checked.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub added_after: Option<i64>,
    ids: Vec<String>,
    types: Vec<String>,
    versions: Versions,
    spec_versions: Vec<String>,
    pub limit: usize,
    next: Option<String>,
    /// The listing's own fixed conditions (an object id in the path): part of the token.
    scope: String,
}

/// Where a page starts: the feed position and the index of the object within that sighting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    pub position: i64,
    pub index: usize,
}

fn list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

impl Filters {
    /// Parses a query string; `scope` is a fixed condition of the route (an object id).
    ///
    /// # Errors
    /// A parameter wrong in itself, named with its rule.
    pub fn parse(query: Option<&str>, scope: &str) -> Result<Filters, TaxiiError> {
        let mut f = Filters {
            limit: DEFAULT_LIMIT,
            versions: Versions {
                any: true,
                at: Vec::new(),
            },
            scope: scope.to_owned(),
            ..Filters::default()
        };
        if !scope.is_empty() {
            f.ids.push(scope.to_owned());
        }
        let mut versions_named = false;
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match key.as_ref() {
                "limit" => {
                    let n: usize = value.trim().parse().map_err(|_| {
                        TaxiiError::invalid(
                            "limit",
                            "a positive integer (at most 1000 objects are served per page)",
                        )
                    })?;
                    if n == 0 {
                        return Err(TaxiiError::invalid("limit", "must be at least 1"));
                    }
                    f.limit = n.min(MAX_LIMIT);
                }
                "next" => f.next = Some(value.into_owned()),
                "added_after" => {
                    let t = parse_stix_time(&value).ok_or_else(|| {
                        TaxiiError::invalid(
                            "added_after",
                            "an RFC 3339 timestamp such as 2026-12-04T10:00:00.000000Z",
                        )
                    })?;
                    f.added_after = Some(to_micros(t));
                }
                "match[id]" => {
                    f.ids.extend(list(&value));
                    if f.ids.len() > MAX_IDS {
                        return Err(TaxiiError::invalid(
                            "match[id]",
                            format!("at most {MAX_IDS} ids per request: ask in several"),
                        ));
                    }
                }
                "match[type]" => f.types.extend(list(&value)),
                "match[spec_version]" => f.spec_versions.extend(list(&value)),
                "match[version]" => {
                    if !versions_named {
                        f.versions = Versions::default();
                        versions_named = true;
                    }
                    for v in list(&value) {
                        match v.as_str() {
                            "first" | "last" | "all" => f.versions.any = true,
                            t => f.versions.at.push(parse_stix_time(t).ok_or_else(|| {
                                TaxiiError::invalid(
                                    "match[version]",
                                    format!("{t:?} is neither first, last, all nor an RFC 3339 timestamp"),
                                )
                            })?),
                        }
                    }
                }
                // Other parameters are not filters of this server; ignored as the spec allows.
                _ => {}
            }
        }
        Ok(f)
    }

    /// What a `next` token is bound to: every filter but `limit` and `next` itself.
    fn fingerprint(&self) -> String {
        let mut ids = self.ids.clone();
        ids.sort();
        let mut types = self.types.clone();
        types.sort();
        let mut specs = self.spec_versions.clone();
        specs.sort();
        let mut at: Vec<i64> = self.versions.at.iter().map(|t| to_micros(*t)).collect();
        at.sort();
        let text = format!(
            "{}|{:?}|{:?}|{:?}|{:?}|{}|{:?}",
            self.scope, self.added_after, ids, types, specs, self.versions.any, at
        );
        hex::encode(&Sha256::digest(text.as_bytes())[..8])
    }

    /// The cursor this page starts at.
    ///
    /// # Errors
    /// A token this server did not issue, or issued for other filters (medallion's rule).
    pub fn start(&self) -> Result<Cursor, TaxiiError> {
        let Some(token) = &self.next else {
            return Ok(Cursor::default());
        };
        let bad = || TaxiiError::invalid("next", "not a token this server issued");
        let text = URL_SAFE_NO_PAD
            .decode(token.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(bad)?;
        let mut parts = text.split('.');
        let (Some(p), Some(i), Some(h), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let cursor = Cursor {
            position: p.parse().map_err(|_| bad())?,
            index: i.parse().map_err(|_| bad())?,
        };
        if h != self.fingerprint() {
            return Err(TaxiiError::invalid(
                "next",
                "the token was issued for other filters (added_after, match[...]): ask again without next",
            ));
        }
        Ok(cursor)
    }

    /// The token that resumes at `c` under these filters.
    pub fn token(&self, c: Cursor) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}.{}.{}", c.position, c.index, self.fingerprint()))
    }

    fn matches(&self, object: &Value) -> bool {
        let s = |k: &str| object[k].as_str().unwrap_or_default();
        (self.ids.is_empty() || self.ids.iter().any(|i| i == s("id")))
            && (self.types.is_empty() || self.types.iter().any(|t| t == s("type")))
            && (self.spec_versions.is_empty()
                || self.spec_versions.iter().any(|v| v == s("spec_version")))
            && (self.versions.any
                || parse_stix_time(s("modified")).is_some_and(|m| self.versions.at.contains(&m)))
    }
}

/// One object as a listing serves it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub object: Value,
    /// Micros: the commit of its sighting.
    pub date_added: i64,
}

impl Entry {
    pub fn date_added(&self) -> String {
        stix_time(from_micros(self.date_added))
    }

    /// The object's version: its `modified`.
    pub fn version(&self) -> String {
        self.object["modified"]
            .as_str()
            .or_else(|| self.object["created"].as_str())
            .unwrap_or_default()
            .to_owned()
    }
}

/// A page of a listing.
#[derive(Debug)]
pub struct Page {
    pub entries: Vec<Entry>,
    /// Where the next page starts; None when this is the last.
    pub next: Option<Cursor>,
}

/// What a readable collection lists.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// The shared feed: visible sightings in commit order.
    Feed,
    /// Ordered measures: the disposal notices this reader sees (ListNotices's rule), in
    /// delivery order, each as its course of action with a relationship to the report object
    /// of every sighting of the threat the reader sees that was received before it.
    Measures(&'a NoticeReader),
}

/// One event of a collection: its position, when it was added, its objects.
type Event = (i64, i64, Vec<Value>);

/// The objects the reader may see in `source` that match `filters`, from `start`, at most
/// `filters.limit`.
///
/// # Errors
/// Storage failures.
pub async fn page(
    store: &Store,
    reader: &Reader,
    source: Source<'_>,
    filters: &Filters,
    start: Cursor,
) -> Result<Page, sqlx::Error> {
    let mut entries = Vec::new();
    let mut from = start.position;
    loop {
        let (events, last) = batch(store, reader, source, filters, from).await?;
        for (position, date_added, objects) in events {
            let at = Cursor { position, index: 0 };
            if let Some(next) = take(&mut entries, filters, start, at, date_added, objects) {
                return Ok(Page {
                    entries,
                    next: Some(next),
                });
            }
        }
        // A short batch is the end; a full one may have more after its last position.
        match last {
            Some(p) => from = p + 1,
            None => {
                return Ok(Page {
                    entries,
                    next: None,
                });
            }
        }
    }
}

/// The events of up to [`SCAN_BATCH`] rows from position `from`, and the last position read
/// when the batch was full (None: nothing follows).
async fn batch(
    store: &Store,
    reader: &Reader,
    source: Source<'_>,
    filters: &Filters,
    from: i64,
) -> Result<(Vec<Event>, Option<i64>), sqlx::Error> {
    let mut events = Vec::new();
    let (read, last) = match source {
        Source::Feed => {
            // match[id] and the object routes go through the object-id index.
            let rows = visible_sightings_committed(
                store,
                reader,
                from,
                filters.added_after,
                &filters.ids,
                SCAN_BATCH,
            )
            .await?;
            let sightings: Vec<_> = rows.iter().map(|r| r.sighting.clone()).collect();
            let threats = threats_of(store, &sightings).await?;
            for row in &rows {
                if let Some(threat) = threats.get(&row.sighting.threat_id) {
                    let objects = export::sighting_objects(
                        &view::sighting(&row.sighting),
                        &view::threat(threat, Default::default(), Vec::new()),
                    );
                    events.push((row.position, row.committed_at, objects));
                }
            }
            (rows.len(), rows.last().map(|r| r.position))
        }
        Source::Measures(notices) => {
            let rows =
                visible_measures(store, notices, from, filters.added_after, SCAN_BATCH).await?;
            for row in &rows {
                if let Some(m) = ordered_measure(store, reader, row).await? {
                    events.push((row.position, row.issued_at, m.objects));
                }
            }
            (rows.len(), rows.last().map(|r| r.position))
        }
    };
    Ok((events, last.filter(|_| read as u32 == SCAN_BATCH)))
}

/// Adds the objects of the event at `at.position` that match and lie at or after `start`;
/// the cursor of the first one left over when the page fills.
fn take(
    entries: &mut Vec<Entry>,
    filters: &Filters,
    start: Cursor,
    at: Cursor,
    date_added: i64,
    objects: Vec<Value>,
) -> Option<Cursor> {
    for (index, object) in objects.into_iter().enumerate() {
        if at.position == start.position && index < start.index {
            continue;
        }
        if !filters.matches(&object) {
            continue;
        }
        if entries.len() == filters.limit {
            return Some(Cursor {
                position: at.position,
                index,
            });
        }
        entries.push(Entry { object, date_added });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_bound_to_the_filters_it_was_issued_for() {
        let f = Filters::parse(Some("match[type]=indicator&limit=5"), "").unwrap();
        let token = f.token(Cursor {
            position: 42,
            index: 3,
        });
        let again = Filters::parse(
            Some(&format!("match[type]=indicator&limit=9&next={token}")),
            "",
        )
        .unwrap();
        assert_eq!(
            again.start().unwrap(),
            Cursor {
                position: 42,
                index: 3
            }
        );
        let changed =
            Filters::parse(Some(&format!("match[type]=sighting&next={token}")), "").unwrap();
        assert!(matches!(changed.start(), Err(TaxiiError::Invalid { .. })));
        let forged = Filters::parse(Some("next=bm90LWEtdG9rZW4"), "").unwrap();
        assert!(matches!(forged.start(), Err(TaxiiError::Invalid { .. })));
    }

    #[test]
    fn limits_are_capped_and_bad_parameters_name_themselves() {
        assert_eq!(
            Filters::parse(Some("limit=5000"), "").unwrap().limit,
            MAX_LIMIT
        );
        let e = Filters::parse(Some("limit=0"), "").unwrap_err();
        assert!(e.to_string().starts_with("limit:"), "{e}");
        let e = Filters::parse(Some("added_after=yesterday"), "").unwrap_err();
        assert!(e.to_string().starts_with("added_after:"), "{e}");
        let e = Filters::parse(Some("match[version]=newest"), "").unwrap_err();
        assert!(e.to_string().starts_with("match[version]:"), "{e}");
        let many = (0..=MAX_IDS)
            .map(|i| format!("indicator--{i}"))
            .collect::<Vec<_>>()
            .join(",");
        let e = Filters::parse(Some(&format!("match[id]={many}")), "").unwrap_err();
        assert!(
            e.to_string().starts_with("match[id]: at most 1000 ids"),
            "{e}"
        );
    }
}
