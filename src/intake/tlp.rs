//! Re-marking a sighting's TLP (Art. 6: the platform shares threats among units by TLP 2.0):
//! only the organisation that reported the sighting changes its marking, and the change is
//! audited with its reason. To anyone else the sighting is absent unless they could see it.

use chrono::{DateTime, Utc};

use crate::auth::Caller;
use crate::domain::threat::Tlp;
use crate::domain::threat::visibility::{Reader, SightingFacts, can_see};
use crate::store::threats::{self as store, SightingRow};
use crate::store::{Store, audit};

/// A reporter's new marking of one of its sightings.
#[derive(Debug, Clone)]
pub struct ChangeSightingTlp {
    pub sighting_id: String,
    pub tlp: Tlp,
    /// Required: it goes into the audit log.
    pub reason: String,
}

/// Why a re-marking is refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeTlpError {
    /// Absent, or not visible to the caller.
    #[error("sighting {sighting_id} does not exist or is not visible to {caller}")]
    NotFound { sighting_id: String, caller: String },
    /// Visible, but another organisation's.
    #[error("only the reporting organisation re-marks its sighting")]
    NotTheReporter,
    #[error("storage: {0}")]
    Storage(#[from] sqlx::Error),
}

/// Whether a reader who is not the reporter can see the sighting (its TLP and the reader's
/// responsibility for, or province of, the threat's resources).
async fn visible_to(
    store: &Store,
    reader: &Reader,
    sighting: &SightingRow,
) -> Result<bool, sqlx::Error> {
    let ids = std::slice::from_ref(&sighting.threat_id);
    let (responsible, in_province) = match reader {
        Reader::Everything => (false, false),
        Reader::Unit { org, .. } => (
            !store::responsible_for(store, org, ids).await?.is_empty(),
            false,
        ),
        Reader::Province { org, province } => (
            !store::responsible_for(store, org, ids).await?.is_empty(),
            !store::in_province(store, province, ids).await?.is_empty(),
        ),
    };
    let facts = SightingFacts {
        tlp: Tlp::from_i64(sighting.tlp).unwrap_or(Tlp::Red),
        reporter: &sighting.reporter_org,
        reporter_province: &sighting.reporter_province,
        reader_responsible: responsible,
        in_reader_province: in_province,
    };
    Ok(can_see(reader, &facts))
}

/// Re-marks the sighting and audits it in one transaction; returns the sighting as stored.
///
/// # Errors
/// [`ChangeTlpError`].
pub async fn change_sighting_tlp(
    store: &Store,
    caller: &Caller,
    command: ChangeSightingTlp,
    now: DateTime<Utc>,
) -> Result<SightingRow, ChangeTlpError> {
    let ChangeSightingTlp {
        sighting_id: id,
        tlp: new,
        reason,
    } = command;
    let not_found = || ChangeTlpError::NotFound {
        sighting_id: id.clone(),
        caller: caller.organisation_id.clone(),
    };
    let sighting = store::get_sighting(store, &id)
        .await?
        .ok_or_else(not_found)?;
    if sighting.reporter_org != caller.organisation_id {
        return Err(if visible_to(store, &caller.reader(), &sighting).await? {
            ChangeTlpError::NotTheReporter
        } else {
            not_found()
        });
    }
    let threat = store::get_threat(store, &sighting.threat_id)
        .await?
        .ok_or_else(not_found)?;
    let mut tx = store.begin().await?;
    store::change_tlp(store, &mut tx, &sighting, threat.category, new, now).await?;
    let details =
        serde_json::json!({"old_tlp": sighting.tlp, "new_tlp": new as i64, "reason": reason});
    audit::append(
        &mut tx,
        store.dialect(),
        now,
        &caller.actor(),
        "threat.sighting.tlp",
        &format!("sighting:{id}"),
        details,
    )
    .await?;
    tx.commit().await?;
    store::get_sighting(store, &id).await?.ok_or_else(not_found)
}
