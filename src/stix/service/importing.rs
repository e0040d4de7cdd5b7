//! The import: a bundle planned, each report validated as `SubmitThreat` does and committed
//! through the intake queue, one answer per object; and an organisation's import defaults.

use serde_json::Value;

use super::Services;
use crate::auth::Caller;
use crate::intake::report as validation;
use crate::intake::{IntakeError, MAX_BATCH};
use crate::pb;
use crate::stix::import::{self, Plan};
use crate::store::Store;
use crate::store::threats::{self as store, IngestOutcome, Refusal};

/// What became of one object of an imported bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The report created a new threat.
    Stored,
    /// The report is a new sighting of an existing threat.
    Sighting,
    /// Stored already (same id and modified, or the caller's own exported sighting).
    Replayed,
    /// Part of another object's report.
    Used,
    Refused,
}

/// Why an object was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectRefusal {
    /// The mapping or the intake's validation refused it: input wrong in itself.
    Invalid { field: String, reason: String },
    /// What is stored refused it (idempotency conflict, unknown or mismatched follow-up).
    Stored(Refusal),
}

/// One object's answer, in the bundle's order.
#[derive(Debug, Clone)]
pub struct ObjectResult {
    pub object_id: String,
    pub stix_type: String,
    pub outcome: Outcome,
    pub threat_id: String,
    pub sighting_id: String,
    pub submission_id: String,
    pub used_by: String,
    pub refusal: Option<ObjectRefusal>,
    pub notes: Vec<String>,
}

