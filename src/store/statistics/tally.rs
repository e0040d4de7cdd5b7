//! One intake batch's counts, summed in memory and kept as one `stat_pending` row.

use std::collections::HashMap;

use prost::Message as _;
use rustc_hash::FxHashMap;

use super::{Counts, counting, day_key};
use crate::statistics::facts::{self, ControlServer, Facts, dim};
use crate::store::Tx;

/// One batch's additions to the counters, summed in memory first.
#[derive(Debug)]
pub struct Tally {
    /// Read once per batch (see [`super::set_counting`]).
    on: bool,
    day: i64,
    /// (scope, dimension) → key → (threats, sightings). Nested so that adding to a key
    /// already seen in the batch allocates nothing. FxHash: the keys are the platform's own
    /// strings, and SipHash was most of the tally's cost at intake.
    counts: FxHashMap<(usize, &'static str), FxHashMap<String, Counts>>,
    /// The batch's scopes, by their index in `counts`.
    scopes: Vec<String>,
    scope_index: FxHashMap<String, usize>,
    /// Control servers waiting for their country (looked up in the transaction).
    controls: Vec<(Vec<usize>, ControlServer, bool)>,
}

impl Tally {
    pub fn new(day: chrono::NaiveDate) -> Tally {
        Tally {
            on: counting(),
            day: day_key(day),
            counts: FxHashMap::default(),
            scopes: Vec::new(),
            scope_index: FxHashMap::default(),
            controls: Vec::new(),
        }
    }

    /// Whether this batch is counted.
    pub fn on(&self) -> bool {
        self.on
    }

    #[cfg(test)]
    pub(super) fn add(&mut self, scopes: &[String], d: &'static str, key: &str, created: bool) {
        let ids = self.scope_ids(scopes);
        self.add_to(&ids, d, key, created);
    }

    /// The index of each of `scopes` in `counts`, added when new: resolved once per sighting.
    fn scope_ids(&mut self, scopes: &[String]) -> Vec<usize> {
        scopes
            .iter()
            .map(|s| match self.scope_index.get(s.as_str()) {
                Some(i) => *i,
                None => {
                    self.scopes.push(s.clone());
                    self.scope_index.insert(s.clone(), self.scopes.len() - 1);
                    self.scopes.len() - 1
                }
            })
            .collect()
    }

    fn add_to(&mut self, scope_ids: &[usize], d: &'static str, key: &str, created: bool) {
        for i in scope_ids {
            let keys = self.counts.entry((*i, d)).or_default();
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
        let ids = self.scope_ids(scopes);
        for (d, k) in &facts.keys {
            self.add_to(&ids, d, k, created);
        }
        let none = [facts::NONE.to_owned()];
        let provinces = if provinces.is_empty() {
            &none[..]
        } else {
            provinces
        };
        for p in provinces {
            self.add_to(&ids, dim::RESOURCE_PROVINCE, p, created);
            if facts.controlled_host {
                self.add_to(&ids, dim::CONTROLLED_HOSTS, p, created);
            }
        }
        let units = if responsible.is_empty() {
            &none[..]
        } else {
            responsible
        };
        for o in units {
            self.add_to(&ids, dim::RESPONSIBLE_UNIT, o, created);
        }
        if let Some(cs) = facts.control_server {
            self.controls.push((ids, cs, created));
        }
    }

    /// Looks up the control servers' countries and keeps the batch's counts as one
    /// `stat_pending` row, in `tx` (the intake's); [`super::fold`] adds them to the counters later.
    pub async fn commit(mut self, tx: &mut Tx) -> Result<(), sqlx::Error> {
        if !self.on {
            return Ok(());
        }
        if !self.controls.is_empty() {
            let version = crate::store::geo::version(tx).await?;
            let mut cache: HashMap<String, Option<String>> = HashMap::new();
            for (ids, cs, created) in std::mem::take(&mut self.controls) {
                let mut found = None;
                if let (Some(v), Some(ip)) = (version, &cs.ip) {
                    if !cache.contains_key(ip) {
                        let c = crate::store::geo::country_in(tx, v, ip).await?;
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
                self.add_to(
                    &ids,
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

/// One intake batch's counts as `stat_pending` keeps them until [`super::fold`].
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct PendingCounts {
    #[prost(message, repeated, tag = "1")]
    pub(super) groups: Vec<PendingGroup>,
}

/// A (scope, dimension)'s keys and what each gains; the three lists run in parallel.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct PendingGroup {
    #[prost(string, tag = "1")]
    pub(super) scope: String,
    #[prost(string, tag = "2")]
    pub(super) dim: String,
    #[prost(string, repeated, tag = "3")]
    items: Vec<String>,
    #[prost(int64, repeated, tag = "4")]
    threats: Vec<i64>,
    #[prost(int64, repeated, tag = "5")]
    sightings: Vec<i64>,
}

impl PendingGroup {
    pub(super) fn counts(&self) -> impl Iterator<Item = (&String, Counts)> {
        self.items
            .iter()
            .zip(self.threats.iter().zip(&self.sightings))
            .map(|(item, (t, s))| (item, (*t, *s)))
    }
}

pub(super) fn decode_pending(blob: &[u8]) -> Result<PendingCounts, sqlx::Error> {
    PendingCounts::decode(blob).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}
