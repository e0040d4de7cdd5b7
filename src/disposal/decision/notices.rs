//! The notices of a decision (Art. 8, 10, 14; 2009 mechanism Art. 8(3), 9(2), 17): one
//! disposal notice per (measure, addressee) with its deadlines, one informational notice per
//! party an Art. 8(3) case informs, per holder of a blocked resource (Art. 10), and for a
//! referral to public security; all signed and stored in the caller's transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::measures::RoutedMeasure;
use crate::auth::Caller;
use crate::disposal::revocation::time_limit_pb;
use crate::disposal::signing::{NewNotice, store_notices};
use crate::disposal::{Disposals, DueError, Fault, due};
use crate::domain::clock::to_micros;
use crate::domain::notice::{self, DisposalLimits, NoticeKind};
use crate::pb;
use crate::pb::{date_to_pb, timestamp};
use crate::pki::signing::NoticeSigner;
use crate::store::Tx;
use crate::store::notices::{self, DecisionRow, NoticeRow};
use crate::store::threats::ThreatRow;

/// What a decision is recorded under.
pub struct DecisionContext<'a> {
    pub decision_id: &'a str,
    pub request_id: &'a str,
    pub request_sha256: &'a str,
    pub threat: &'a ThreatRow,
    /// Art. 10 "modified": (the notice replaced, the appeal).
    pub replaces: Option<(&'a str, &'a str)>,
    /// [`Disposals::addressee_names`], read before the transaction.
    pub names: &'a BTreeMap<String, String>,
    /// 2009 mechanism Art. 17, checked by [`Disposals::referral`].
    pub referral: Option<&'a pb::PublicSecurityReferral>,
}

/// The threat as a notice describes it (2009 mechanism Art. 8: the threat and its scale).
fn threat_summary(threat: &ThreatRow) -> String {
    format!(
        "{} threat {}: {}",
        match threat.category {
            1 => "malicious network resource",
            2 => "malicious program",
            3 => "security hazard",
            4 => "security incident",
            _ => "other",
        },
        threat.id,
        threat.indicator
    )
}

/// The province of a notice: of its targets when they share one, else national.
pub fn common_province(targets: &[pb::NoticeTarget]) -> String {
    match targets.first() {
        Some(f) if !f.province.is_empty() && targets.iter().all(|t| t.province == f.province) => {
            f.province.clone()
        }
        _ => "national".into(),
    }
}

