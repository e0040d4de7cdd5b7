//! A notice's progress columns (receipt, deadline, result, verification, revocation,
//! lifting): each change in the caller's transaction with its audit record.

use super::*;

pub async fn set_state(tx: &mut Tx, id: &str, state: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE notices SET state = $1 WHERE id = $2")
        .bind(state)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_received(
    tx: &mut Tx,
    id: &str,
    at: i64,
    body_sha256: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notices SET received_at = $1, received_body_sha256 = $2 WHERE id = $3 AND received_at IS NULL",
    )
    .bind(at)
    .bind(body_sha256)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Moves a disposal notice's result deadline, and its targets', to `deadline` (receipt
/// before the receipt deadline brings it forward: 2009 mechanism Art. 9(2)).
pub async fn set_deadline(tx: &mut Tx, id: &str, deadline: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE notices SET deadline = $1 WHERE id = $2")
        .bind(deadline)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE notice_targets SET deadline = $1 WHERE notice_id = $2")
        .bind(deadline)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_offline(tx: &mut Tx, id: &str, offline: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE notices SET offline = $1 WHERE id = $2")
        .bind(offline)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_result(
    tx: &mut Tx,
    notice_id: &str,
    target_id: &str,
    result: &[u8],
    outcome: i64,
    at: i64,
    verification_due: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notice_targets SET result = $1, result_outcome = $2, result_reported_at = $3, \
         first_reported_at = COALESCE(first_reported_at, $3), \
         first_disposed_at = CASE WHEN $2 = 1 THEN COALESCE(first_disposed_at, $3) ELSE first_disposed_at END, \
         verification_due = $4, \
         verification = NULL, verified_at = NULL \
         WHERE notice_id = $5 AND target_id = $6",
    )
    .bind(result)
    .bind(outcome)
    .bind(at)
    .bind(verification_due)
    .bind(notice_id)
    .bind(target_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn set_verification(
    tx: &mut Tx,
    notice_id: &str,
    target_id: &str,
    verification: &[u8],
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notice_targets SET verification = $1, verified_at = $2 WHERE notice_id = $3 AND target_id = $4",
    )
    .bind(verification)
    .bind(at)
    .bind(notice_id)
    .bind(target_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn set_revoked(
    tx: &mut Tx,
    notice_id: &str,
    target_id: &str,
    revocation_id: &str,
    lift_due: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notice_targets SET revocation_notice_id = $1, lift_due = $2 WHERE notice_id = $3 AND target_id = $4",
    )
    .bind(revocation_id)
    .bind(lift_due)
    .bind(notice_id)
    .bind(target_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn set_lifted(
    tx: &mut Tx,
    notice_id: &str,
    target_id: &str,
    at: i64,
    details: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notice_targets SET lifted_at = $1, lift_details = $2 WHERE notice_id = $3 AND target_id = $4",
    )
    .bind(at)
    .bind(details)
    .bind(notice_id)
    .bind(target_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
