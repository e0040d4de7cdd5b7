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

mod counters;
mod disposal;
mod read;
mod tally;
#[cfg(test)]
mod tests;

pub use counters::{FOLD_BATCHES, fold, roll_up, rolled_through};
pub use disposal::{
    DutyRow, Filter, IssuedRow, VerifiedRow, appeals_filed, notices_issued, provinces_of,
    receipt_duties, result_duties, verified_targets,
};
pub use read::{CounterRow, DayRow, Pending, daily, pending, sums};
pub use tally::Tally;

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

/// Adds `more` to the counts `to`.
fn add(to: &mut Counts, more: Counts) {
    to.0 += more.0;
    to.1 += more.1;
}