impl Disposals {
    /// Builds, signs and stores the notices of a decision inside `tx`: one per (measure,
    /// addressee) and one per Art. 8(3) informational addressee. `None` when the request id
    /// is already taken (a concurrent first try committed first).
    ///
    /// # Errors
    /// [`DueError`]: a deadline the loaded calendar cannot compute, or storage.
    pub async fn record_decision(
        &self,
        tx: &mut Tx,
        caller: &Caller,
        d: &DecisionContext<'_>,
        measures: &[RoutedMeasure],
        signer: &NoticeSigner,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<NoticeRow>>, DueError> {
        let threat = d.threat;
        let name_of = |id: &str| d.names.get(id).cloned().unwrap_or_default();
        let officer = caller.officer.clone().unwrap_or_default();
        let summary = threat_summary(threat);
        // 2009 mechanism Art. 8(3): the facts the unit needs, read with the decision.
        let reports = crate::store::threats::reports_of(tx, &threat.id)
            .await
            .map_err(Fault::from)?;
        let table = self.router.current().await.map_err(Fault::from)?;
        let particulars = super::particulars::particulars(threat, &reports, &table);
        let inserted = notices::insert_decision(
            tx,
            DecisionRow {
                id: d.decision_id,
                regulator: &caller.organisation_id,
                request_id: d.request_id,
                request_sha256: d.request_sha256,
                threat_id: &threat.id,
                officer: &officer,
                decided_at: to_micros(now),
            },
        )
        .await
        .map_err(Fault::from)?;
        if !inserted {
            return Ok(None);
        }
        let mut new = Vec::new();
        for m in measures {
            let all_targets: Vec<pb::NoticeTarget> =
                m.by_addressee.values().flatten().cloned().collect();
            for (addressee, targets) in &m.by_addressee {
                // Art. 14: the rules of the province where the measure is carried out, the
                // province of this notice's targets (national when they lie in several).
                let province = common_province(targets);
                let limits =
                    DisposalLimits::from_policy(&self.policy, &province, threat.grade, m.emergency);
                let limit = m.time_limit.unwrap_or(limits.disposal);
                let call = m.calls.iter().find(|c| &c.0 == addressee);
                let field = format!("measures[{}].time_limit", m.index);
                let receipt = due(tx, &field, now, limits.receipt).await?;
                // 2009 mechanism 9(2): feedback is due a time after the unit *receives* the
                // notice. A phoned emergency was received at the call; otherwise the deadline
                // signed here runs from the receipt deadline, the latest receipt can come, and
                // AcknowledgeReceipt brings it forward to run from the actual receipt.
                let event = call.map(|c| c.1).unwrap_or(receipt);
                let deadline = due(tx, &field, event, limit).await?;
                let body = pb::NoticeBody {
                    notice_id: uuid::Uuid::now_v7().to_string(),
                    kind: NoticeKind::Disposal as i32,
                    decision_id: d.decision_id.to_owned(),
                    threat_id: threat.id.clone(),
                    issuer_organisation_id: caller.organisation_id.clone(),
                    issuing_officer_name: officer.clone(),
                    issued_at: Some(timestamp(to_micros(now))),
                    addressee_organisation_id: addressee.clone(),
                    addressee_name: name_of(addressee),
                    measure_type: m.measure_type as i32,
                    targets: targets.clone(),
                    legal_basis: m.legal_basis.clone(),
                    instructions: m.instructions.clone(),
                    threat_summary: summary.clone(),
                    particulars: Some(particulars.clone()),
                    grade: threat.grade as i32,
                    time_limit: Some(time_limit_pb(limit)),
                    deadline: Some(timestamp(to_micros(deadline))),
                    receipt_due: Some(timestamp(to_micros(notice::receipt_due(receipt, deadline)))),
                    emergency: m.emergency,
                    emergency_called_at: call.map(|c| timestamp(to_micros(c.1))),
                    deadline_runs_from_receipt: call.is_none(),
                    protected_system: m.protected_system.clone(),
                    reason: call
                        .map(|c| format!("phoned first; {} took the call", c.2))
                        .unwrap_or_default(),
                    replaces_notice_id: d.replaces.map(|r| r.0.to_owned()).unwrap_or_default(),
                    appeal_id: d.replaces.map(|r| r.1.to_owned()).unwrap_or_default(),
                    ..Default::default()
                };
                let holder_notices = holder_notices(tx, m, addressee, &body, name_of).await?;
                new.push(NewNotice {
                    body,
                    province: province.clone(),
                    targets: targets.clone(),
                });
                new.extend(holder_notices.into_iter().map(|body| NewNotice {
                    body,
                    province: province.clone(),
                    targets: Vec::new(),
                }));
            }
            let province = common_province(&all_targets);
            let limits =
                DisposalLimits::from_policy(&self.policy, &province, threat.grade, m.emergency);
            let mut informed: Vec<(pb::ProtectedSystem, pb::InformationalAddressee)> = Vec::new();
            for p in m.protected_system.iter().chain(m.marked.iter()) {
                for a in &p.informational_addressees {
                    informed.push((p.clone(), a.clone()));
                }
            }
            for (system, a) in &informed {
                // On the platform: receipt shown (owed by no one). Off it: the issuer owes the
                // offline notification by the same limit.
                let due_at = due(tx, "receipt", now, limits.receipt).await?;
                let (receipt, offline) = if a.organisation_id.is_empty() {
                    (None, Some(due_at))
                } else {
                    (Some(due_at), None)
                };
                new.push(NewNotice {
                    body: pb::NoticeBody {
                        notice_id: uuid::Uuid::now_v7().to_string(),
                        kind: NoticeKind::Informational as i32,
                        decision_id: d.decision_id.to_owned(),
                        threat_id: threat.id.clone(),
                        issuer_organisation_id: caller.organisation_id.clone(),
                        issuing_officer_name: officer.clone(),
                        issued_at: Some(timestamp(to_micros(now))),
                        addressee_organisation_id: a.organisation_id.clone(),
                        addressee_name: if a.name.is_empty() {
                            name_of(&a.organisation_id)
                        } else {
                            a.name.clone()
                        },
                        informational_kind: a.kind,
                        measure_type: m.measure_type as i32,
                        targets: all_targets.clone(),
                        legal_basis: m.legal_basis.clone(),
                        instructions: m.instructions.clone(),
                        threat_summary: summary.clone(),
                        particulars: Some(particulars.clone()),
                        grade: threat.grade as i32,
                        receipt_due: receipt.map(|r| timestamp(to_micros(r))),
                        offline_notification_due: offline.map(|r| timestamp(to_micros(r))),
                        emergency: m.emergency,
                        protected_system: Some(system.clone()),
                        ..Default::default()
                    },
                    province: province.clone(),
                    targets: Vec::new(),
                });
            }
        }
        if let Some(r) = d.referral {
            let referral = Referral {
                caller,
                d,
                measures,
                referral: r,
                summary: &summary,
                particulars: &particulars,
                now,
            };
            new.push(self.referral_notice(tx, referral).await?);
        }
        Ok(Some(store_notices(self, tx, signer, new).await?))
    }

    /// 2009 mechanism Art. 17: the informational notice referring the event to public
    /// security, with every target of the decision.
    async fn referral_notice(&self, tx: &mut Tx, r: Referral<'_>) -> Result<NewNotice, DueError> {
        let Referral {
            caller,
            d,
            measures,
            referral,
            summary,
            particulars,
            now,
        } = r;
        let a = referral.addressee.clone().unwrap_or_default();
        let targets: Vec<pb::NoticeTarget> = measures
            .iter()
            .flat_map(|m| m.by_addressee.values().flatten().cloned())
            .collect();
        let province = common_province(&targets);
        let limits = DisposalLimits::from_policy(&self.policy, &province, d.threat.grade, false);
        let due_at = due(tx, "receipt", now, limits.receipt).await?;
        let on_platform = !a.organisation_id.is_empty();
        let measure_type = measures.first().map_or(0, |m| m.measure_type as i32);
        Ok(NewNotice {
            body: pb::NoticeBody {
                notice_id: uuid::Uuid::now_v7().to_string(),
                kind: NoticeKind::Informational as i32,
                decision_id: d.decision_id.to_owned(),
                threat_id: d.threat.id.clone(),
                issuer_organisation_id: caller.organisation_id.clone(),
                issuing_officer_name: caller.officer.clone().unwrap_or_default(),
                issued_at: Some(timestamp(to_micros(now))),
                addressee_organisation_id: a.organisation_id.clone(),
                addressee_name: a.name.clone(),
                informational_kind: pb::InformationalAddresseeKind::PublicSecurity as i32,
                measure_type,
                targets,
                legal_basis: "Art. 17 of the trojan and botnet monitoring and disposal mechanism (MIIT 2009): suspected crimes are referred to public security".into(),
                threat_summary: summary.to_owned(),
                particulars: Some(particulars.clone()),
                grade: d.threat.grade as i32,
                receipt_due: on_platform.then(|| timestamp(to_micros(due_at))),
                offline_notification_due: (!on_platform).then(|| timestamp(to_micros(due_at))),
                reason: format!("suspected offence: {}", referral.suspected_offence),
                ..Default::default()
            },
            province,
            targets: Vec::new(),
        })
    }
}

/// What the referral notice is built from.
struct Referral<'a> {
    caller: &'a Caller,
    d: &'a DecisionContext<'a>,
    measures: &'a [RoutedMeasure],
    referral: &'a pb::PublicSecurityReferral,
    summary: &'a str,
    particulars: &'a pb::ThreatParticulars,
    now: DateTime<Utc>,
}

