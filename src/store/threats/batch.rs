//! The intake's batch write: one transaction per group commit (see the module contract).

use super::*;
struct Existing {
    content_sha256: String,
    threat_id: String,
    sighting_id: String,
    created_threat: bool,
    received_at: i64,
}

/// Stores a batch; see the module contract. Each first report gets its deadline from
/// `policy` (reporting measures Art. 13), computed here in Rust: the calendar is read at
/// most once per batch, and only when a working-day limit needs it.
pub async fn ingest(
    store: &Store,
    policy: &DeadlinePolicy,
    now: DateTime<Utc>,
    items: &[IngestItem],
) -> Result<Vec<IngestOutcome>, sqlx::Error> {
    let mut tx = store.begin().await?;
    let sql = format!(
        "SELECT position FROM feed_head WHERE id = 1{}",
        store.dialect().for_update()
    );
    let (mut position,): (i64,) = sqlx::query_as(AssertSqlSafe(sql))
        .fetch_one(&mut *tx)
        .await?;
    let at = to_micros(now);
    // Read under the feed_head lock (see `taxii::enable_object_index`).
    let index_object_ids = crate::store::taxii::object_index_enabled(&mut tx).await?;

    let mut existing = existing_submissions(&mut tx, store.dialect(), items).await?;
    let mut by_key = known_dedup_keys(&mut tx, store.dialect(), items).await?;
    let followed = followed_threats(&mut tx, store.dialect(), items).await?;
    let mut calendar: Option<WorkingCalendar> = None;
    let mut deadlines = reporting::BatchDeadlines::new(policy);

    let mut threats = Vec::new();
    let mut sightings = Vec::new();
    // TAXII's object-id index, committed with the sightings where it is kept (issue #14).
    let mut object_ids = Vec::new();
    let mut events = Vec::new();
    let mut entries = Vec::new();
    let mut responsible = std::collections::HashSet::new();
    let mut provinces = std::collections::HashSet::new();
    let mut outcomes = Vec::with_capacity(items.len());
    // Statistics counters: summed here, added in this transaction (issue #15).
    let mut tally = crate::store::statistics::Tally::new(crate::domain::calendar::local_date(now));
    for item in items {
        let s = &item.submission;
        let org = &item.actor.organisation_id;
        let idem = (org.clone(), s.submission_id.clone());
        if let Some(e) = existing.get(&idem) {
            outcomes.push(if e.content_sha256 == s.content_sha256 {
                IngestOutcome::Stored {
                    threat_id: e.threat_id.clone(),
                    sighting_id: e.sighting_id.clone(),
                    created_threat: e.created_threat,
                    committed_at: e.received_at,
                    replayed: true,
                }
            } else {
                IngestOutcome::Refused(Refusal::Conflict {
                    submission_id: s.submission_id.clone(),
                })
            });
            continue;
        }
        let (threat_id, category, created) = if let Some(followed_id) = &s.follows_up {
            match followed.get(&(org.clone(), followed_id.clone())) {
                None => {
                    outcomes.push(IngestOutcome::Refused(Refusal::UnknownThreat {
                        threat_id: followed_id.clone(),
                    }));
                    continue;
                }
                Some(c) if s.category.is_some_and(|sc| sc as i64 != *c) => {
                    outcomes.push(IngestOutcome::Refused(Refusal::CategoryMismatch {
                        threat_id: followed_id.clone(),
                    }));
                    continue;
                }
                Some(c) => (followed_id.clone(), *c, false),
            }
        } else {
            let category = s
                .category
                .map(|c| c as i64)
                .unwrap_or(Category::Other as i64);
            match s.dedup_key.as_ref().and_then(|k| by_key.get(k)) {
                Some(id) => (id.clone(), category, false),
                None => {
                    let id = uuid::Uuid::now_v7().to_string();
                    if let Some(k) = &s.dedup_key {
                        by_key.insert(k.clone(), id.clone());
                    }
                    threats.push(vec![
                        SqlValue::Text(id.clone()),
                        SqlValue::Int(category),
                        SqlValue::OptText(s.dedup_key.clone()),
                        SqlValue::Text(s.indicator.clone()),
                        SqlValue::Int(1),
                        SqlValue::Int(0),
                        SqlValue::Int(at),
                    ]);
                    (id, category, true)
                }
            }
        };
        for org in &item.responsible {
            responsible.insert((threat_id.clone(), org.clone()));
        }
        for province in &item.provinces {
            provinces.insert((threat_id.clone(), province.clone()));
        }
        let deadline = s
            .report_level
            .and_then(|level| deadlines.entry(&item.province, level));
        let due = match &deadline {
            None => None,
            Some((d, _)) if !d.limit.needs_calendar() => {
                deadlines.due(&item.province, *d, s.discovered_at, &WorkingCalendar::new())
            }
            Some((d, _)) => {
                if calendar.is_none() {
                    // A stored year that cannot be read must not refuse reports: fall back
                    // to the shipped years (a deadline past them stays unset).
                    calendar = Some(match crate::store::calendar::effective(&mut tx).await {
                        Ok(c) => c,
                        Err(e) => {
                            tracing::error!(error = %format!("{e:#}"), "report deadlines use the shipped calendar");
                            WorkingCalendar::embedded()
                        }
                    });
                }
                let calendar = calendar.as_ref().expect("read above");
                deadlines.due(&item.province, *d, s.discovered_at, calendar)
            }
        };
        if tally.on() {
            tally.sighting(
                &crate::store::statistics::scopes(org, &item.province, &item.provinces),
                crate::statistics::facts::of_report(&s.report, category),
                &item.provinces,
                &item.responsible,
                created,
            );
        }
        let sighting_id = uuid::Uuid::now_v7().to_string();
        if index_object_ids {
            // This sighting's feed event takes the next position (below).
            object_ids.extend(crate::store::taxii::object_key_rows(
                position + 1,
                &sighting_id,
                &s.report,
            ));
        }
        sightings.push(vec![
            SqlValue::Text(sighting_id.clone()),
            SqlValue::Text(threat_id.clone()),
            SqlValue::Text(org.clone()),
            SqlValue::Text(item.province.clone()),
            SqlValue::Text(s.submission_id.clone()),
            SqlValue::Text(s.content_sha256.clone()),
            SqlValue::Int(s.tlp as i64),
            SqlValue::Int(to_micros(s.discovered_at)),
            SqlValue::Int(at),
            SqlValue::Int(i64::from(created)),
            SqlValue::Bytes(s.report.clone()),
            SqlValue::OptInt(due.map(to_micros)),
            SqlValue::OptText(deadline.map(|(_, key)| key)),
            SqlValue::Int(i64::from(reporting::reported_late(now, due))),
        ]);
        position += 1;
        events.push(vec![
            SqlValue::Int(position),
            SqlValue::Int(at),
            SqlValue::Text(
                if created {
                    "new_threat"
                } else {
                    "new_sighting"
                }
                .into(),
            ),
            SqlValue::Text(threat_id.clone()),
            SqlValue::OptText(Some(sighting_id.clone())),
            SqlValue::Int(category),
            SqlValue::OptText(None),
        ]);
        entries.push(AuditEntry {
            actor: item.actor.clone(),
            action: "threat.submit".into(),
            subject: format!("sighting:{sighting_id}"),
            details: serde_json::json!({
                "threat_id": threat_id,
                "submission_id": s.submission_id,
                "created_threat": created,
                "tlp": s.tlp as i64,
                "content_sha256": s.content_sha256,
            }),
        });
        existing.insert(
            idem,
            Existing {
                content_sha256: s.content_sha256.clone(),
                threat_id: threat_id.clone(),
                sighting_id: sighting_id.clone(),
                created_threat: created,
                received_at: at,
            },
        );
        outcomes.push(IngestOutcome::Stored {
            threat_id,
            sighting_id,
            created_threat: created,
            committed_at: at,
            replayed: false,
        });
    }

    if !sightings.is_empty() {
        bulk::insert(
            &mut tx,
            store.dialect(),
            "threats",
            &[
                "id",
                "category",
                "dedup_key",
                "indicator",
                "status",
                "grade",
                "created_at",
            ],
            threats,
        )
        .await?;
        bulk::insert(
            &mut tx,
            store.dialect(),
            "sightings",
            &[
                "id",
                "threat_id",
                "reporter_org",
                "reporter_province",
                "submission_id",
                "content_sha256",
                "tlp",
                "discovered_at",
                "received_at",
                "created_threat",
                "report",
                "report_due",
                "report_deadline",
                "reported_late",
            ],
            sightings,
        )
        .await?;
        bulk::insert(
            &mut tx,
            store.dialect(),
            "feed_events",
            &[
                "position",
                "committed_at",
                "kind",
                "threat_id",
                "sighting_id",
                "category",
                "details_json",
            ],
            events,
        )
        .await?;
        crate::store::taxii::insert_object_keys(&mut tx, store.dialect(), object_ids).await?;
        crate::delivery::announce_feed(&mut tx, store.dialect()).await?;
        let responsible: Vec<Vec<SqlValue>> = responsible
            .into_iter()
            .map(|(t, o)| vec![SqlValue::Text(t), SqlValue::Text(o)])
            .collect();
        bulk::insert_new(
            &mut tx,
            store.dialect(),
            "threat_responsible",
            &["threat_id", "org_id"],
            responsible,
        )
        .await?;
        let provinces: Vec<Vec<SqlValue>> = provinces
            .into_iter()
            .map(|(t, p)| vec![SqlValue::Text(t), SqlValue::Text(p)])
            .collect();
        bulk::insert_new(
            &mut tx,
            store.dialect(),
            "threat_provinces",
            &["threat_id", "province"],
            provinces,
        )
        .await?;
        sqlx::query("UPDATE feed_head SET position = $1 WHERE id = 1")
            .bind(position)
            .execute(&mut *tx)
            .await?;
        audit::append_many(&mut tx, store.dialect(), now, &entries).await?;
        tally.commit(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Earlier submissions with the batch's idempotency keys.
async fn existing_submissions(
    tx: &mut Tx,
    dialect: Dialect,
    items: &[IngestItem],
) -> Result<HashMap<(String, String), Existing>, sqlx::Error> {
    let mut by_org: HashMap<&str, Vec<&str>> = HashMap::new();
    for i in items {
        by_org
            .entry(&i.actor.organisation_id)
            .or_default()
            .push(&i.submission.submission_id);
    }
    let mut out = HashMap::new();
    for (org, ids) in by_org {
        for chunk in ids.chunks(500) {
            let mut st = Statement::new(
                dialect,
                "SELECT submission_id, content_sha256, threat_id, id, created_threat, received_at FROM sightings WHERE reporter_org = ",
            );
            st.bind(SqlValue::Text(org.to_owned()))
                .push(" AND submission_id IN (");
            st.bind_list(chunk.iter().map(|s| SqlValue::Text((*s).to_owned())))
                .push(")");
            let rows: Vec<(String, String, String, String, i64, i64)> =
                st.query_as().fetch_all(&mut **tx).await?;
            for (sub, content, threat, sighting, created, received) in rows {
                out.insert(
                    (org.to_owned(), sub),
                    Existing {
                        content_sha256: content,
                        threat_id: threat,
                        sighting_id: sighting,
                        created_threat: created != 0,
                        received_at: received,
                    },
                );
            }
        }
    }
    Ok(out)
}

async fn known_dedup_keys(
    tx: &mut Tx,
    dialect: Dialect,
    items: &[IngestItem],
) -> Result<HashMap<String, String>, sqlx::Error> {
    let mut keys: Vec<&str> = items
        .iter()
        .filter_map(|i| i.submission.dedup_key.as_deref())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut out = HashMap::new();
    for chunk in keys.chunks(500) {
        let mut st = Statement::new(
            dialect,
            "SELECT dedup_key, id FROM threats WHERE dedup_key IN (",
        );
        st.bind_list(chunk.iter().map(|k| SqlValue::Text((*k).to_owned())))
            .push(")");
        let rows: Vec<(String, String)> = st.query_as().fetch_all(&mut **tx).await?;
        out.extend(rows);
    }
    Ok(out)
}

/// The followed-up threats each reporter may see, keyed by (reporter, threat id): one
/// visibility rule for follow-ups as for reads, so an invisible threat looks like none.
async fn followed_threats(
    tx: &mut Tx,
    dialect: Dialect,
    items: &[IngestItem],
) -> Result<HashMap<(String, String), i64>, sqlx::Error> {
    let mut by_reporter: HashMap<&str, (&Reader, Vec<&str>)> = HashMap::new();
    for item in items {
        if let Some(id) = item.submission.follows_up.as_deref() {
            by_reporter
                .entry(item.actor.organisation_id.as_str())
                .or_insert_with(|| (&item.reader, Vec::new()))
                .1
                .push(id);
        }
    }
    let mut out = HashMap::new();
    for (org, (reader, ids)) in by_reporter {
        for chunk in ids.chunks(500) {
            let mut st = Statement::new(
                dialect,
                "SELECT t.id, t.category FROM threats t WHERE t.id IN (",
            );
            st.bind_list(chunk.iter().map(|k| SqlValue::Text((*k).to_owned())))
                .push(") AND EXISTS (SELECT 1 FROM sightings s WHERE s.threat_id = t.id AND ");
            push_visibility(&mut st, reader);
            st.push(")");
            let rows: Vec<(String, i64)> = st.query_as().fetch_all(&mut **tx).await?;
            out.extend(rows.into_iter().map(|(id, c)| ((org.to_owned(), id), c)));
        }
    }
    Ok(out)
}
