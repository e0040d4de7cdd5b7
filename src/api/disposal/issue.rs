//! IssueDecision (Art. 8): validate, route every target (Art. 9), check the
//! regulator's jurisdiction, then sign and store one notice per (measure,
//! addressee) plus the Art. 8(3) informational notices, in one transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use prost::Message;
use sha2::{Digest, Sha256};
use tonic::Status;

use super::{DisposalApi, view};
use crate::api::calendar::date_to_pb;
use crate::api::identification::measure_targets;
use crate::api::{from_timestamp, internal, invalid, precondition, timestamp};
use crate::auth::Caller;
use crate::auth::policy::Scope;
use crate::disposal::DueError;
use crate::domain::clock::to_micros;
use crate::domain::notice::{self, DisposalLimits, NoticeKind};
use crate::domain::policy::TimeLimit;
use crate::domain::routing::{self, OwnedTarget, OwnershipEntry, RoutingTable};
use crate::domain::threat::ThreatStatus;
use crate::pb;
use crate::pki::signing::NoticeSigner;
use crate::store::notices::{self, DecisionRow, NoticeRow};
use crate::store::threats::ThreatRow;
use crate::store::{Tx, audit, registry, threats};

pub use crate::compliance::timers::{LIFT_TIMER, OFFLINE_TIMER, RECEIPT_TIMER, RESULT_TIMER};

/// A measure after validation and routing.
pub struct Measure {
    index: usize,
    measure_type: pb::MeasureType,
    legal_basis: String,
    instructions: String,
    time_limit: Option<TimeLimit>,
    emergency: bool,
    calls: Vec<(String, DateTime<Utc>, String)>,
    protected_system: Option<pb::ProtectedSystem>,
    /// Art. 8(3) without a flag: the protected systems the registry marks among the
    /// addressees and the holders of the targets, each with the parties its mark names.
    marked: Vec<pb::ProtectedSystem>,
    /// Routed targets grouped by addressee.
    by_addressee: BTreeMap<String, Vec<pb::NoticeTarget>>,
    /// 8(1) only (Art. 10): per addressee, the holders of its targets and the targets each holds.
    holders: BTreeMap<String, BTreeMap<String, Vec<pb::NoticeTarget>>>,
}

/// A measure target as a holding is matched against it.
fn owned_target(t: &pb::MeasureTarget) -> Option<OwnedTarget> {
    use pb::MeasureTargetKind as T;
    match T::try_from(t.kind).unwrap_or(T::Unspecified) {
        T::Ip => OwnedTarget::ip(&t.value),
        T::Domain => OwnedTarget::domain(&t.value),
        T::Url => OwnedTarget::url(&t.value),
        T::EmailAccount => OwnedTarget::email(&t.value),
        T::PhoneNumber => OwnedTarget::phone(&t.value),
        _ => None,
    }
}

/// Per holder, the targets of `targets` its holdings contain (Art. 10: the affected party).
fn holders_of(
    holdings: &[OwnershipEntry],
    targets: &[pb::NoticeTarget],
) -> BTreeMap<String, Vec<pb::NoticeTarget>> {
    let mut by_holder: BTreeMap<String, Vec<pb::NoticeTarget>> = BTreeMap::new();
    for t in targets {
        let Some(owned) = t.target.as_ref().and_then(owned_target) else {
            continue;
        };
        let mut holders: Vec<&str> = holdings
            .iter()
            .filter(|h| routing::holds(h, owned.as_target()))
            .map(|h| h.owner.as_str())
            .collect();
        holders.sort_unstable();
        holders.dedup();
        for h in holders {
            by_holder.entry(h.to_owned()).or_default().push(t.clone());
        }
    }
    by_holder
}

/// A time limit from the contract.
pub fn time_limit(field: &str, t: Option<&pb::TimeLimit>) -> Result<Option<TimeLimit>, Status> {
    crate::disposal::time_limit(t).map_err(|e| invalid(field, e.to_string()))
}

pub use crate::disposal::revocation::time_limit_pb;

