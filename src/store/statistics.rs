//! Statistics storage: the counters the intake keeps in its own transaction, the
//! country ranges, and the indexed reads of notices and appeals by period.
//!
//! # Contract
//! - [`Tally::commit`] runs inside the intake's transaction and writes the batch's counts as
//!   one `stat_pending` row: they commit with its sightings or not at all, so a figure never
//!   counts an unacknowledged report or misses an acknowledged one. [`fold`] adds pending
//!   rows to the day counters and removes them in one transaction (every replica folds about
//!   once a second; [`roll_up`] folds first). Folding many batches writes each counter once
//!   for all of them: that is the point (the counters cost the intake a quarter of its
//!   throughput when each batch upserted its own, BENCHMARKS.md).
//! - A read ([`sums`], [`daily`]) takes one snapshot and adds the pending rows of its days
//!   to the counters, so each committed batch counts exactly once, folded or not.
//! - Counters are only ever added to. Retention deletes raw rows, never counters: a
//!   period's figures are what was received in it.
//! - The week and month roll-ups (`stat_rollups`) hold exactly the sum of the folded days up
//!   to `stat_rollup_state.rolled_through`. [`roll_up`] adds days in order, only days that
//!   ended more than a day before, and moves the mark in the same transaction. A batch under
//!   a day already rolled (it committed after the roll-up) is added to the roll-ups too when
//!   it is folded: the fold reads the mark under its row lock, which the roll-up's update also
//!   takes (SQLite: writers are serial), so the mark it reads is the one the batch falls
//!   under.

use std::collections::HashMap;

use chrono::{Days, NaiveDate};
use prost::Message as _;
use sqlx::AssertSqlSafe;

use super::bulk::{self, SqlValue, Statement};
use super::{Dialect, Store, Tx};
use crate::statistics::facts::{self, ControlServer, Facts, dim};
use crate::statistics::rollup::{Cover, Span};

/// Whether the intake keeps the counters: always, except while `fenghuo bench stats`
/// measures the intake without them to give their cost.
static COUNTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// For `fenghuo bench stats` only: the same intake with and without the counters.
pub fn set_counting(on: bool) {
    COUNTING.store(on, std::sync::atomic::Ordering::Relaxed);
}

fn counting() -> bool {
    COUNTING.load(std::sync::atomic::Ordering::Relaxed)
}

/// The scope key of every report.
pub const NATIONAL: &str = "*";

pub fn province_scope(province: &str) -> String {
    format!("p:{province}")
}

pub fn organisation_scope(org: &str) -> String {
    format!("o:{org}")
}

/// A day as stored: YYYYMMDD.
pub fn day_key(d: chrono::NaiveDate) -> i64 {
    use chrono::Datelike;
    i64::from(d.year()) * 10_000 + i64::from(d.month()) * 100 + i64::from(d.day())
}

pub fn day_of_key(k: i64) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::from_ymd_opt(
        (k / 10_000) as i32,
        (k / 100 % 100) as u32,
        (k % 100) as u32,
    )
}