/// Art. 10: one informational notice per holder of the targets of the disposal notice
/// `disposal`, with the measure, its own targets and the appeal window's dates.
async fn holder_notices(
    tx: &mut Tx,
    m: &RoutedMeasure,
    addressee: &str,
    disposal: &pb::NoticeBody,
    name_of: impl Fn(&str) -> String,
) -> Result<Vec<pb::NoticeBody>, Fault> {
    let Some(holders) = m.holders.get(addressee) else {
        return Ok(Vec::new());
    };
    let calendar = crate::store::calendar::effective(tx)
        .await
        .map_err(Fault::Calendar)?;
    let deadline = disposal
        .deadline
        .as_ref()
        .and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos as u32));
    // Without the calendar year of the deadline the dates stay unset; the measure stands.
    let closes_on = deadline
        .and_then(|d| crate::domain::appeal::window(&calendar, None, d).ok())
        .map(|w| date_to_pb(w.closes_on));
    let opens_on = disposal
        .issued_at
        .as_ref()
        .and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos as u32))
        .map(|t| date_to_pb(crate::domain::calendar::local_date(t)));
    Ok(holders
        .iter()
        .map(|(holder, targets)| pb::NoticeBody {
            notice_id: uuid::Uuid::now_v7().to_string(),
            kind: NoticeKind::Informational as i32,
            decision_id: disposal.decision_id.clone(),
            threat_id: disposal.threat_id.clone(),
            issuer_organisation_id: disposal.issuer_organisation_id.clone(),
            issuing_officer_name: disposal.issuing_officer_name.clone(),
            issued_at: disposal.issued_at,
            addressee_organisation_id: holder.clone(),
            addressee_name: name_of(holder),
            informational_kind: pb::InformationalAddresseeKind::ResourceHolder as i32,
            measure_type: disposal.measure_type,
            targets: targets.clone(),
            legal_basis: disposal.legal_basis.clone(),
            emergency: disposal.emergency,
            replaces_notice_id: disposal.replaces_notice_id.clone(),
            informs_of_notice_id: disposal.notice_id.clone(),
            appeal_window_opens_on: opens_on,
            appeal_window_closes_on: closes_on,
            reason: format!(
                "Art. 10: a measure under Art. 8(1) on resources registered to you as holder, ordered to {}; you may appeal to {} until the window closes",
                if disposal.addressee_name.is_empty() {
                    &disposal.addressee_organisation_id
                } else {
                    &disposal.addressee_name
                },
                disposal.issuer_organisation_id
            ),
            ..Default::default()
        })
        .collect())
}
