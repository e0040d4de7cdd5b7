//! The ownership registry's rows.
//!
//! # Contract
//! - An entry is current while `valid_until` is NULL; removal closes it, so
//!   the holder at any past instant stays answerable (Art. 9 look-ups).
//! - Only approved (`approval` 1) responsible (`relation` 1) entries route
//!   notices; a pending entry is current but routes nothing until approved,
//!   when its `valid_from` becomes the approval instant; a refused one is closed.
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
    /// 1 responsible, 2 holder (`fenghuo.v1.OwnershipRelation`).
    pub relation: i64,
    /// 1 approved, 2 pending, 3 refused (`fenghuo.v1.OwnershipApproval`).
    pub approval: i64,
    pub declared_at: Option<i64>,
    pub pending_reason: Option<String>,
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
}

pub const RESPONSIBLE: i64 = 1;
pub const HOLDER: i64 = 2;
pub const APPROVED: i64 = 1;
pub const PENDING: i64 = 2;
pub const REFUSED: i64 = 3;

const COLUMNS: &str = "id, kind, value, origin_asn, owner_org, province, valid_from, valid_until, \
     relation, approval, declared_at, pending_reason, decided_by, decision_reason";

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

/// The current entries (approved or pending) for (kind, value) of one relation.
pub async fn current_of_value(
    tx: &mut Tx,
    kind: i64,
    value: &str,
    relation: i64,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM ownership_entries WHERE kind = $1 AND value = $2 AND relation = $3 \
         AND valid_until IS NULL ORDER BY id"
    )))
    .bind(kind)
    .bind(value)
    .bind(relation)
    .fetch_all(&mut **tx)
    .await
}

/// Every current approved responsible entry, read inside the change's transaction.
pub async fn routing_in_tx(tx: &mut Tx) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM ownership_entries WHERE valid_until IS NULL AND relation = 1 AND approval = 1"
    )))
    .fetch_all(&mut **tx)
    .await
}

pub async fn insert(tx: &mut Tx, e: &EntryRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ownership_entries (id, kind, value, origin_asn, owner_org, province, valid_from, valid_until, \
         relation, approval, declared_at, pending_reason, decided_by, decision_reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&e.id)
    .bind(e.kind)
    .bind(&e.value)
    .bind(e.origin_asn)
    .bind(&e.owner_org)
    .bind(&e.province)
    .bind(e.valid_from)
    .bind(e.valid_until)
    .bind(e.relation)
    .bind(e.approval)
    .bind(e.declared_at)
    .bind(&e.pending_reason)
    .bind(&e.decided_by)
    .bind(&e.decision_reason)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records the regulator's decision on a pending entry: approved from `at`, or refused
/// (closed at `at`). False when it was no longer pending.
pub async fn decide(
    tx: &mut Tx,
    id: &str,
    approval: i64,
    at: i64,
    by: &str,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let sql = if approval == APPROVED {
        "UPDATE ownership_entries SET approval = $1, valid_from = $2, decided_by = $3, decision_reason = $4 \
         WHERE id = $5 AND approval = 2 AND valid_until IS NULL"
    } else {
        "UPDATE ownership_entries SET approval = $1, valid_until = $2, decided_by = $3, decision_reason = $4 \
         WHERE id = $5 AND approval = 2 AND valid_until IS NULL"
    };
    let n = sqlx::query(sql)
        .bind(approval)
        .bind(at)
        .bind(by)
        .bind(reason)
        .bind(id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(n == 1)
}

pub async fn get_in_tx(tx: &mut Tx, id: &str) -> Result<Option<EntryRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM ownership_entries WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Pending entries, optionally of one province, by id after `after`.
pub async fn list_pending(
    store: &Store,
    province: Option<&str>,
    after: &str,
    limit: u32,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    let clause = if province.is_some() {
        " AND province = $2"
    } else {
        ""
    };
    let mut q = sqlx::query_as::<_, EntryRow>(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM ownership_entries WHERE approval = 2 AND valid_until IS NULL AND id > $1{clause} \
         ORDER BY id LIMIT {limit}"
    )))
    .bind(after);
    if let Some(p) = province {
        q = q.bind(p.to_owned());
    }
    q.fetch_all(store.pool()).await
}

/// Current holder entries (relation 2), of one owner or all.
pub async fn holdings(store: &Store, owner: Option<&str>) -> Result<Vec<EntryRow>, sqlx::Error> {
    let clause = if owner.is_some() {
        " AND owner_org = $1"
    } else {
        ""
    };
    let mut q = sqlx::query_as::<_, EntryRow>(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM ownership_entries WHERE valid_until IS NULL AND relation = 2{clause}"
    )));
    if let Some(o) = owner {
        q = q.bind(o.to_owned());
    }
    q.fetch_all(store.pool()).await
}

/// Holder entries in force at `at` (microseconds).
pub async fn holdings_at(store: &Store, at: i64) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM ownership_entries WHERE relation = 2 AND valid_from <= $1 \
         AND (valid_until IS NULL OR valid_until > $1)"
    )))
    .bind(at)
    .fetch_all(store.pool())
    .await
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

/// Every approved responsible entry — what routes notices — in force at `at`
/// (microseconds), or now when None.
pub async fn in_force(store: &Store, at: Option<i64>) -> Result<Vec<EntryRow>, sqlx::Error> {
    match at {
        None => {
            sqlx::query_as(AssertSqlSafe(format!("SELECT {COLUMNS} FROM ownership_entries WHERE valid_until IS NULL AND relation = 1 AND approval = 1")))
                .fetch_all(store.pool())
                .await
        }
        Some(t) => {
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM ownership_entries WHERE relation = 1 AND approval = 1 AND valid_from <= $1 \
                 AND (valid_until IS NULL OR valid_until > $1)"
            )))
            .bind(t)
            .fetch_all(store.pool())
            .await
        }
    }
}
