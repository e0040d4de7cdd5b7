//! The hash-chained audit log.
//!
//! # Contract
//! - [`append`] runs inside the transaction of the change it records: both
//!   commit or neither does.
//! - Records are numbered from 1 without gaps in commit order: appending locks
//!   the single `audit_head` row, which also holds the last hash so that a
//!   removed final record is detected.
//! - `hash = SHA-256(prev_hash ␟ seq ␟ at ␟ org ␟ fingerprint ␟ officer ␟
//!   action ␟ subject ␟ details)`, hex.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Row};

use super::bulk::{self, SqlValue};
use super::{Dialect, Store, Tx, page};
use crate::domain::clock::{from_micros, to_micros};

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who made a change: the organisation, the certificate it called with, and
/// the officer named by its token (empty when none).
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub organisation_id: String,
    pub certificate_fingerprint: String,
    pub officer: String,
}

impl Actor {
    /// Changes the server makes by itself (seeding, timers).
    pub fn system() -> Actor {
        Actor {
            organisation_id: "fenghuo".into(),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: i64,
    pub org_id: String,
    pub cert_fingerprint: String,
    pub officer: String,
    pub action: String,
    pub subject: String,
    pub details_json: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRecord {
    pub fn at(&self) -> DateTime<Utc> {
        from_micros(self.at)
    }

    fn compute_hash(&self) -> String {
        chain_hash(
            &self.prev_hash,
            self.seq,
            self.at,
            [
                &self.org_id,
                &self.cert_fingerprint,
                &self.officer,
                &self.action,
                &self.subject,
                &self.details_json,
            ],
        )
    }
}

fn chain_hash(prev: &str, seq: i64, at: i64, fields: [&str; 6]) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    for part in [seq.to_string().as_str(), at.to_string().as_str()]
        .into_iter()
        .chain(fields)
    {
        h.update([0x1f]);
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// One change to record.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub actor: Actor,
    pub action: String,
    pub subject: String,
    pub details: serde_json::Value,
}

/// Appends one record to the chain inside `tx`.
pub async fn append(
    tx: &mut Tx,
    dialect: Dialect,
    at: DateTime<Utc>,
    actor: &Actor,
    action: &str,
    subject: &str,
    details: serde_json::Value,
) -> Result<i64, sqlx::Error> {
    let entry = AuditEntry {
        actor: actor.clone(),
        action: action.to_owned(),
        subject: subject.to_owned(),
        details,
    };
    let seq = append_many(tx, dialect, at, std::slice::from_ref(&entry)).await?;
    // One line per state change (decisions, notices, appeals, registry, timers), with ids and
    // never the details, which may carry personal data. Bulk intake appends through
    // `append_many` and is counted by the benchmarks, not logged per item.
    tracing::info!(
        audit_seq = seq,
        action,
        subject,
        organisation = %entry.actor.organisation_id,
        officer = %entry.actor.officer,
        "state change"
    );
    Ok(seq)
}

/// Appends records in order inside `tx`, locking the head once; returns the last sequence number.
pub async fn append_many(
    tx: &mut Tx,
    dialect: Dialect,
    at: DateTime<Utc>,
    entries: &[AuditEntry],
) -> Result<i64, sqlx::Error> {
    let sql = format!(
        "SELECT seq, hash FROM audit_head WHERE id = 1{}",
        dialect.for_update()
    );
    let (mut seq, mut prev_hash): (i64, String) = sqlx::query_as(AssertSqlSafe(sql))
        .fetch_one(&mut **tx)
        .await?;
    let at = to_micros(at);
    let mut rows = Vec::with_capacity(entries.len());
    for e in entries {
        seq += 1;
        let details_json = e.details.to_string();
        let hash = chain_hash(
            &prev_hash,
            seq,
            at,
            [
                &e.actor.organisation_id,
                &e.actor.certificate_fingerprint,
                &e.actor.officer,
                &e.action,
                &e.subject,
                &details_json,
            ],
        );
        rows.push(vec![
            SqlValue::Int(seq),
            SqlValue::Int(at),
            SqlValue::Text(e.actor.organisation_id.clone()),
            SqlValue::Text(e.actor.certificate_fingerprint.clone()),
            SqlValue::Text(e.actor.officer.clone()),
            SqlValue::Text(e.action.clone()),
            SqlValue::Text(e.subject.clone()),
            SqlValue::Text(details_json),
            SqlValue::Text(std::mem::replace(&mut prev_hash, hash.clone())),
            SqlValue::Text(hash),
        ]);
    }
    bulk::insert(
        tx,
        dialect,
        "audit_log",
        &[
            "seq",
            "at",
            "org_id",
            "cert_fingerprint",
            "officer",
            "action",
            "subject",
            "details_json",
            "prev_hash",
            "hash",
        ],
        rows,
    )
    .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(&prev_hash)
        .execute(&mut **tx)
        .await?;
    Ok(seq)
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub subject: Option<String>,
    pub organisation_ids: Option<Vec<String>>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub after_seq: i64,
}

/// Records matching `filter` in sequence order, at most `limit`.
pub async fn query(
    store: &Store,
    filter: &AuditFilter,
    limit: u32,
) -> Result<Vec<AuditRecord>, sqlx::Error> {
    let mut sql = String::from(
        "SELECT seq, at, org_id, cert_fingerprint, officer, action, subject, details_json, prev_hash, hash \
         FROM audit_log WHERE seq > $1",
    );
    let mut n = 1;
    let mut next = |sql: &mut String, clause: &str| {
        n += 1;
        sql.push_str(&clause.replace('?', &format!("${n}")));
    };
    if filter.subject.is_some() {
        next(&mut sql, " AND subject = ?");
    }
    if filter.from.is_some() {
        next(&mut sql, " AND at >= ?");
    }
    if filter.to.is_some() {
        next(&mut sql, " AND at < ?");
    }
    if let Some(orgs) = &filter.organisation_ids {
        if orgs.is_empty() {
            return Ok(Vec::new());
        }
        sql.push_str(" AND org_id IN (");
        for i in 0..orgs.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            next(&mut sql, "?");
        }
        sql.push(')');
    }
    sql.push_str(&format!(" ORDER BY seq LIMIT {limit}"));
    let mut q = sqlx::query_as::<_, AuditRecord>(AssertSqlSafe(sql)).bind(filter.after_seq);
    if let Some(s) = &filter.subject {
        q = q.bind(s.clone());
    }
    if let Some(t) = filter.from {
        q = q.bind(to_micros(t));
    }
    if let Some(t) = filter.to {
        q = q.bind(to_micros(t));
    }
    for org in filter.organisation_ids.iter().flatten() {
        q = q.bind(org.clone());
    }
    q.fetch_all(store.pool()).await
}

pub fn page_token(last_seq: i64) -> String {
    page::encode(&last_seq.to_string())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub records_checked: u64,
    /// First broken position and what is wrong with it.
    pub problem: Option<(i64, String)>,
}

impl ChainReport {
    pub fn intact(&self) -> bool {
        self.problem.is_none()
    }
}

/// Recomputes the whole chain, reading it in batches.
pub async fn verify_chain(store: &Store) -> Result<ChainReport, sqlx::Error> {
    let mut expected_seq = 1i64;
    let mut prev_hash = GENESIS_HASH.to_owned();
    let mut checked = 0u64;
    loop {
        let batch: Vec<AuditRecord> = sqlx::query_as(
            "SELECT seq, at, org_id, cert_fingerprint, officer, action, subject, details_json, prev_hash, hash \
             FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT 5000",
        )
        .bind(expected_seq)
        .fetch_all(store.pool())
        .await?;
        if batch.is_empty() {
            break;
        }
        for r in batch {
            let fail = |why: String| {
                Ok(ChainReport {
                    records_checked: checked,
                    problem: Some((r.seq, why)),
                })
            };
            if r.seq != expected_seq {
                return fail(format!(
                    "record {expected_seq} is missing (next present is {})",
                    r.seq
                ));
            }
            if r.prev_hash != prev_hash {
                return fail(format!(
                    "record {} does not link to record {}",
                    r.seq,
                    r.seq - 1
                ));
            }
            if r.compute_hash() != r.hash {
                return fail(format!(
                    "record {} was altered: its content no longer matches its hash",
                    r.seq
                ));
            }
            checked += 1;
            prev_hash = r.hash;
            expected_seq += 1;
        }
    }
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(store.pool())
        .await?;
    let (head_seq, head_hash): (i64, String) = (head.try_get(0)?, head.try_get(1)?);
    if head_seq != expected_seq - 1 || head_hash != prev_hash {
        return Ok(ChainReport {
            records_checked: checked,
            problem: Some((
                expected_seq,
                format!(
                    "the chain ends at record {} but its head records {head_seq}: records were removed",
                    expected_seq - 1
                ),
            )),
        });
    }
    Ok(ChainReport {
        records_checked: checked,
        problem: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_field_changes_the_hash() {
        let base = chain_hash(GENESIS_HASH, 1, 10, ["o", "f", "x", "a", "s", "{}"]);
        assert_ne!(
            base,
            chain_hash(GENESIS_HASH, 1, 10, ["o", "f", "x", "a", "s", "{\"k\":1}"])
        );
        assert_ne!(
            base,
            chain_hash(GENESIS_HASH, 2, 10, ["o", "f", "x", "a", "s", "{}"])
        );
        // Field boundaries count: "ab"+"c" differs from "a"+"bc".
        assert_ne!(
            chain_hash(GENESIS_HASH, 1, 10, ["ab", "c", "", "", "", ""]),
            chain_hash(GENESIS_HASH, 1, 10, ["a", "bc", "", "", "", ""])
        );
    }
}
