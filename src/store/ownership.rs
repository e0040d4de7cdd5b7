//! The ownership registry's rows.
//!
//! # Contract
//! - An entry is current while `valid_until` is NULL; removal closes it, so
//!   the holder at any past instant stays answerable (Art. 9 look-ups).
//! - Changes lock `ownership_version` first and bump it: imports are
//!   serialised across replicas, and every replica sees that its routing table
//!   is stale.

use sqlx::AssertSqlSafe;

use super::{Store, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    pub id: String,
    pub kind: i64,
    pub value: String,
    pub origin_asn: Option<i64>,
    pub owner_org: String,
    pub province: String,
    pub valid_from: i64,
    pub valid_until: Option<i64>,
}

const COLUMNS: &str = "id, kind, value, origin_asn, owner_org, province, valid_from, valid_until";

/// Locks the registry for a change and bumps its version; returns the new version.
pub async fn lock_and_bump(store: &Store, tx: &mut Tx) -> Result<i64, sqlx::Error> {
    let sql = format!(
        "SELECT version FROM ownership_version WHERE id = 1{}",
        store.dialect().for_update()
    );
    let (v,): (i64,) = sqlx::query_as(AssertSqlSafe(sql))
        .fetch_one(&mut **tx)
        .await?;
    sqlx::query("UPDATE ownership_version SET version = $1 WHERE id = 1")
        .bind(v + 1)
        .execute(&mut **tx)
        .await?;
    Ok(v + 1)
}

pub async fn version(store: &Store) -> Result<i64, sqlx::Error> {
    let (v,): (i64,) = sqlx::query_as("SELECT version FROM ownership_version WHERE id = 1")
        .fetch_one(store.pool())
        .await?;
    Ok(v)
}

/// The current entry for (kind, value), if any.
pub async fn current_holder(
    tx: &mut Tx,
    kind: i64,
    value: &str,
) -> Result<Option<EntryRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM ownership_entries WHERE kind = $1 AND value = $2 AND valid_until IS NULL"
    )))
    .bind(kind)
    .bind(value)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn insert(tx: &mut Tx, e: &EntryRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ownership_entries (id, kind, value, origin_asn, owner_org, province, valid_from, valid_until) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&e.id)
    .bind(e.kind)
    .bind(&e.value)
    .bind(e.origin_asn)
    .bind(&e.owner_org)
    .bind(&e.province)
    .bind(e.valid_from)
    .bind(e.valid_until)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Closes one entry; false when it was not current.
pub async fn close(tx: &mut Tx, id: &str, at: i64) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE ownership_entries SET valid_until = $1 WHERE id = $2 AND valid_until IS NULL",
    )
    .bind(at)
    .bind(id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Closes every current entry of `owner`; returns how many.
pub async fn close_owner(tx: &mut Tx, owner: &str, at: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("UPDATE ownership_entries SET valid_until = $1 WHERE owner_org = $2 AND valid_until IS NULL")
        .bind(at)
        .bind(owner)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

pub async fn get(store: &Store, id: &str) -> Result<Option<EntryRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM ownership_entries WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(store.pool())
    .await
}

/// Current entries of `owner`, optionally of one kind, by id after `after`.
pub async fn list_current(
    store: &Store,
    owner: &str,
    kind: Option<i64>,
    after: &str,
    limit: u32,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    let kind_clause = if kind.is_some() { " AND kind = $3" } else { "" };
    let mut q = sqlx::query_as::<_, EntryRow>(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM ownership_entries WHERE owner_org = $1 AND id > $2 AND valid_until IS NULL{kind_clause} \
         ORDER BY id LIMIT {limit}"
    )))
    .bind(owner)
    .bind(after);
    if let Some(k) = kind {
        q = q.bind(k);
    }
    q.fetch_all(store.pool()).await
}

/// Every entry in force at `at` (microseconds), or now when None.
pub async fn in_force(store: &Store, at: Option<i64>) -> Result<Vec<EntryRow>, sqlx::Error> {
    match at {
        None => {
            sqlx::query_as(AssertSqlSafe(format!("SELECT {COLUMNS} FROM ownership_entries WHERE valid_until IS NULL")))
                .fetch_all(store.pool())
                .await
        }
        Some(t) => {
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM ownership_entries WHERE valid_from <= $1 AND (valid_until IS NULL OR valid_until > $1)"
            )))
            .bind(t)
            .fetch_all(store.pool())
            .await
        }
    }
}
