//! The shared feed's events as each reader may see them (Art. 6): one visibility rule for
//! every event.

use tonic::Status;

use super::{ThreatApi, view};
use crate::api::internal;
use crate::domain::threat::Tlp;
use crate::domain::threat::visibility::{Reader, SightingFacts, can_see};
use crate::pb;
use crate::store::threats as store;

impl ThreatApi {
    /// Whether the reader is responsible for these threats (AMBER reaches them).
    async fn responsible(
        &self,
        reader: &Reader,
        threat_ids: &[String],
    ) -> Result<Vec<String>, Status> {
        match reader {
            Reader::Everything => Ok(Vec::new()),
            Reader::Province { org, .. } | Reader::Unit { org, .. } => {
                store::responsible_for(&self.store, org, threat_ids)
                    .await
                    .map_err(internal)
            }
        }
    }

    /// Those of these threats about a resource in a provincial reader's province (Art. 6).
    async fn in_province(
        &self,
        reader: &Reader,
        threat_ids: &[String],
    ) -> Result<Vec<String>, Status> {
        match reader {
            Reader::Province { province, .. } => {
                store::in_province(&self.store, province, threat_ids)
                    .await
                    .map_err(internal)
            }
            Reader::Everything | Reader::Unit { .. } => Ok(Vec::new()),
        }
    }

    /// The events of `rows` this reader may see, as the contract shows them.
    pub(super) async fn visible_events(
        &self,
        reader: &Reader,
        categories: &[i64],
        rows: Vec<store::FeedRow>,
    ) -> Result<Vec<pb::FeedEvent>, Status> {
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|r| categories.is_empty() || categories.contains(&r.category))
            .collect();
        let sighting_ids: Vec<String> = rows.iter().filter_map(|r| r.sighting_id.clone()).collect();
        let sightings = store::sightings_by_id(&self.store, &sighting_ids)
            .await
            .map_err(internal)?;
        let mut threat_ids: Vec<String> = rows.iter().map(|r| r.threat_id.clone()).collect();
        threat_ids.sort();
        threat_ids.dedup();
        let responsible = self.responsible(reader, &threat_ids).await?;
        let in_province = self.in_province(reader, &threat_ids).await?;
        let new_threat_ids: Vec<String> = rows
            .iter()
            .filter(|r| r.kind == "new_threat")
            .map(|r| r.threat_id.clone())
            .collect();
        let threats = store::threats_by_id(&self.store, &new_threat_ids)
            .await
            .map_err(internal)?;
        // An identification concerns the whole threat: shown to whoever sees a sighting of it.
        let identified_ids: Vec<String> = rows
            .iter()
            .filter(|r| r.kind == "identified")
            .map(|r| r.threat_id.clone())
            .collect();
        let identified_visible = store::sighting_stats(&self.store, &identified_ids, reader)
            .await
            .map_err(internal)?;
        let mut out = Vec::new();
        for r in rows {
            if r.kind == "identified" {
                if !identified_visible.contains_key(&r.threat_id) {
                    continue;
                }
                let d: serde_json::Value = r
                    .details_json
                    .as_deref()
                    .and_then(|j| serde_json::from_str(j).ok())
                    .unwrap_or_default();
                out.push(pb::FeedEvent {
                    cursor: view::encode_cursor(r.position),
                    committed_at: Some(super::super::timestamp(r.committed_at)),
                    threat_id: r.threat_id.clone(),
                    event: Some(pb::feed_event::Event::Identified(
                        view::identification_summary(&d),
                    )),
                });
                continue;
            }
            let Some(s) = r.sighting_id.as_ref().and_then(|id| sightings.get(id)) else {
                continue;
            };
            let sees = |tlp: i64| {
                can_see(
                    reader,
                    &SightingFacts {
                        tlp: Tlp::from_i64(tlp).unwrap_or(Tlp::Red),
                        reporter: &s.reporter_org,
                        reporter_province: &s.reporter_province,
                        reader_responsible: responsible.contains(&s.threat_id),
                        in_reader_province: in_province.contains(&s.threat_id),
                    },
                )
            };
            let event = match r.kind.as_str() {
                "new_threat" | "new_sighting" => {
                    // The event shows the sighting as it was reported; a later
                    // re-marking travels as its own tlp_changed event. A replay also
                    // applies today's marking: a sighting narrowed since is not shown to
                    // a reader who may no longer see it.
                    let original_tlp = view::reported_tlp(s);
                    if !sees(original_tlp) || !sees(s.tlp) {
                        continue;
                    }
                    let mut shown = view::sighting(s);
                    if let Some(rep) = shown.report.as_mut() {
                        rep.tlp = original_tlp as i32;
                    }
                    match (r.kind.as_str(), threats.get(&r.threat_id)) {
                        ("new_threat", Some(t)) => {
                            let stats = store::SightingStats {
                                count: 1,
                                first_seen: s.discovered_at,
                                last_seen: s.discovered_at,
                            };
                            pb::feed_event::Event::NewThreat(view::threat(t, stats, vec![shown]))
                        }
                        _ => pb::feed_event::Event::NewSighting(shown),
                    }
                }
                "tlp_changed" => {
                    let d: serde_json::Value = r
                        .details_json
                        .as_deref()
                        .and_then(|j| serde_json::from_str(j).ok())
                        .unwrap_or_default();
                    let (old, new) = (
                        d["old_tlp"].as_i64().unwrap_or(5),
                        d["new_tlp"].as_i64().unwrap_or(5),
                    );
                    if !sees(old) && !sees(new) {
                        continue;
                    }
                    // The content only while the current marking still allows it.
                    let sighting = (sees(new) && sees(s.tlp)).then(|| {
                        let mut shown = view::sighting(s);
                        if let Some(rep) = shown.report.as_mut() {
                            rep.tlp = new as i32;
                        }
                        shown
                    });
                    pb::feed_event::Event::TlpChanged(pb::TlpChange {
                        sighting_id: s.id.clone(),
                        old_tlp: old as i32,
                        new_tlp: new as i32,
                        sighting,
                    })
                }
                _ => continue,
            };
            out.push(pb::FeedEvent {
                cursor: view::encode_cursor(r.position),
                committed_at: Some(super::super::timestamp(r.committed_at)),
                threat_id: r.threat_id.clone(),
                event: Some(event),
            });
        }
        Ok(out)
    }
}