/// The scopes a sighting counts in: everyone's, the provincial regulators' that see it
/// (the reporter's province and its resources' provinces, Art. 6) and the reporter's own.
pub fn scopes(reporter: &str, reporter_province: &str, provinces: &[String]) -> Vec<String> {
    let mut out = vec![NATIONAL.to_owned(), organisation_scope(reporter)];
    for p in std::iter::once(reporter_province).chain(provinces.iter().map(String::as_str)) {
        if !p.is_empty() && p != "national" {
            let s = province_scope(p);
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

/// (threats, sightings) added to one counter.
type Counts = (i64, i64);

/// One batch's additions to the counters, summed in memory first.
#[derive(Debug)]
pub struct Tally {
    /// Read once per batch (see [`set_counting`]).
    on: bool,
    day: i64,
    /// (scope, dimension) → key → (threats, sightings). Nested so that adding to a key
    /// already seen in the batch allocates nothing.
    counts: HashMap<(usize, &'static str), HashMap<String, Counts>>,
    /// The batch's scopes, by their index in `counts`.
    scopes: Vec<String>,
    scope_index: HashMap<String, usize>,
    /// Control servers waiting for their country (looked up in the transaction).
    controls: Vec<(Vec<String>, ControlServer, bool)>,
}

impl Tally {
    pub fn new(day: chrono::NaiveDate) -> Tally {
        Tally {
            on: counting(),
            day: day_key(day),
            counts: HashMap::new(),
            scopes: Vec::new(),
            scope_index: HashMap::new(),
            controls: Vec::new(),
        }
    }

    /// Whether this batch is counted.
    pub fn on(&self) -> bool {
        self.on
    }

    fn add(&mut self, scopes: &[String], d: &'static str, key: &str, created: bool) {
        for s in scopes {
            let i = match self.scope_index.get(s.as_str()) {
                Some(i) => *i,
                None => {
                    self.scopes.push(s.clone());
                    self.scope_index.insert(s.clone(), self.scopes.len() - 1);
                    self.scopes.len() - 1
                }
            };
            let keys = self.counts.entry((i, d)).or_default();
            let c = match keys.get_mut(key) {
                Some(c) => c,
                None => keys.entry(key.to_owned()).or_default(),
            };
            c.0 += i64::from(created);
            c.1 += 1;
        }
    }

    /// Counts one stored sighting: `created` when it created its threat.
    pub fn sighting(
        &mut self,
        scopes: &[String],
        facts: Facts,
        provinces: &[String],
        responsible: &[String],
        created: bool,
    ) {
        for (d, k) in &facts.keys {
            self.add(scopes, d, k, created);
        }
        let none = [facts::NONE.to_owned()];
        let provinces = if provinces.is_empty() {
            &none[..]
        } else {
            provinces
        };
        for p in provinces {
            self.add(scopes, dim::RESOURCE_PROVINCE, p, created);
            if facts.controlled_host {
                self.add(scopes, dim::CONTROLLED_HOSTS, p, created);
            }
        }
        let units = if responsible.is_empty() {
            &none[..]
        } else {
            responsible
        };
        for o in units {
            self.add(scopes, dim::RESPONSIBLE_UNIT, o, created);
        }
        if let Some(cs) = facts.control_server {
            self.controls.push((scopes.to_vec(), cs, created));
        }
    }

    /// Looks up the control servers' countries and keeps the batch's counts as one
    /// `stat_pending` row, in `tx` (the intake's); [`fold`] adds them to the counters later.
    pub async fn commit(mut self, tx: &mut Tx) -> Result<(), sqlx::Error> {
        if !self.on {
            return Ok(());
        }
        if !self.controls.is_empty() {
            let version = super::geo::version(tx).await?;
            let mut cache: HashMap<String, Option<String>> = HashMap::new();
            for (scopes, cs, created) in std::mem::take(&mut self.controls) {
                let mut found = None;
                if let (Some(v), Some(ip)) = (version, &cs.ip) {
                    if !cache.contains_key(ip) {
                        let c = super::geo::country_in(tx, v, ip).await?;
                        cache.insert(ip.clone(), c);
                    }
                    found = cache.get(ip).cloned().flatten();
                }
                let key = match (found, cs.reported_country) {
                    (Some(c), _) => format!("dataset|{c}"),
                    (None, Some(c)) => format!("reported|{c}"),
                    (None, None) => "unknown|".to_owned(),
                };
                let kind = if cs.botnet { 'b' } else { 't' };
                self.add(
                    &scopes,
                    dim::CONTROL_COUNTRY,
                    &format!("{kind}|{key}"),
                    created,
                );
            }
        }
        let groups: Vec<PendingGroup> = self
            .counts
            .into_iter()
            .map(|((i, d), keys)| {
                let mut g = PendingGroup {
                    scope: self.scopes[i].clone(),
                    dim: d.to_owned(),
                    ..Default::default()
                };
                for (item, (threats, sightings)) in keys {
                    g.items.push(item);
                    g.threats.push(threats);
                    g.sightings.push(sightings);
                }
                g
            })
            .collect();
        if groups.is_empty() {
            return Ok(());
        }
        sqlx::query("INSERT INTO stat_pending (day, counts) VALUES ($1, $2)")
            .bind(self.day)
            .bind(PendingCounts { groups }.encode_to_vec())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

/// One intake batch's counts as `stat_pending` keeps them until [`fold`].
#[derive(Clone, PartialEq, prost::Message)]
struct PendingCounts {
    #[prost(message, repeated, tag = "1")]
    groups: Vec<PendingGroup>,
}

/// A (scope, dimension)'s keys and what each gains; the three lists run in parallel.
#[derive(Clone, PartialEq, prost::Message)]
struct PendingGroup {
    #[prost(string, tag = "1")]
    scope: String,
    #[prost(string, tag = "2")]
    dim: String,
    #[prost(string, repeated, tag = "3")]
    items: Vec<String>,
    #[prost(int64, repeated, tag = "4")]
    threats: Vec<i64>,
    #[prost(int64, repeated, tag = "5")]
    sightings: Vec<i64>,
}

impl PendingGroup {
    fn counts(&self) -> impl Iterator<Item = (&String, Counts)> {
        self.items
            .iter()
            .zip(self.threats.iter().zip(&self.sightings))
            .map(|(item, (t, s))| (item, (*t, *s)))
    }
}

fn decode_pending(blob: &[u8]) -> Result<PendingCounts, sqlx::Error> {
    PendingCounts::decode(blob).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

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
            for (item, (t, s)) in g.counts() {
                let e = days
                    .entry((g.scope.clone(), *day, g.dim.clone(), item.clone()))
                    .or_default();
                e.0 += t;
                e.1 += s;
                if let Some(d) = rolled_day {
                    for span in [Span::Week, Span::Month] {
                        let key = (
                            g.scope.clone(),
                            span.code(),
                            day_key(span.start_of(d)),
                            g.dim.clone(),
                            item.clone(),
                        );
                        let e = spans.entry(key).or_default();
                        e.0 += t;
                        e.1 += s;
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

/// The pending batches' counts of `scope` for the days `from..=to`, per (day, dim, item):
/// read in the caller's snapshot, with the counters, so each batch counts exactly once.
async fn pending(
    snapshot: &mut Tx,
    scope: &str,
    from: i64,
    to: i64,
) -> Result<HashMap<(i64, String, String), Counts>, sqlx::Error> {
    let rows: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT day, counts FROM stat_pending WHERE day >= $1 AND day <= $2")
            .bind(from)
            .bind(to)
            .fetch_all(&mut **snapshot)
            .await?;
    let mut out: HashMap<(i64, String, String), Counts> = HashMap::new();
    for (day, blob) in rows {
        for g in decode_pending(&blob)?.groups {
            if g.scope != scope {
                continue;
            }
            for (item, (t, s)) in g.counts() {
                let e = out.entry((day, g.dim.clone(), item.clone())).or_default();
                e.0 += t;
                e.1 += s;
            }
        }
    }
    Ok(out)
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
fn in_dims(st: &mut Statement) {
    st.push(" AND dim IN (");
    st.bind_list(dim::ALL.iter().map(|d| SqlValue::Text((*d).to_owned())));
    st.push(")");
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

/// Every counter of `scope` over the days `cover` splits the period `from..=to` (day keys)
/// into, and the pending batches of those days, summed per (dimension, key), in one snapshot.
pub async fn sums(
    snapshot: &mut Tx,
    dialect: Dialect,
    scope: &str,
    cover: &Cover,
    (from, to): (i64, i64),
) -> Result<Vec<CounterRow>, sqlx::Error> {
    let mut total: HashMap<(String, String), (i64, i64)> = HashMap::new();
    let mut add = |rows: Vec<CounterRow>| {
        for r in rows {
            let e = total.entry((r.dim, r.item)).or_default();
            e.0 += r.threats;
            e.1 += r.sightings;
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
        add(st.query_as().fetch_all(&mut **snapshot).await?);
    }
    for (span, first, last) in &cover.units {
        add(sqlx::query_as(
            "SELECT dim, item, CAST(SUM(threats) AS BIGINT) AS threats, \
             CAST(SUM(sightings) AS BIGINT) AS sightings FROM stat_rollups \
             WHERE scope = $1 AND span = $2 AND start >= $3 AND start <= $4 GROUP BY dim, item",
        )
        .bind(scope)
        .bind(span.code())
        .bind(day_key(*first))
        .bind(day_key(*last))
        .fetch_all(&mut **snapshot)
        .await?);
    }
    let dims = dim::ALL;
    for ((_, d, item), (t, s)) in pending(snapshot, scope, from, to).await? {
        if dims.contains(&d.as_str()) {
            let e = total.entry((d, item)).or_default();
            e.0 += t;
            e.1 += s;
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

/// The day-by-day counters of the dimensions that answers show as series, with the pending
/// batches of those days, in one snapshot.
pub async fn daily(
    snapshot: &mut Tx,
    scope: &str,
    dims: &[&str],
    from: i64,
    to: i64,
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
    for (key, (t, s)) in pending(snapshot, scope, from, to).await? {
        if dims.contains(&key.1.as_str()) {
            let e = days.entry(key).or_default();
            e.0 += t;
            e.1 += s;
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

/// The registered province of each of `orgs` that exists.
pub async fn provinces_of(
    store: &Store,
    orgs: &[String],
) -> Result<HashMap<String, String>, sqlx::Error> {
    let mut out = HashMap::new();
    for chunk in orgs.chunks(500) {
        let mut st = Statement::new(
            store.dialect(),
            "SELECT id, province FROM organisations WHERE id IN (",
        );
        st.bind_list(chunk.iter().map(|o| SqlValue::Text(o.clone())));
        st.push(")");
        let rows: Vec<(String, String)> = st.query_as().fetch_all(store.pool()).await?;
        out.extend(rows);
    }
    Ok(out)
}

/// Which notices, targets and appeals a disposal or appeal figure covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    All,
    /// Addressees (appeals: the deciding regulator's jurisdiction) of this province.
    Province(String),
    /// This addressee (appeals: this filer).
    Organisation(String),
}

impl Filter {
    /// `AND …` for an organisation column `org` joined to `organisations o`.
    fn clause(&self, st: &mut Statement, org: &str) {
        match self {
            Filter::All => {}
            Filter::Province(p) => {
                st.push(" AND o.province = ")
                    .bind(SqlValue::Text(p.clone()));
            }
            Filter::Organisation(id) => {
                st.push(&format!(" AND {org} = "))
                    .bind(SqlValue::Text(id.clone()));
            }
        }
    }
}

/// `{select} WHERE {column}` in `[from, before)` `{and}`, narrowed by `filter` on `org`.
#[allow(clippy::too_many_arguments)]
fn in_period(
    dialect: Dialect,
    select: &str,
    column: &str,
    and: &str,
    filter: &Filter,
    org: &str,
    from: i64,
    before: i64,
) -> Statement {
    let mut st = Statement::new(dialect, &format!("{select} WHERE {column} >= "));
    st.bind(SqlValue::Int(from))
        .push(&format!(" AND {column} < "))
        .bind(SqlValue::Int(before))
        .push(and);
    filter.clause(&mut st, org);
    st
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IssuedRow {
    pub org_id: String,
    pub province: String,
    pub issued: i64,
}

/// Disposal notices (kind 1) issued in `[from, before)`, per addressee.
pub async fn notices_issued(
    store: &Store,
    filter: &Filter,
    from: i64,
    before: i64,
) -> Result<Vec<IssuedRow>, sqlx::Error> {
    let mut st = in_period(
        store.dialect(),
        "SELECT n.addressee AS org_id, o.province AS province, CAST(COUNT(*) AS BIGINT) AS issued \
         FROM notices n JOIN organisations o ON o.id = n.addressee",
        "n.issued_at",
        " AND n.kind = 1",
        filter,
        "n.addressee",
        from,
        before,
    );
    st.push(" GROUP BY n.addressee, o.province");
    st.query_as().fetch_all(store.pool()).await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DutyRow {
    pub org_id: String,
    pub province: String,
    pub due_at: i64,
    pub met_at: Option<i64>,
    pub not_disposed: i64,
}

/// Receipt duties due in `[from, before)`, as `DisposalService.GetComplianceSummary`
/// counts them (disposal and revocation notices).
pub async fn receipt_duties(
    store: &Store,
    filter: &Filter,
    from: i64,
    before: i64,
) -> Result<Vec<DutyRow>, sqlx::Error> {
    in_period(
        store.dialect(),
        "SELECT n.addressee AS org_id, o.province AS province, n.receipt_due AS due_at, \
         n.received_at AS met_at, 0 AS not_disposed FROM notices n \
         JOIN organisations o ON o.id = n.addressee",
        "n.receipt_due",
        " AND n.kind <> 2",
        filter,
        "n.addressee",
        from,
        before,
    )
    .query_as()
    .fetch_all(store.pool())
    .await
}

/// Result duties per target due in `[from, before)`, as GetComplianceSummary counts them.
pub async fn result_duties(
    store: &Store,
    filter: &Filter,
    from: i64,
    before: i64,
) -> Result<Vec<DutyRow>, sqlx::Error> {
    in_period(
        store.dialect(),
        "SELECT t.addressee AS org_id, o.province AS province, t.deadline AS due_at, \
         t.first_reported_at AS met_at, CASE WHEN t.result_outcome = 2 THEN 1 ELSE 0 END AS not_disposed \
         FROM notice_targets t JOIN organisations o ON o.id = t.addressee",
        "t.deadline",
        " AND NOT (t.revocation_notice_id IS NOT NULL AND t.first_reported_at IS NULL)",
        filter,
        "t.addressee",
        from,
        before,
    )
    .query_as()
    .fetch_all(store.pool())
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VerifiedRow {
    pub org_id: String,
    pub province: String,
    pub verification: Option<Vec<u8>>,
}

/// Targets verified in `[from, before)` with their verification (protobuf).
pub async fn verified_targets(
    store: &Store,
    filter: &Filter,
    from: i64,
    before: i64,
) -> Result<Vec<VerifiedRow>, sqlx::Error> {
    in_period(
        store.dialect(),
        "SELECT t.addressee AS org_id, o.province AS province, t.verification AS verification \
         FROM notice_targets t JOIN organisations o ON o.id = t.addressee",
        "t.verified_at",
        "",
        filter,
        "t.addressee",
        from,
        before,
    )
    .query_as()
    .fetch_all(store.pool())
    .await
}

/// Bodies (protobuf `Appeal`) of the appeals filed in `[from, before)`: of the province's
/// notices, or filed by the organisation.
pub async fn appeals_filed(
    store: &Store,
    filter: &Filter,
    from: i64,
    before: i64,
) -> Result<Vec<Vec<u8>>, sqlx::Error> {
    let mut st = in_period(
        store.dialect(),
        "SELECT a.body FROM appeals a",
        "a.filed_at",
        "",
        &Filter::All,
        "",
        from,
        before,
    );
    match filter {
        Filter::All => {}
        Filter::Province(p) => {
            st.push(" AND a.province = ")
                .bind(SqlValue::Text(p.clone()));
        }
        Filter::Organisation(o) => {
            st.push(" AND a.filer = ").bind(SqlValue::Text(o.clone()));
        }
    }
    let rows: Vec<(Vec<u8>,)> = st.query_as().fetch_all(store.pool()).await?;
    Ok(rows.into_iter().map(|(b,)| b).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statistics::rollup::cover;
    use chrono::Datelike;

    async fn store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        Store::connect(&url).await.expect("a SQLite store")
    }

    /// Commits one batch of `ports` (each a new threat) on `day`, as the intake does.
    async fn batch(store: &Store, day: NaiveDate, ports: &[&str]) {
        let mut tally = Tally::new(day);
        let scopes = [NATIONAL.to_owned(), organisation_scope("vendor-bj")];
        for port in ports {
            tally.add(&scopes, dim::TOTAL, "", true);
            tally.add(&scopes, dim::CONTROL_PORT, port, true);
        }
        let mut tx = store.begin().await.unwrap();
        tally.commit(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
    }

    async fn count(store: &Store, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    /// (threats of `dim`/`item`) over `from..=to` for `scope`, as a statistics read sees it.
    async fn read(
        store: &Store,
        scope: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Vec<(String, i64)> {
        let mut snapshot = store.read_snapshot().await.unwrap();
        let rolled = rolled_through(&mut snapshot).await.unwrap();
        let mut rows: Vec<(String, i64)> = sums(
            &mut snapshot,
            store.dialect(),
            scope,
            &cover(from, to, rolled),
            (day_key(from), day_key(to)),
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| (format!("{}/{}", r.dim, r.item), r.threats))
        .collect();
        rows.sort();
        rows
    }

    #[tokio::test]
    async fn a_batch_counts_once_whether_pending_or_folded_and_a_rolled_day_reaches_the_roll_ups() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let d = NaiveDate::from_ymd_opt(2026, 11, 4).unwrap();
        let next = d.succ_opt().unwrap();
        batch(&store, d, &["TCP/80", "TCP/80", "UDP/53"]).await;
        batch(&store, d, &["TCP/80"]).await;
        batch(&store, next, &["TCP/443"]).await;
        // Nothing folded yet: the figures come from the pending batches alone.
        assert_eq!(count(&store, "SELECT COUNT(*) FROM stat_counters").await, 0);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM stat_pending").await, 3);
        let want = vec![
            ("port/TCP/443".to_owned(), 1),
            ("port/TCP/80".to_owned(), 3),
            ("port/UDP/53".to_owned(), 1),
            ("total/".to_owned(), 5),
        ];
        assert_eq!(read(&store, NATIONAL, d, next).await, want);
        assert_eq!(
            read(&store, NATIONAL, next, next).await[0],
            ("port/TCP/443".to_owned(), 1)
        );
        let daily_total = |rows: Vec<DayRow>| -> Vec<(i64, i64)> {
            let mut v: Vec<(i64, i64)> = rows.into_iter().map(|r| (r.day, r.threats)).collect();
            v.sort();
            v
        };
        let mut snapshot = store.read_snapshot().await.unwrap();
        let before = daily(
            &mut snapshot,
            NATIONAL,
            &[dim::TOTAL],
            day_key(d),
            day_key(next),
        )
        .await
        .unwrap();
        drop(snapshot);
        assert_eq!(daily_total(before), [(day_key(d), 4), (day_key(next), 1)]);

        // Folded: the same figures, from the counters, one row per key and day.
        assert_eq!(fold(&store).await.unwrap(), 3);
        assert_eq!(fold(&store).await.unwrap(), 0);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM stat_pending").await, 0);
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM stat_counters WHERE scope = '*'"
            )
            .await,
            5,
            "total and two ports on the first day, total and one port on the next"
        );
        assert_eq!(read(&store, NATIONAL, d, next).await, want);
        assert_eq!(
            read(&store, &organisation_scope("vendor-bj"), d, next).await,
            want
        );

        // A day already rolled into weeks and months: its late batch reaches the roll-ups
        // when folded, and a period read from them counts it once.
        assert!(roll_up(&store, next).await.unwrap() >= 2);
        batch(&store, d, &["TCP/80"]).await;
        let month = (
            d.with_day(1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        );
        let before = read(&store, NATIONAL, month.0, month.1).await;
        assert_eq!(fold(&store).await.unwrap(), 1);
        let after = read(&store, NATIONAL, month.0, month.1).await;
        assert_eq!(before, after);
        assert_eq!(after.last(), Some(&("total/".to_owned(), 6)));
        let (month_total,): (i64,) = sqlx::query_as(
            "SELECT threats FROM stat_rollups WHERE scope = '*' AND span = 'M' AND start = $1 \
             AND dim = 'total' AND item = ''",
        )
        .bind(day_key(month.0))
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(month_total, 6);
    }
}
