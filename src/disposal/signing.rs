//! Signing and storing notices (Art. 8: a notice's source can be verified): each body is
//! signed with the regulator's key and stored with its targets and the timers of the
//! duties it creates, in the caller's transaction.

use chrono::{DateTime, Utc};
use prost::Message;

use super::{Disposals, Fault};
use crate::compliance::timers::{OFFLINE_TIMER, RECEIPT_TIMER, RESULT_TIMER};
use crate::delivery::NoticeSignal;
use crate::domain::clock::{from_micros, to_micros};
use crate::domain::notice::NoticeKind;
use crate::pb;
use crate::pki::signing::NoticeSigner;
use crate::store::notices::{self, NoticeRow, TargetRow};
use crate::store::{Tx, timers};

/// One notice to sign and store.
pub struct NewNotice {
    pub body: pb::NoticeBody,
    pub province: String,
    /// DISPOSAL: the targets that owe results.
    pub targets: Vec<pb::NoticeTarget>,
}

fn micros(t: Option<&prost_types::Timestamp>) -> Option<i64> {
    t.and_then(|t| DateTime::<Utc>::from_timestamp(t.seconds, t.nanos as u32))
        .map(to_micros)
}

/// Signs and stores `notices` in `tx`, with their targets and the timers of the result,
/// receipt and offline-notification duties, and announces them to their addressees'
/// streams (woken after the commit).
///
/// # Errors
/// [`Fault`] for storage, or a body built with a kind the contract lacks.
pub async fn store_notices(
    disposals: &Disposals,
    tx: &mut Tx,
    signer: &NoticeSigner,
    notices: Vec<NewNotice>,
) -> Result<Vec<NoticeRow>, Fault> {
    let first = notices::take_positions(&disposals.store, tx, notices.len() as i64).await?;
    let mut rows = Vec::with_capacity(notices.len());
    for (i, n) in notices.into_iter().enumerate() {
        let bytes = n.body.encode_to_vec();
        let sig = signer.sign(&bytes);
        let b = &n.body;
        let addressee =
            (!b.addressee_organisation_id.is_empty()).then(|| b.addressee_organisation_id.clone());
        let row = NoticeRow {
            id: b.notice_id.clone(),
            position: first + i as i64,
            kind: NoticeKind::try_from(i64::from(b.kind))
                .map_err(|e| Fault::Corrupt(format!("a notice built with {e}")))?,
            decision_id: b.decision_id.clone(),
            threat_id: b.threat_id.clone(),
            issuer: b.issuer_organisation_id.clone(),
            addressee: addressee.clone(),
            measure_type: i64::from(b.measure_type),
            province: n.province.clone(),
            issued_at: micros(b.issued_at.as_ref()).unwrap_or_default(),
            deadline: micros(b.deadline.as_ref()),
            // Off the platform the issuer's offline-notification deadline takes receipt's place.
            receipt_due: micros(b.receipt_due.as_ref())
                .or_else(|| micros(b.offline_notification_due.as_ref())),
            body: bytes,
            signature: sig.signature,
            key_id: sig.key_id,
            signer_certificate: sig.chain_der.into_iter().next().unwrap_or_default(),
            state: 0,
            received_at: None,
            received_body_sha256: None,
            revokes_notice_id: (!b.revokes_notice_id.is_empty())
                .then(|| b.revokes_notice_id.clone()),
            offline: None,
        };
        let row = NoticeRow {
            state: super::facts(&row, &[]).state() as i64,
            ..row
        };
        notices::insert_notice(tx, &row).await?;
        if row.kind == NoticeKind::Disposal {
            for (ordinal, t) in n.targets.iter().enumerate() {
                let target = t.target.clone().unwrap_or_default();
                notices::insert_target(
                    tx,
                    &TargetRow {
                        notice_id: row.id.clone(),
                        target_id: t.target_id.clone(),
                        ordinal: ordinal as i64,
                        kind: i64::from(target.kind),
                        value: target.value,
                        province: t.province.clone(),
                        addressee: addressee.clone().unwrap_or_default(),
                        deadline: row.deadline.unwrap_or_default(),
                        ..Default::default()
                    },
                )
                .await?;
            }
            if let Some(d) = row.deadline {
                timers::schedule(
                    tx,
                    from_micros(d),
                    RESULT_TIMER,
                    &row.id,
                    serde_json::Value::Null,
                )
                .await?;
            }
        }
        // Art. 12 binds the units ordered to act; an informational addressee's receipt is
        // shown but owes no record.
        if let (None, Some(d)) = (&addressee, micros(b.offline_notification_due.as_ref())) {
            timers::schedule(
                tx,
                from_micros(d),
                OFFLINE_TIMER,
                &row.id,
                serde_json::Value::Null,
            )
            .await?;
        }
        let owes_receipt = row.kind != NoticeKind::Informational;
        if let (true, Some(_), Some(d)) = (owes_receipt, &addressee, row.receipt_due) {
            timers::schedule(
                tx,
                from_micros(d),
                RECEIPT_TIMER,
                &row.id,
                serde_json::Value::Null,
            )
            .await?;
        }
        rows.push(row);
    }
    let addressees: Vec<&str> = rows.iter().filter_map(|r| r.addressee.as_deref()).collect();
    NoticeSignal::announce(tx, disposals.store.dialect(), &addressees).await?;
    Ok(rows)
}