pub fn parse_id(field: &str, raw: &str) -> Result<String, Status> {
    uuid::Uuid::parse_str(raw.trim())
        .map(|u| u.to_string())
        .map_err(|_| invalid(field, "not an id"))
}

/// A list of ids, each named by its index in errors.
pub fn parse_ids(field: &str, raw: &[String]) -> Result<Vec<String>, Status> {
    raw.iter()
        .enumerate()
        .map(|(i, id)| parse_id(&format!("{field}[{i}]"), id))
        .collect()
}

fn text(field: &str, raw: &str, max: usize) -> Result<String, Status> {
    let v = raw.trim();
    if v.chars().count() > max {
        return Err(invalid(field, format!("at most {max} characters")));
    }
    Ok(v.to_owned())
}

/// Where a target goes and in which province it lies (Art. 9).
fn route(table: &RoutingTable, target: &pb::MeasureTarget) -> Option<(String, String)> {
    use pb::MeasureTargetKind as T;
    let r = match T::try_from(target.kind).unwrap_or(T::Unspecified) {
        T::Ip => table.route_ip(target.value.parse().ok()?),
        T::Domain => table.route_domain(&target.value),
        T::Url => table.route_url(&target.value),
        T::EmailAccount => table.route_email(&target.value),
        T::PhoneNumber => table.route_phone(&target.value),
        _ => None,
    }?;
    Some((r.owner, r.province))
}

/// The deadline clock's event and the due instant of `limit` after it.
pub async fn due(
    tx: &mut Tx,
    field: &str,
    event: DateTime<Utc>,
    limit: TimeLimit,
) -> Result<DateTime<Utc>, Status> {
    crate::disposal::due(tx, field, event, limit)
        .await
        .map_err(|e| match e {
            DueError::Gap(g) => super::progress::calendar_gap(&g),
            DueError::Fault(f) => internal(f),
        })
}

/// The regulator's current signing key as this server holds it.
pub async fn signer(
    api: &DisposalApi,
    regulator: &str,
    now: DateTime<Utc>,
) -> Result<std::sync::Arc<NoticeSigner>, Status> {
    api.workflow
        .signer(regulator, now)
        .await
        .map_err(internal)?
        .map_err(|e| super::progress::no_signing_key(&e))
}

/// What a decision is recorded under.
pub struct DecisionContext<'a> {
    pub decision_id: &'a str,
    pub request_id: &'a str,
    pub request_sha256: &'a str,
    pub threat: &'a ThreatRow,
    /// Art. 10 "modified": (the notice replaced, the appeal).
    pub replaces: Option<(&'a str, &'a str)>,
    /// [`DisposalApi::addressee_names`], read before the transaction.
    pub names: &'a BTreeMap<String, String>,
    /// 2009 mechanism Art. 17, checked by [`DisposalApi::referral`].
    pub referral: Option<&'a pb::PublicSecurityReferral>,
}

pub use crate::disposal::signing::NewNotice;

/// Every target outside the caller's province, for the refusal.
fn outside_province(caller: &Caller, measures: &[Measure]) -> Vec<String> {
    if caller.scope != Scope::OwnProvince {
        return Vec::new();
    }
    let mut outside = Vec::new();
    for m in measures {
        for targets in m.by_addressee.values() {
            for t in targets {
                if t.province != caller.province {
                    let value = t.target.as_ref().map(|t| t.value.as_str()).unwrap_or("");
                    let where_ = if t.province.is_empty() {
                        "province unknown: national regulator only".to_owned()
                    } else {
                        format!("province {}", t.province)
                    };
                    outside.push(format!("{value} ({where_})"));
                }
            }
        }
    }
    outside
}

impl DisposalApi {
    async fn organisation_name(&self, id: &str) -> Result<String, Status> {
        Ok(registry::get_organisation(&self.workflow.store, id)
            .await
            .map_err(internal)?
            .map(|o| o.name)
            .unwrap_or_default())
    }

