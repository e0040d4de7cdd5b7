//! Art. 12 records, made by timers at the due instant: a missing receipt per
//! notice, a missing result per target, a missing lift per revoked target; and the
//! institution's missing verification per reported target (2009 mechanism Art. 9(3)).
//! Each runs in the firing transaction, so a record exists exactly once.

use chrono::{DateTime, Utc};

use crate::domain::clock::to_micros;
use crate::domain::notice::MissedDuty;
use crate::store::audit::{self, Actor};
use crate::store::notices::{self, NonComplianceRow};
use crate::store::{Dialect, Tx, identifications};
use crate::timers::{DueTimer, TimerHandler, TimerHandlers};

pub const RECEIPT_TIMER: &str = MissedDuty::Receipt.timer();
pub const RESULT_TIMER: &str = MissedDuty::Result.timer();
pub const LIFT_TIMER: &str = MissedDuty::Lift.timer();
/// An off-platform informational notice not yet recorded as told (Art. 8(3); 2009 mechanism Art. 17).
pub const OFFLINE_TIMER: &str = MissedDuty::OfflineNotification.timer();
/// The kind of the timer that records a missed verification.
pub const VERIFICATION_TIMER: &str = MissedDuty::Verification.timer();

/// Non-compliance kinds as stored (the contract's numbers).
pub const MISSING_RECEIPT: i64 = MissedDuty::Receipt.as_i64();
pub const MISSING_RESULT: i64 = MissedDuty::Result.as_i64();
pub const MISSING_LIFT: i64 = MissedDuty::Lift.as_i64();
/// The identifying institution's KPI (2009 mechanism Art. 9(3)), not an Art. 12 breach.
pub const MISSING_VERIFICATION: i64 = MissedDuty::Verification.as_i64();
/// The issuer's own duty to tell an off-platform addressee (Art. 8(3); 2009 mechanism Art. 17).
pub const MISSING_OFFLINE_NOTIFICATION: i64 = MissedDuty::OfflineNotification.as_i64();

/// The handlers of the disposal timers: one per duty, each recording its own misses.
pub fn handlers(dialect: Dialect) -> TimerHandlers {
    MissedDuty::ALL
        .into_iter()
        .fold(TimerHandlers::new(), |handlers, duty| {
            handlers.with(duty.timer(), Missed { dialect, duty })
        })
}

struct Missed {
    dialect: Dialect,
    duty: MissedDuty,
}

#[tonic::async_trait]
impl TimerHandler for Missed {
    async fn fire(&self, tx: &mut Tx, timer: &DueTimer, now: DateTime<Utc>) -> anyhow::Result<()> {
        // (notice the duty belongs to, target, addressee, province, due)
        let mut missed: Vec<(String, String, String, String, i64)> = Vec::new();
        match self.duty {
            MissedDuty::Receipt => {
                if let Some(n) = notices::notice_in_tx(tx, &timer.subject).await?
                    && let (None, Some(addressee), Some(due)) =
                        (n.received_at, &n.addressee, n.receipt_due)
                {
                    missed.push((
                        n.id.clone(),
                        String::new(),
                        addressee.clone(),
                        n.province.clone(),
                        due,
                    ));
                }
            }
            MissedDuty::Result => {
                if let Some(n) = notices::notice_in_tx(tx, &timer.subject).await? {
                    for t in notices::targets_in_tx(tx, &n.id).await? {
                        if t.first_reported_at.is_none() && t.revocation_notice_id.is_none() {
                            missed.push((
                                n.id.clone(),
                                t.target_id,
                                t.addressee,
                                n.province.clone(),
                                t.deadline,
                            ));
                        }
                    }
                }
            }
            MissedDuty::OfflineNotification => {
                // The issuing regulator owes it: it alone can tell a party off the platform.
                if let Some(n) = notices::notice_in_tx(tx, &timer.subject).await?
                    && let (None, None, Some(due)) = (&n.offline, &n.addressee, n.receipt_due)
                {
                    missed.push((
                        n.id.clone(),
                        String::new(),
                        n.issuer.clone(),
                        n.province.clone(),
                        due,
                    ));
                }
            }
            MissedDuty::Verification => {
                if let Some(n) = notices::notice_in_tx(tx, &timer.subject).await?
                    && let Some(institution) =
                        identifications::institution_in_tx(tx, &n.threat_id).await?
                {
                    let fired = to_micros(timer.due_at);
                    for t in notices::targets_in_tx(tx, &n.id).await? {
                        // A later report moves verification_due on; its own timer covers it.
                        if let (Some(due), None, None) =
                            (t.verification_due, t.verified_at, &t.revocation_notice_id)
                            && due <= fired
                        {
                            missed.push((
                                n.id.clone(),
                                t.target_id,
                                institution.clone(),
                                n.province.clone(),
                                due,
                            ));
                        }
                    }
                }
            }
            // The subject is the revocation; the payload names the notice it revoked from.
            MissedDuty::Lift => {
                let original = timer.payload["notice_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if let Some(n) = notices::notice_in_tx(tx, &original).await? {
                    for t in notices::targets_in_tx(tx, &n.id).await? {
                        if t.revocation_notice_id.as_deref() == Some(timer.subject.as_str())
                            && t.lifted_at.is_none()
                        {
                            let due = t.lift_due.unwrap_or_else(|| to_micros(timer.due_at));
                            missed.push((
                                n.id.clone(),
                                t.target_id,
                                t.addressee,
                                n.province.clone(),
                                due,
                            ));
                        }
                    }
                }
            }
        }
        for (notice_id, target_id, org, province, due_at) in missed {
            let id = uuid::Uuid::now_v7().to_string();
            let created = notices::record_non_compliance(
                tx,
                &NonComplianceRow {
                    id: id.clone(),
                    kind: self.duty.as_i64(),
                    org_id: org.clone(),
                    notice_id: notice_id.clone(),
                    target_id: target_id.clone(),
                    province,
                    due_at,
                    recorded_at: to_micros(now),
                    fulfilled_at: None,
                },
            )
            .await?;
            if created {
                audit::append(
                    tx,
                    self.dialect,
                    now,
                    &Actor::system(),
                    "disposal.non_compliance",
                    &format!("organisation:{org}"),
                    serde_json::json!({
                        "record_id": id,
                        "kind": self.duty.as_i64(),
                        "notice_id": notice_id,
                        "target_id": target_id,
                        "due_at": due_at,
                    }),
                )
                .await?;
            }
        }
        Ok(())
    }
}
