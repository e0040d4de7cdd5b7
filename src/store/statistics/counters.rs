//! Folding pending batches into the day counters, and days into the week and month roll-ups.

use std::collections::HashMap;

use chrono::{Days, NaiveDate};
use sqlx::AssertSqlSafe;

use super::tally::decode_pending;
use super::{Counts, NATIONAL, add, day_key, day_of_key};
use crate::statistics::facts::dim;
use crate::statistics::rollup::Span;
use crate::store::bulk::{self, SqlValue, Statement};
use crate::store::{Store, Tx};

/// Pending batches folded per transaction.
pub const FOLD_BATCHES: i64 = 256;

/// Adds up to [`FOLD_BATCHES`] pending batches to the day counters, and to the roll-ups when
/// their day is already rolled, and removes them, in one transaction; returns the batches
/// folded (0: none was pending). Folding many batches at once writes each counter once for
/// all of them, which is why the intake does not write counters itself. Replicas fold one at
/// a time (the roll-up mark's row lock, which [`roll_up`] also takes).
///
/// # Errors
/// Storage failures, and a pending row that does not decode (it stays pending).
pub async fn fold(store: &Store) -> Result<u64, sqlx::Error> {
    let mut tx = store.begin().await?;
    let rolled: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT rolled_through FROM stat_rollup_state WHERE id = 1{}",
        store.dialect().for_update()
    )))
    .fetch_one(&mut *tx)
    .await?;
    let rows: Vec<(i64, i64, Vec<u8>)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT id, day, counts FROM stat_pending ORDER BY id LIMIT {FOLD_BATCHES}"
    )))
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        tx.rollback().await?;
        return Ok(0);
    }
    // (scope, day, dim, item) and (scope, span, start, dim, item) → counts.
    let mut days: HashMap<(String, i64, String, String), Counts> = HashMap::new();
    let mut spans: HashMap<(String, &'static str, i64, String, String), Counts> = HashMap::new();
    for (_, day, blob) in &rows {
        let rolled_day = (*day <= rolled).then(|| day_of_key(*day)).flatten();
        for g in decode_pending(blob)?.groups {
            for (item, counts) in g.counts() {
                add(
                    days.entry((g.scope.clone(), *day, g.dim.clone(), item.clone()))
                        .or_default(),
                    counts,
                );
                if let Some(d) = rolled_day {
                    for span in [Span::Week, Span::Month] {
                        let key = (
                            g.scope.clone(),
                            span.code(),
                            day_key(span.start_of(d)),
                            g.dim.clone(),
                            item.clone(),
                        );
                        add(spans.entry(key).or_default(), counts);
                    }
                }
            }
        }
    }
    let counters = days
        .into_iter()
        .map(|((scope, day, d, item), (t, s))| {
            vec![
                SqlValue::Text(scope),
                SqlValue::Int(day),
                SqlValue::Text(d),
                SqlValue::Text(item),
                SqlValue::Int(t),
                SqlValue::Int(s),
            ]
        })
        .collect();
    let dialect = store.dialect();
    bulk::insert_or_add(
        &mut tx,
        dialect,
        "stat_counters",
        &["scope", "day", "dim", "item", "threats", "sightings"],
        4,
        counters,
    )
    .await?;
    let rollups: Vec<Vec<SqlValue>> = spans
        .into_iter()
        .map(|((scope, span, start, d, item), (t, s))| {
            vec![
                SqlValue::Text(scope),
                SqlValue::Text(span.to_owned()),
                SqlValue::Int(start),
                SqlValue::Text(d),
                SqlValue::Text(item),
                SqlValue::Int(t),
                SqlValue::Int(s),
            ]
        })
        .collect();
    if !rollups.is_empty() {
        bulk::insert_or_add(
            &mut tx,
            dialect,
            "stat_rollups",
            &[
                "scope",
                "span",
                "start",
                "dim",
                "item",
                "threats",
                "sightings",
            ],
            5,
            rollups,
        )
        .await?;
    }
    let mut st = Statement::new(dialect, "DELETE FROM stat_pending WHERE id IN (");
    st.bind_list(rows.iter().map(|(id, ..)| SqlValue::Int(*id)));
    st.push(")");
    st.execute(&mut tx).await?;
    tx.commit().await?;
    Ok(rows.len() as u64)
}

/// The last day whose counters are in the roll-ups, if any is.
pub async fn rolled_through(snapshot: &mut Tx) -> Result<Option<NaiveDate>, sqlx::Error> {
    let k: i64 = sqlx::query_scalar("SELECT rolled_through FROM stat_rollup_state")
        .fetch_one(&mut **snapshot)
        .await?;
    Ok(if k == 0 { None } else { day_of_key(k) })
}