impl ObjectResult {
    fn of(p: &import::Planned, outcome: Outcome) -> ObjectResult {
        ObjectResult {
            object_id: p.id.clone(),
            stix_type: p.stix_type.clone(),
            outcome,
            threat_id: String::new(),
            sighting_id: String::new(),
            submission_id: String::new(),
            used_by: String::new(),
            refusal: None,
            notes: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Reading the routing table or the caller's own sightings failed.
    #[error("reading the store: {0}")]
    Store(#[from] sqlx::Error),
    #[error("intake: {0}")]
    Intake(#[from] IntakeError),
}

/// Imports a parsed bundle as `caller`'s reports. Acknowledged only after commit: every
/// stored outcome comes from a committed intake batch.
///
/// # Errors
/// Only unexpected failures; every refusal of an object is in its [`ObjectResult`].
pub async fn import_bundle(
    s: Services<'_>,
    caller: &Caller,
    bundle: &Value,
    defaults: Option<&pb::StixImportDefaults>,
) -> Result<Vec<ObjectResult>, ImportError> {
    let planned = import::plan(bundle, defaults);
    let now = s.clock.now();
    let table = s.router.current().await?;
    let mut results: Vec<ObjectResult> = Vec::with_capacity(planned.len());
    let mut items = Vec::new();
    let mut waiting = Vec::new(); // index into `results` of each queued item
    for p in &planned {
        let answer = match &p.plan {
            Plan::Used { by } => ObjectResult {
                used_by: by.clone(),
                ..ObjectResult::of(p, Outcome::Used)
            },
            Plan::Refused { field, reason } => ObjectResult {
                refusal: Some(ObjectRefusal::Invalid {
                    field: field.clone(),
                    reason: reason.clone(),
                }),
                ..ObjectResult::of(p, Outcome::Refused)
            },
            Plan::Report {
                request,
                notes,
                origin,
            } => {
                let mut answer = ObjectResult {
                    submission_id: request.submission_id.clone(),
                    notes: notes.clone(),
                    ..ObjectResult::of(p, Outcome::Stored)
                };
                // The platform's own export of the caller's own sighting, imported back:
                // that report is stored already (nothing is stored twice).
                if let Some((sighting_id, reporter)) = origin
                    && *reporter == caller.organisation_id
                    && let Some(row) = store::get_sighting(s.store, sighting_id).await?
                    && row.reporter_org == caller.organisation_id
                {
                    answer.outcome = Outcome::Replayed;
                    answer.threat_id = row.threat_id;
                    answer.sighting_id = row.id;
                    answer
                        .notes
                        .push("this platform's export of your own sighting: already stored".into());
                    results.push(answer);
                    continue;
                }
                match validation::validate(request, now) {
                    Ok(submission) => {
                        waiting.push(results.len());
                        items.push(crate::intake::item(caller, &table, submission));
                    }
                    Err(e) => {
                        answer.outcome = Outcome::Refused;
                        answer.refusal = Some(ObjectRefusal::Invalid {
                            field: e.field,
                            reason: e.reason,
                        });
                    }
                }
                answer
            }
        };
        results.push(answer);
    }
    let mut waiting = waiting.into_iter();
    for chunk in items.chunks(MAX_BATCH) {
        let outcomes = s.queue.submit(chunk.to_vec()).await?;
        for outcome in outcomes {
            let Some(i) = waiting.next() else { break };
            let answer = &mut results[i];
            match outcome {
                IngestOutcome::Stored {
                    threat_id,
                    sighting_id,
                    created_threat,
                    replayed,
                    ..
                } => {
                    answer.outcome = if replayed {
                        Outcome::Replayed
                    } else if created_threat {
                        Outcome::Stored
                    } else {
                        Outcome::Sighting
                    };
                    answer.threat_id = threat_id;
                    answer.sighting_id = sighting_id;
                }
                IngestOutcome::Refused(r) => {
                    answer.outcome = Outcome::Refused;
                    answer.refusal = Some(ObjectRefusal::Stored(r));
                }
            }
        }
    }
    Ok(results)
}

/// An organisation's STIX import defaults, checked: what its TAXII POSTs (and its
/// ImportStixBundle calls without `defaults`) give objects without the fenghuo extension.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportDefaults(pb::StixImportDefaults);

impl ImportDefaults {
    /// # Errors
    /// The first field at fault under `defaults.`: the information the intake requires of a
    /// first report (reporting measures Art. 10-11, 14-15), a known kind and TLP.
    pub fn parse(
        defaults: Option<pb::StixImportDefaults>,
    ) -> Result<ImportDefaults, validation::FieldError> {
        let at = |e: validation::FieldError| validation::FieldError {
            field: e.field.replacen("report.", "defaults.", 1),
            reason: e.reason,
        };
        let Some(d) = defaults else {
            return Err(validation::FieldError {
                field: "defaults".into(),
                reason: "required: the information (event or warning) for objects without the fenghuo extension (reporting measures Art. 10-11)".into(),
            });
        };
        let information = d.information.clone().map(|i| match i {
            pb::stix_import_defaults::Information::Event(e) => {
                pb::threat_report::Information::Event(e)
            }
            pb::stix_import_defaults::Information::Warning(w) => {
                pb::threat_report::Information::Warning(w)
            }
        });
        validation::information(&pb::ThreatReport {
            information,
            ..Default::default()
        })
        .map_err(at)?;
        if pb::SubmissionKind::try_from(d.kind).is_err() {
            return Err(validation::FieldError {
                field: "defaults.kind".into(),
                reason: "unknown submission kind: ABOUT_OTHERS or SELF_DISPOSAL_REPORT (Art. 6, 11), or unset".into(),
            });
        }
        if pb::Tlp::try_from(d.tlp).is_err() {
            return Err(validation::FieldError {
                field: "defaults.tlp".into(),
                reason: "unknown TLP level: CLEAR, GREEN, AMBER, AMBER_STRICT or RED, or unset (TLP:AMBER)".into(),
            });
        }
        Ok(ImportDefaults(d))
    }

    pub fn get(&self) -> &pb::StixImportDefaults {
        &self.0
    }
}

/// The STIX import defaults `org` stored, with when (micros); None when it stored none.
///
/// # Errors
/// Storage failures; stored bytes that no longer decode are reported as a decode error.
pub async fn stored_defaults(
    store: &Store,
    org: &str,
) -> Result<Option<(pb::StixImportDefaults, i64)>, sqlx::Error> {
    use prost::Message as _;
    let Some((bytes, at)) = crate::store::taxii::get_import_defaults(store, org).await? else {
        return Ok(None);
    };
    let d = pb::StixImportDefaults::decode(bytes.as_slice())
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Some((d, at)))
}
