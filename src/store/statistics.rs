//! Statistics storage: the counters the intake adds to in its own transaction, the
//! country ranges, and the indexed reads of notices and appeals by period.
//!
//! # Contract
//! - [`Tally::commit`] runs inside the intake's transaction: the counters of a batch
//!   commit with its sightings or not at all, so a figure never counts an unacknowledged
//!   report or misses an acknowledged one.
//! - Counters are only ever added to. Retention deletes raw rows, never counters: a
//!   period's figures are what was received in it.
//! - The week and month roll-ups (`stat_rollups`) hold exactly the sum of the days up to
//!   `stat_rollup_state.rolled_through`. [`roll_up`] adds days in order, only days that
//!   ended more than a day before, and moves the mark in the same transaction. A batch
//!   counted under a day already rolled (its transaction began before the day was rolled)
//!   reads the mark after writing its day counters and adds to the roll-ups too: on SQLite
//!   writers are serial, so the mark it reads is the one its counters fall under; on
//!   PostgreSQL the roll-up can miss such a batch only if the batch's transaction stays open
//!   for more than a day after it took its day, which no intake transaction does.

use std::collections::HashMap;

use chrono::{Days, NaiveDate};

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
/// One counter: (scope, dimension, key) and what it gains.
type CounterAddition = ((String, &'static str, String), Counts);

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

    /// Looks up the control servers' countries and adds everything to the counters, in `tx`.
    pub async fn commit(mut self, tx: &mut Tx, dialect: Dialect) -> Result<(), sqlx::Error> {
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
        let counts: Vec<CounterAddition> = self
            .counts
            .into_iter()
            .flat_map(|((i, d), keys)| {
                let scope = &self.scopes[i];
                keys.into_iter()
                    .map(move |(key, c)| ((scope.clone(), d, key), c))
            })
            .collect();
        bulk::insert_or_add(
            tx,
            dialect,
            "stat_counters",
            &["scope", "day", "dim", "item", "threats", "sightings"],
            4,
            counter_rows(&counts, &[SqlValue::Int(self.day)]),
        )
        .await?;
        // Read after the counters are written (see the module's contract).
        let rolled: i64 = sqlx::query_scalar("SELECT rolled_through FROM stat_rollup_state")
            .fetch_one(&mut **tx)
            .await?;
        if self.day > rolled {
            return Ok(());
        }
        let Some(day) = day_of_key(self.day) else {
            return Ok(());
        };
        for span in [Span::Week, Span::Month] {
            let unit = [
                SqlValue::Text(span.code().to_owned()),
                SqlValue::Int(day_key(span.start_of(day))),
            ];
            bulk::insert_or_add(
                tx,
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
                counter_rows(&counts, &unit),
            )
            .await?;
        }
        Ok(())
    }
}

/// One row per counted key: its scope, then `unit` (a day, or a span and its start), then
/// its dimension, key and counts.
fn counter_rows(counts: &[CounterAddition], unit: &[SqlValue]) -> Vec<Vec<SqlValue>> {
    counts
        .iter()
        .map(|((scope, d, key), (threats, sightings))| {
            let mut row = vec![SqlValue::Text(scope.clone())];
            row.extend_from_slice(unit);
            row.extend([
                SqlValue::Text((*d).to_owned()),
                SqlValue::Text(key.clone()),
                SqlValue::Int(*threats),
                SqlValue::Int(*sightings),
            ]);
            row
        })
        .collect()
}

/// The last day whose counters are in the roll-ups, if any is.
pub async fn rolled_through(store: &Store) -> Result<Option<NaiveDate>, sqlx::Error> {
    let k: i64 = sqlx::query_scalar("SELECT rolled_through FROM stat_rollup_state")
        .fetch_one(store.pool())
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

/// Every counter of `scope` over the days `cover` splits a period into, summed per
/// (dimension, key).
pub async fn sums(
    store: &Store,
    scope: &str,
    cover: &Cover,
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
            store.dialect(),
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
        add(st.query_as().fetch_all(store.pool()).await?);
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
        .fetch_all(store.pool())
        .await?);
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

/// The day-by-day counters of the dimensions that answers show as series.
pub async fn daily(
    store: &Store,
    scope: &str,
    dims: &[&str],
    from: i64,
    to: i64,
) -> Result<Vec<DayRow>, sqlx::Error> {
    let mut rows = Vec::new();
    for d in dims {
        let mut part: Vec<DayRow> = sqlx::query_as(
            "SELECT day, dim, item, threats, sightings FROM stat_counters \
             WHERE scope = $1 AND dim = $2 AND day >= $3 AND day <= $4",
        )
        .bind(scope)
        .bind(*d)
        .bind(from)
        .bind(to)
        .fetch_all(store.pool())
        .await?;
        rows.append(&mut part);
    }
    Ok(rows)
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