/// Days rolled per transaction, so a first roll-up of a long history holds no lock long.
const ROLL_UP_DAYS: u64 = 31;

/// Adds to the roll-ups every day after the mark up to and including `through` (callers
/// pass a day that ended more than a day ago), oldest first, in transactions of at most
/// [`ROLL_UP_DAYS`] days each moving the mark; returns the days rolled. Another replica
/// rolling the same days makes this one's transaction find the mark moved and stop.
pub async fn roll_up(store: &Store, through: NaiveDate) -> Result<u64, sqlx::Error> {
    // The counters first take in every pending batch (a batch that commits later under a
    // rolled day reaches the roll-ups when it is folded).
    while fold(store).await? == FOLD_BATCHES as u64 {}
    let mut rolled = 0;
    loop {
        let mark: i64 = sqlx::query_scalar("SELECT rolled_through FROM stat_rollup_state")
            .fetch_one(store.pool())
            .await?;
        let first = if mark == 0 {
            // Every sighting counts under ('*', total): its first day is the first of all.
            let min: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(day) FROM stat_counters WHERE scope = $1 AND dim = $2",
            )
            .bind(NATIONAL)
            .bind(dim::TOTAL)
            .fetch_one(store.pool())
            .await?;
            match min.and_then(day_of_key) {
                Some(d) => d,
                None => return Ok(rolled),
            }
        } else {
            match day_of_key(mark).and_then(|d| d.succ_opt()) {
                Some(d) => d,
                None => return Ok(rolled),
            }
        };
        if first > through {
            return Ok(rolled);
        }
        let last = (first + Days::new(ROLL_UP_DAYS - 1)).min(through);
        let mut tx = store.begin().await?;
        let moved = sqlx::query(
            "UPDATE stat_rollup_state SET rolled_through = $1 WHERE id = 1 AND rolled_through = $2",
        )
        .bind(day_key(last))
        .bind(mark)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved != 1 {
            tx.rollback().await?;
            return Ok(rolled);
        }
        // Each scope by an index seek, then each unit's part of [first, last] by the
        // primary key's (scope, dim, day) prefix.
        let mut scope: Option<String> = None;
        loop {
            let next: Option<String> = match &scope {
                None => {
                    sqlx::query_scalar("SELECT MIN(scope) FROM stat_counters")
                        .fetch_one(&mut *tx)
                        .await?
                }
                Some(s) => {
                    sqlx::query_scalar("SELECT MIN(scope) FROM stat_counters WHERE scope > $1")
                        .bind(s)
                        .fetch_one(&mut *tx)
                        .await?
                }
            };
            let Some(s) = next else { break };
            for span in [Span::Week, Span::Month] {
                let mut a = first;
                while a <= last {
                    let start = span.start_of(a);
                    let b = span.end_of(start).min(last);
                    let mut st = Statement::new(
                        store.dialect(),
                        "INSERT INTO stat_rollups (scope, span, start, dim, item, threats, sightings) \
                         SELECT scope, ",
                    );
                    st.bind(SqlValue::Text(span.code().to_owned()))
                        .push(", ")
                        .bind(SqlValue::Int(day_key(start)))
                        .push(
                            ", dim, item, CAST(SUM(threats) AS BIGINT), CAST(SUM(sightings) AS BIGINT) \
                             FROM stat_counters WHERE scope = ",
                        )
                        .bind(SqlValue::Text(s.clone()));
                    in_dims(&mut st);
                    st.push(" AND day >= ")
                        .bind(SqlValue::Int(day_key(a)))
                        .push(" AND day <= ")
                        .bind(SqlValue::Int(day_key(b)))
                        .push(
                            " GROUP BY scope, dim, item ON CONFLICT (scope, span, start, dim, item) \
                             DO UPDATE SET threats = stat_rollups.threats + excluded.threats, \
                             sightings = stat_rollups.sightings + excluded.sightings",
                        );
                    st.execute(&mut tx).await?;
                    match b.succ_opt() {
                        Some(n) => a = n,
                        None => break,
                    }
                }
            }
            scope = Some(s);
        }
        tx.commit().await?;
        rolled += (last - first).num_days() as u64 + 1;
    }
}

/// ` AND dim IN (…every dimension…)`.
pub(super) fn in_dims(st: &mut Statement) {
    st.push(" AND dim IN (");
    st.bind_list(dim::ALL.iter().map(|d| SqlValue::Text((*d).to_owned())));
    st.push(")");
}