    /// An organisation named in the request: it must exist and be enabled.
    async fn existing_organisation(&self, field: &str, id: &str) -> Result<String, Status> {
        match registry::get_organisation(&self.workflow.store, id.trim())
            .await
            .map_err(internal)?
        {
            Some(o) if o.enabled() => Ok(o.id),
            Some(o) => Err(precondition(
                "ORGANISATION_DISABLED",
                field,
                format!("organisation {} is disabled", o.id),
            )),
            None => Err(invalid(
                field,
                format!("no organisation {:?} is registered", id.trim()),
            )),
        }
    }

    async fn measure(
        &self,
        table: &RoutingTable,
        holdings: &[OwnershipEntry],
        list_field: &str,
        index: usize,
        m: &pb::DecisionMeasure,
        now: DateTime<Utc>,
    ) -> Result<Measure, Status> {
        let prefix = format!("{list_field}[{index}]");
        let field = |f: &str| format!("{prefix}.{f}");
        let (measure_type, targets) = measure_targets(&prefix, m.measure_type, &m.targets)?;
        let named = if m.addressee_organisation_id.trim().is_empty() {
            None
        } else {
            Some(
                self.existing_organisation(
                    &field("addressee_organisation_id"),
                    &m.addressee_organisation_id,
                )
                .await?,
            )
        };
        if named.is_none()
            && measure_type != pb::MeasureType::StopServiceOrBlock
            && measure_type != pb::MeasureType::Other
        {
            return Err(invalid(
                &field("addressee_organisation_id"),
                "required for Art. 8(2) and 8(3): the provider whose network or system is to be cleaned or rectified",
            ));
        }
        let named_province = match &named {
            Some(id) => registry::get_organisation(&self.workflow.store, id)
                .await
                .map_err(internal)?
                .map(|o| o.province)
                .unwrap_or_default(),
            None => String::new(),
        };
        let mut by_addressee: BTreeMap<String, Vec<pb::NoticeTarget>> = BTreeMap::new();
        for (j, t) in targets.into_iter().enumerate() {
            let routed = route(table, &t);
            let (addressee, province) = match (&named, routed) {
                (Some(a), Some((_, p))) => (a.clone(), p),
                (Some(a), None) => (a.clone(), named_province.clone()),
                (None, Some((owner, p))) => (owner, p),
                (None, None) => {
                    return Err(precondition(
                        "UNROUTABLE_TARGET",
                        &field(&format!("targets[{j}]")),
                        format!(
                            "no ownership entry covers {} (Art. 9); name the addressee in addressee_organisation_id",
                            t.value
                        ),
                    ));
                }
            };
            by_addressee
                .entry(addressee)
                .or_default()
                .push(pb::NoticeTarget {
                    target_id: uuid::Uuid::now_v7().to_string(),
                    target: Some(t),
                    province: if province == "national" {
                        String::new()
                    } else {
                        province
                    },
                });
        }
        // Art. 8: whoever the addressee — routed or named — its role must be able to act.
        for addressee in by_addressee.keys() {
            let roles = registry::get_organisation(&self.workflow.store, addressee)
                .await
                .map_err(internal)?
                .map(|o| o.roles())
                .unwrap_or_default();
            notice::check_addressee(measure_type as i32, addressee, &roles).map_err(|e| {
                let subject = if named.is_some() {
                    field("addressee_organisation_id")
                } else {
                    field("targets")
                };
                precondition("ADDRESSEE_ROLE", &subject, e.to_string())
            })?;
        }
        let time_limit = time_limit(&field("time_limit"), m.time_limit.as_ref())?;
        let mut calls = Vec::new();
        if !m.emergency && !m.emergency_calls.is_empty() {
            return Err(invalid(
                &field("emergency_calls"),
                "only an emergency measure records phone calls (Art. 8, last paragraph)",
            ));
        }
        for (k, c) in m.emergency_calls.iter().enumerate() {
            let cf = |f: &str| field(&format!("emergency_calls[{k}].{f}"));
            let org = c.addressee_organisation_id.trim();
            if !by_addressee.contains_key(org) {
                return Err(invalid(
                    &cf("addressee_organisation_id"),
                    format!(
                        "{org:?} is not an addressee of this measure (addressees: {})",
                        by_addressee.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            let at = from_timestamp(
                &cf("called_at"),
                c.called_at
                    .as_ref()
                    .ok_or_else(|| invalid(&cf("called_at"), "required"))?,
            )?;
            if at > now {
                return Err(invalid(&cf("called_at"), "lies in the future"));
            }
            if at < now - chrono::Duration::days(30) {
                return Err(invalid(&cf("called_at"), "more than 30 days ago"));
            }
            let person = text(&cf("called_person"), &c.called_person, 200)?;
            if person.is_empty() {
                return Err(invalid(
                    &cf("called_person"),
                    "who took the call is required",
                ));
            }
            calls.push((org.to_owned(), at, person));
        }
        if m.emergency
            && let Some(missing) = by_addressee
                .keys()
                .find(|a| !calls.iter().any(|c| &c.0 == *a))
        {
            return Err(invalid(
                &field("emergency_calls"),
                format!(
                    "an emergency measure is phoned first (Art. 8, last paragraph): record the call to {missing}"
                ),
            ));
        }
        let protected_system = match &m.protected_system {
            None => None,
            Some(_) if measure_type != pb::MeasureType::Rectify => {
                return Err(invalid(
                    &field("protected_system"),
                    "only an Art. 8(3) rectification concerns a protected system",
                ));
            }
            Some(p) => Some(self.protected_system(&field("protected_system"), p).await?),
        };
        let legal_basis = match text(&field("legal_basis"), &m.legal_basis, 500)? {
            b if b.is_empty() => notice::default_legal_basis(measure_type as i32).to_owned(),
            b => b,
        };
        let marked = self.marked_systems(&by_addressee, holdings).await?;
        let holders = if measure_type == pb::MeasureType::StopServiceOrBlock {
            by_addressee
                .iter()
                .map(|(a, targets)| (a.clone(), holders_of(holdings, targets)))
                .filter(|(_, h)| !h.is_empty())
                .collect()
        } else {
            BTreeMap::new()
        };
        Ok(Measure {
            holders,
            index,
            measure_type,
            legal_basis,
            instructions: text(&field("instructions"), &m.instructions, 4000)?,
            time_limit,
            emergency: m.emergency,
            calls,
            protected_system,
            marked,
            by_addressee,
        })
    }

    /// Art. 8(3): every addressee or holder of the targets that the registry marks as a
    /// protected system, with the parties its mark says are informed.
    async fn marked_systems(
        &self,
        by_addressee: &BTreeMap<String, Vec<pb::NoticeTarget>>,
        holdings: &[OwnershipEntry],
    ) -> Result<Vec<pb::ProtectedSystem>, Status> {
        let mut orgs: Vec<String> = by_addressee.keys().cloned().collect();
        for targets in by_addressee.values() {
            orgs.extend(holders_of(holdings, targets).into_keys());
        }
        orgs.sort();
        orgs.dedup();
        let mut out = Vec::new();
        for id in orgs {
            let Some(org) = registry::get_organisation(&self.workflow.store, &id)
                .await
                .map_err(internal)?
            else {
                continue;
            };
            if let Some(mark) = org.protection() {
                out.push(pb::ProtectedSystem {
                    kind: mark.kind as i32,
                    system_name: mark.system_name,
                    operator_name: org.name.clone(),
                    informational_addressees: mark
                        .informed
                        .into_iter()
                        .map(crate::api::protection::party_to_pb)
                        .collect(),
                    marked_organisation_id: org.id,
                });
            }
        }
        Ok(out)
    }

    /// 2009 mechanism Art. 17: a referral to public security, checked.
    pub(crate) async fn referral(
        &self,
        r: &pb::PublicSecurityReferral,
    ) -> Result<pb::PublicSecurityReferral, Status> {
        let a = r.addressee.clone().unwrap_or_default();
        let field = |f: &str| format!("public_security_referral.{f}");
        if !matches!(
            pb::InformationalAddresseeKind::try_from(a.kind),
            Ok(pb::InformationalAddresseeKind::Unspecified
                | pb::InformationalAddresseeKind::PublicSecurity)
        ) {
            return Err(invalid(
                &field("addressee.kind"),
                "PUBLIC_SECURITY (or unset)",
            ));
        }
        let organisation_id = if a.organisation_id.trim().is_empty() {
            String::new()
        } else {
            self.existing_organisation(&field("addressee.organisation_id"), &a.organisation_id)
                .await?
        };
        let mut name = text(&field("addressee.name"), &a.name, 300)?;
        if name.is_empty() && !organisation_id.is_empty() {
            name = registry::get_organisation(&self.workflow.store, &organisation_id)
                .await
                .map_err(internal)?
                .map(|o| o.name)
                .unwrap_or_default();
        }
        if organisation_id.is_empty() && name.is_empty() {
            return Err(invalid(
                &field("addressee.name"),
                "required for a public security organ off the platform",
            ));
        }
        let offence = text(&field("suspected_offence"), &r.suspected_offence, 1000)?;
        if offence.is_empty() {
            return Err(invalid(
                &field("suspected_offence"),
                "required: what crime is suspected (2009 mechanism Art. 17)",
            ));
        }
        Ok(pb::PublicSecurityReferral {
            addressee: Some(pb::InformationalAddressee {
                kind: pb::InformationalAddresseeKind::PublicSecurity as i32,
                organisation_id,
                name,
                contact: text(&field("addressee.contact"), &a.contact, 300)?,
            }),
            suspected_offence: offence,
        })
    }

    async fn protected_system(
        &self,
        field: &str,
        p: &pb::ProtectedSystem,
    ) -> Result<pb::ProtectedSystem, Status> {
        let kind = match pb::ProtectedSystemKind::try_from(p.kind) {
            Ok(k) if k != pb::ProtectedSystemKind::Unspecified => k,
            _ => {
                return Err(invalid(
                    &format!("{field}.kind"),
                    "party or government organ, critical information infrastructure, or important information system",
                ));
            }
        };
        let mut out = pb::ProtectedSystem {
            kind: kind as i32,
            system_name: text(&format!("{field}.system_name"), &p.system_name, 300)?,
            operator_name: text(&format!("{field}.operator_name"), &p.operator_name, 300)?,
            informational_addressees: Vec::new(),
            marked_organisation_id: String::new(),
        };
        for (i, a) in p.informational_addressees.iter().enumerate() {
            let af = |f: &str| format!("{field}.informational_addressees[{i}].{f}");
            let k = match pb::InformationalAddresseeKind::try_from(a.kind) {
                Ok(pb::InformationalAddresseeKind::ResourceHolder) => {
                    return Err(invalid(
                        &af("kind"),
                        "resource holders are informed by the server from the ownership registry (Art. 10), never named",
                    ));
                }
                Ok(k) if k != pb::InformationalAddresseeKind::Unspecified => k,
                _ => return Err(invalid(&af("kind"), "required")),
            };
            let organisation_id = if a.organisation_id.trim().is_empty() {
                String::new()
            } else {
                self.existing_organisation(&af("organisation_id"), &a.organisation_id)
                    .await?
            };
            let name = text(&af("name"), &a.name, 300)?;
            if name.is_empty() && organisation_id.is_empty() {
                return Err(invalid(
                    &af("name"),
                    "required for an addressee off the platform",
                ));
            }
            out.informational_addressees
                .push(pb::InformationalAddressee {
                    kind: k as i32,
                    organisation_id,
                    name,
                    contact: text(&af("contact"), &a.contact, 300)?,
                });
        }
        for required in notice::required_informational_kinds(kind as i32) {
            if !out
                .informational_addressees
                .iter()
                .any(|a| a.kind == *required)
            {
                let name = pb::InformationalAddresseeKind::try_from(*required)
                    .map(|k| k.as_str_name())
                    .unwrap_or("?");
                return Err(invalid(
                    &format!("{field}.informational_addressees"),
                    format!(
                        "Art. 8(3): a case involving a {} also informs {name}",
                        kind.as_str_name()
                    ),
                ));
            }
        }
        Ok(out)
    }

    pub(super) async fn issue(
        &self,
        caller: &Caller,
        req: pb::IssueDecisionRequest,
    ) -> Result<pb::IssueDecisionResponse, Status> {
        let now = self.workflow.clock.now();
        let request_sha256 = hex::encode(Sha256::digest(req.encode_to_vec()));
        let request_id = req.request_id.trim().to_owned();
        if request_id.is_empty() || request_id.chars().count() > 100 {
            return Err(invalid(
                "request_id",
                "1 to 100 characters: the decision's idempotency key",
            ));
        }
        let threat_id = parse_id("threat_id", &req.threat_id)?;
        if req.measures.is_empty() {
            return Err(invalid(
                "measures",
                "a decision orders at least one measure (Art. 8)",
            ));
        }
        if req.measures.len() > 50 {
            return Err(invalid("measures", "at most 50 measures per decision"));
        }
        let review_ids = parse_ids("resolves_review_item_ids", &req.resolves_review_item_ids)?;

        // A retry is answered before anything else is checked again.
        if let Some(existing) = self.replay(caller, &request_id, &request_sha256).await? {
            return Ok(existing);
        }

        let threat = threats::get_threat(&self.workflow.store, &threat_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| Status::not_found(format!("threat {threat_id} does not exist")))?;
        if threat.status != ThreatStatus::Confirmed {
            let what = if threat.status == ThreatStatus::Rejected {
                "was rejected"
            } else {
                "is not yet identified"
            };
            return Err(precondition(
                "THREAT_NOT_CONFIRMED",
                &format!("threat:{threat_id}"),
                format!(
                    "Art. 8: measures are ordered only on a threat a professional institution has confirmed (Art. 7); this threat {what}"
                ),
            ));
        }
        let measures = self
            .prepare_measures(caller, "measures", &req.measures, now)
            .await?;
        let referral = match &req.public_security_referral {
            Some(r) => Some(self.referral(r).await?),
            None => None,
        };
        let signer = signer(self, &caller.organisation_id, now).await?;
        let decision_id = uuid::Uuid::now_v7().to_string();

        let names = self.addressee_names(&measures).await?;

        let mut tx = self.workflow.store.begin().await.map_err(internal)?;
        let recorded = self
            .record_decision(
                &mut tx,
                caller,
                &DecisionContext {
                    decision_id: &decision_id,
                    request_id: &request_id,
                    request_sha256: &request_sha256,
                    threat: &threat,
                    replaces: None,
                    names: &names,
                    referral: referral.as_ref(),
                },
                &measures,
                &signer,
                now,
            )
            .await;
        let Some(rows) = recorded? else {
            // A concurrent first try of this request committed first (the insert waited for
            // it): answer as it did.
            drop(tx);
            return self
                .replay(caller, &request_id, &request_sha256)
                .await?
                .ok_or_else(|| internal("decision vanished"));
        };
        for id in &review_ids {
            crate::compliance::settle_review(
                &mut tx,
                caller,
                id,
                &threat_id,
                &format!("decision:{decision_id}"),
                now,
            )
            .await?;
        }
        // 2009 mechanism Art. 8(3): the decision's notices notify the units of the threat.
        crate::store::reporting::notified_by_decision(
            &mut tx,
            &threat_id,
            &decision_id,
            to_micros(now),
        )
        .await
        .map_err(internal)?;
        audit::append(
            &mut tx,
            self.workflow.store.dialect(),
            now,
            &caller.actor(),
            "disposal.issue_decision",
            &format!("decision:{decision_id}"),
            serde_json::json!({
                "threat_id": threat_id,
                "request_id": request_id,
                "notices": rows.iter().map(|r| serde_json::json!({
                    "notice_id": r.id,
                    "kind": r.kind as i64,
                    "addressee": r.addressee,
                    "measure_type": r.measure_type,
                    "deadline": r.deadline,
                    "key_id": r.key_id,
                })).collect::<Vec<_>>(),
                "settles_review_items": review_ids,
            }),
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        self.workflow
            .signal
            .wake(rows.iter().filter_map(|r| r.addressee.as_deref()));
        let targets = notices::targets_of(
            &self.workflow.store,
            &rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        )
        .await
        .map_err(internal)?;
        Ok(pb::IssueDecisionResponse {
            decision_id,
            notices: view::notices(&rows, &targets),
        })
    }

    /// Validates and routes every measure, then checks the caller's jurisdiction over
    /// every target (Art. 3, 9).
    pub(crate) async fn prepare_measures(
        &self,
        caller: &Caller,
        list_field: &str,
        raw: &[pb::DecisionMeasure],
        now: DateTime<Utc>,
    ) -> Result<Vec<Measure>, Status> {
        let table = self.router.current().await.map_err(internal)?;
        let holdings: Vec<OwnershipEntry> =
            crate::store::ownership::holdings(&self.workflow.store, None)
                .await
                .map_err(internal)?
                .iter()
                .filter_map(crate::ownership::entry)
                .collect();
        let mut measures = Vec::with_capacity(raw.len());
        for (i, m) in raw.iter().enumerate() {
            measures.push(
                self.measure(&table, &holdings, list_field, i, m, now)
                    .await?,
            );
        }
        let outside = outside_province(caller, &measures);
        if !outside.is_empty() {
            return Err(Status::permission_denied(format!(
                "{} may order measures only on targets in its province {}; outside it: {} (Art. 3: a provincial administration acts in its own region; Art. 8)",
                caller.organisation_id,
                caller.province,
                outside.join(", ")
            )));
        }
        Ok(measures)
    }

    /// The names of a decision's addressees. Read before the transaction: on SQLite it holds
    /// the write lock and a pool connection, and a read needing a second connection could wait
    /// on writers queued behind it until both time out.
    pub(crate) async fn addressee_names(
        &self,
        measures: &[Measure],
    ) -> Result<BTreeMap<String, String>, Status> {
        let mut names = BTreeMap::new();
        for m in measures {
            let informational = m
                .protected_system
                .iter()
                .chain(m.marked.iter())
                .flat_map(|p| p.informational_addressees.iter())
                .filter(|a| a.name.is_empty())
                .map(|a| &a.organisation_id);
            let holders = m.holders.values().flat_map(|h| h.keys());
            for id in m.by_addressee.keys().chain(informational).chain(holders) {
                if !names.contains_key(id) {
                    names.insert(id.clone(), self.organisation_name(id).await?);
                }
            }
        }
        Ok(names)
    }

    /// Builds, signs and stores the notices of a decision inside `tx`: one per (measure,
    /// addressee) and one per Art. 8(3) informational addressee. `None` when the request id
    /// is already taken (a concurrent first try committed first).
    pub(crate) async fn record_decision(
        &self,
        tx: &mut Tx,
        caller: &Caller,
        d: &DecisionContext<'_>,
        measures: &[Measure],
        signer: &NoticeSigner,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<NoticeRow>>, Status> {
        let threat = d.threat;
        let name_of = |id: &str| d.names.get(id).cloned().unwrap_or_default();
        let officer = caller.officer.clone().unwrap_or_default();
        let summary = threat_summary(threat);
        // 2009 mechanism Art. 8(3): the facts the unit needs, read with the decision.
        let reports = crate::store::threats::reports_of(tx, &threat.id)
            .await
            .map_err(internal)?;
        let table = self.router.current().await.map_err(internal)?;
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
        .map_err(internal)?;
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
                let limits = DisposalLimits::from_policy(
                    &self.workflow.policy,
                    &province,
                    threat.grade,
                    m.emergency,
                );
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
                let holder_notices = self
                    .holder_notices(tx, m, addressee, &body, name_of)
                    .await?;
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
            let limits = DisposalLimits::from_policy(
                &self.workflow.policy,
                &province,
                threat.grade,
                m.emergency,
            );
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
            new.push(
                self.referral_notice(tx, caller, d, measures, r, &summary, &particulars, now)
                    .await?,
            );
        }
        crate::disposal::signing::store_notices(&self.workflow, tx, signer, new)
            .await
            .map(Some)
            .map_err(internal)
    }

    /// 2009 mechanism Art. 17: the informational notice referring the event to public security,
    /// with every target of the decision.
    #[allow(clippy::too_many_arguments)]
    async fn referral_notice(
        &self,
        tx: &mut Tx,
        caller: &Caller,
        d: &DecisionContext<'_>,
        measures: &[Measure],
        r: &pb::PublicSecurityReferral,
        summary: &str,
        particulars: &pb::ThreatParticulars,
        now: DateTime<Utc>,
    ) -> Result<NewNotice, Status> {
        let a = r.addressee.clone().unwrap_or_default();
        let targets: Vec<pb::NoticeTarget> = measures
            .iter()
            .flat_map(|m| m.by_addressee.values().flatten().cloned())
            .collect();
        let province = common_province(&targets);
        let limits =
            DisposalLimits::from_policy(&self.workflow.policy, &province, d.threat.grade, false);
        let due_at = due(tx, "receipt", now, limits.receipt).await?;
        let on_platform = !a.organisation_id.is_empty();
        let first = &measures[0];
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
                measure_type: first.measure_type as i32,
                targets,
                legal_basis: "Art. 17 of the trojan and botnet monitoring and disposal mechanism (MIIT 2009): suspected crimes are referred to public security".into(),
                threat_summary: summary.to_owned(),
                particulars: Some(particulars.clone()),
                grade: d.threat.grade as i32,
                receipt_due: on_platform.then(|| timestamp(to_micros(due_at))),
                offline_notification_due: (!on_platform).then(|| timestamp(to_micros(due_at))),
                reason: format!("suspected offence: {}", r.suspected_offence),
                ..Default::default()
            },
            province,
            targets: Vec::new(),
        })
    }

    /// Art. 10: one informational notice per holder of the targets of the disposal notice
    /// `disposal`, with the measure, its own targets and the appeal window's dates.
    async fn holder_notices(
        &self,
        tx: &mut Tx,
        m: &Measure,
        addressee: &str,
        disposal: &pb::NoticeBody,
        name_of: impl Fn(&str) -> String,
    ) -> Result<Vec<pb::NoticeBody>, Status> {
        let Some(holders) = m.holders.get(addressee) else {
            return Ok(Vec::new());
        };
        let calendar = crate::store::calendar::effective(tx)
            .await
            .map_err(internal)?;
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

    /// The answer already given to this request id, or ALREADY_EXISTS for other content.
    async fn replay(
        &self,
        caller: &Caller,
        request_id: &str,
        request_sha256: &str,
    ) -> Result<Option<pb::IssueDecisionResponse>, Status> {
        // A plain read: on SQLite `begin()` would take the write lock.
        let found =
            notices::find_decision(&self.workflow.store, &caller.organisation_id, request_id)
                .await
                .map_err(internal)?;
        let Some((decision_id, sha)) = found else {
            return Ok(None);
        };
        if sha != request_sha256 {
            return Err(Status::already_exists(format!(
                "request_id {request_id:?} already names decision {decision_id} with other content; use a new request_id"
            )));
        }
        let mut rows = notices::list(
            &self.workflow.store,
            &notices::NoticeFilter {
                decision_id: Some(decision_id.clone()),
                ..Default::default()
            },
            10_000,
        )
        .await
        .map_err(internal)?;
        rows.reverse();
        let targets = notices::targets_of(
            &self.workflow.store,
            &rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        )
        .await
        .map_err(internal)?;
        Ok(Some(pb::IssueDecisionResponse {
            decision_id,
            notices: view::notices(&rows, &targets),
        }))
    }
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
