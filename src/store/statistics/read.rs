//! Reads of the counters in one snapshot, with the batches still pending.

use std::collections::HashMap;

use super::tally::decode_pending;
use super::{Counts, add, counters::in_dims, day_key};
use crate::statistics::facts::dim;
use crate::statistics::rollup::Cover;
use crate::store::bulk::{SqlValue, Statement};
use crate::store::{Dialect, Tx};

/// The pending batches' counts of one scope over a period, per (day, dim, item): read once
/// per answer in its snapshot, with the counters, so each batch counts exactly once.
#[derive(Debug, Default)]
pub struct Pending(HashMap<(i64, String, String), Counts>);

/// The pending batches' counts of `scope` for the days `from..=to` (day keys).
///
/// # Errors
/// Storage failures, and a pending row that does not decode.
pub async fn pending(
    snapshot: &mut Tx,
    scope: &str,
    from: i64,
    to: i64,
) -> Result<Pending, sqlx::Error> {
    let rows: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT day, counts FROM stat_pending WHERE day >= $1 AND day <= $2")
            .bind(from)
            .bind(to)
            .fetch_all(&mut **snapshot)
            .await?;
    let mut out = Pending::default();
    for (day, blob) in rows {
        for g in decode_pending(&blob)?.groups {
            if g.scope != scope {
                continue;
            }
            for (item, counts) in g.counts() {
                add(
                    out.0.entry((day, g.dim.clone(), item.clone())).or_default(),
                    counts,
                );
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CounterRow {
    pub dim: String,
    pub item: String,
    pub threats: i64,
    pub sightings: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DayRow {
    pub day: i64,
    pub dim: String,
    pub item: String,
    pub threats: i64,
    pub sightings: i64,
}

/// Every counter of `scope` over the days `cover` splits a period into, and `pending` (that
/// period's pending batches, read in the same snapshot), summed per (dimension, key).
pub async fn sums(
    snapshot: &mut Tx,
    dialect: Dialect,
    scope: &str,
    cover: &Cover,
    pending: &Pending,
) -> Result<Vec<CounterRow>, sqlx::Error> {
    let mut total: HashMap<(String, String), Counts> = HashMap::new();
    let mut add_rows = |rows: Vec<CounterRow>| {
        for r in rows {
            add(
                total.entry((r.dim, r.item)).or_default(),
                (r.threats, r.sightings),
            );
        }
    };
    for (from, to) in &cover.days {
        let mut st = Statement::new(
            dialect,
            "SELECT dim, item, CAST(SUM(threats) AS BIGINT) AS threats, \
             CAST(SUM(sightings) AS BIGINT) AS sightings FROM stat_counters WHERE scope = ",
        );
        st.bind(SqlValue::Text(scope.to_owned()));
        in_dims(&mut st);
        st.push(" AND day >= ")
            .bind(SqlValue::Int(day_key(*from)))
            .push(" AND day <= ")
            .bind(SqlValue::Int(day_key(*to)))
            .push(" GROUP BY dim, item");
        add_rows(st.query_as().fetch_all(&mut **snapshot).await?);
    }
    for (span, first, last) in &cover.units {
        add_rows(
            sqlx::query_as(
                "SELECT dim, item, CAST(SUM(threats) AS BIGINT) AS threats, \
                 CAST(SUM(sightings) AS BIGINT) AS sightings FROM stat_rollups \
                 WHERE scope = $1 AND span = $2 AND start >= $3 AND start <= $4 GROUP BY dim, item",
            )
            .bind(scope)
            .bind(span.code())
            .bind(day_key(*first))
            .bind(day_key(*last))
            .fetch_all(&mut **snapshot)
            .await?,
        );
    }
    for ((_, d, item), counts) in &pending.0 {
        if dim::ALL.contains(&d.as_str()) {
            add(total.entry((d.clone(), item.clone())).or_default(), *counts);
        }
    }
    Ok(total
        .into_iter()
        .map(|((dim, item), (threats, sightings))| CounterRow {
            dim,
            item,
            threats,
            sightings,
        })
        .collect())
}

/// The day-by-day counters of the dimensions that answers show as series over the days
/// `from..=to`, with `pending` (those days' pending batches, read in the same snapshot).
pub async fn daily(
    snapshot: &mut Tx,
    scope: &str,
    dims: &[&str],
    (from, to): (i64, i64),
    pending: &Pending,
) -> Result<Vec<DayRow>, sqlx::Error> {
    let mut days: HashMap<(i64, String, String), Counts> = HashMap::new();
    for d in dims {
        let part: Vec<DayRow> = sqlx::query_as(
            "SELECT day, dim, item, threats, sightings FROM stat_counters \
             WHERE scope = $1 AND dim = $2 AND day >= $3 AND day <= $4",
        )
        .bind(scope)
        .bind(*d)
        .bind(from)
        .bind(to)
        .fetch_all(&mut **snapshot)
        .await?;
        for r in part {
            days.insert((r.day, r.dim, r.item), (r.threats, r.sightings));
        }
    }
    for (key, counts) in &pending.0 {
        if key.0 >= from && key.0 <= to && dims.contains(&key.1.as_str()) {
            add(days.entry(key.clone()).or_default(), *counts);
        }
    }
    Ok(days
        .into_iter()
        .map(|((day, dim, item), (threats, sightings))| DayRow {
            day,
            dim,
            item,
            threats,
            sightings,
        })
        .collect())
}
