//! The measures of a decision (Art. 8, 9): each target routed to the unit responsible for it
//! or to the addressee named, each addressee able to carry the measure out, an emergency
//! phoned first, protected systems and the holders of blocked resources found, and every
//! target inside the regulator's jurisdiction (Art. 3).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::auth::Caller;
use crate::auth::policy::Scope;
use crate::disposal::{Disposals, Fault};
use crate::domain::notice::{self, AddresseeRoleError};
use crate::domain::policy::TimeLimit;
use crate::domain::routing::{self, OwnedTarget, OwnershipEntry, RoutingTable};
use crate::pb;
use crate::store::registry;

/// An Art. 8 measure as the regulator orders it, checked in itself by the edge: targets
/// parsed and normalised, texts within their limits, the informed parties of a protected
/// system complete.
#[derive(Debug, Clone)]
pub struct OrderedMeasure {
    pub measure_type: pb::MeasureType,
    pub targets: Vec<pb::MeasureTarget>,
    /// The addressee named; required for 8(2) and 8(3), else routed per target (Art. 9).
    pub addressee: Option<String>,
    pub time_limit: Option<TimeLimit>,
    pub emergency: bool,
    /// Art. 8, last paragraph: an emergency is phoned first.
    pub calls: Vec<EmergencyCall>,
    /// Art. 8(3): the party or government organ or infrastructure concerned.
    pub protected_system: Option<pb::ProtectedSystem>,
    pub legal_basis: String,
    pub instructions: String,
}

/// A phone call that delivered an emergency measure before the written notice.
#[derive(Debug, Clone)]
pub struct EmergencyCall {
    pub addressee: String,
    pub called_at: DateTime<Utc>,
    pub called_person: String,
}

/// A measure after routing: what the notices are built from.
#[derive(Debug, Clone)]
pub struct RoutedMeasure {
    pub(crate) index: usize,
    pub(crate) measure_type: pb::MeasureType,
    pub(crate) legal_basis: String,
    pub(crate) instructions: String,
    pub(crate) time_limit: Option<TimeLimit>,
    pub(crate) emergency: bool,
    /// (addressee, called at, who took the call).
    pub(crate) calls: Vec<(String, DateTime<Utc>, String)>,
    pub(crate) protected_system: Option<pb::ProtectedSystem>,
    /// Art. 8(3) without a flag: the protected systems the registry marks among the
    /// addressees and the holders of the targets, each with the parties its mark names.
    pub(crate) marked: Vec<pb::ProtectedSystem>,
    /// Routed targets grouped by addressee.
    pub(crate) by_addressee: BTreeMap<String, Vec<pb::NoticeTarget>>,
    /// 8(1) only (Art. 10): per addressee, the holders of its targets and the targets each holds.
    pub(crate) holders: BTreeMap<String, BTreeMap<String, Vec<pb::NoticeTarget>>>,
}

/// Why a measure cannot be ordered as given: one variant per rule. `field` names the
/// request's field at fault.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("no organisation {id:?} is registered")]
    UnknownOrganisation { field: String, id: String },
    #[error("organisation {id} is disabled")]
    OrganisationDisabled { field: String, id: String },
    /// Art. 9: a target no ownership entry covers goes to a named addressee.
    #[error(
        "no ownership entry covers {value} (Art. 9); name the addressee in addressee_organisation_id"
    )]
    Unroutable { field: String, value: String },
    /// Art. 8: the addressee's role cannot carry the measure out.
    #[error("{error}")]
    AddresseeRole {
        field: String,
        error: AddresseeRoleError,
    },
    #[error("{organisation:?} is not an addressee of this measure (addressees: {})", addressees.join(", "))]
    CallToNonAddressee {
        field: String,
        organisation: String,
        addressees: Vec<String>,
    },
    #[error("lies in the future")]
    CallInFuture { field: String },
    #[error("more than 30 days ago")]
    CallTooOld { field: String },
    /// Art. 8, last paragraph: every addressee of an emergency measure is phoned first.
    #[error(
        "an emergency measure is phoned first (Art. 8, last paragraph): record the call to {addressee}"
    )]
    CallMissing { field: String, addressee: String },
    /// Art. 3: a provincial administration acts in its own region.
    #[error(
        "{organisation} may order measures only on targets in its province {province}; outside it: {} (Art. 3: a provincial administration acts in its own region; Art. 8)",
        outside.join(", ")
    )]
    OutsideProvince {
        organisation: String,
        province: String,
        outside: Vec<String>,
    },
    #[error(transparent)]
    Fault(#[from] Fault),
}

impl From<sqlx::Error> for OrderError {
    fn from(e: sqlx::Error) -> Self {
        OrderError::Fault(Fault::Storage(e))
    }
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

/// Every target outside the caller's province, for the refusal.
fn outside_province(caller: &Caller, measures: &[RoutedMeasure]) -> Vec<String> {
    if caller.scope != Scope::OwnProvince {
        return Vec::new();
    }
    let mut outside = Vec::new();
    for m in measures {
        for t in m.by_addressee.values().flatten() {
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
    outside
}

impl Disposals {
    /// An organisation named in the request: it must exist and be enabled.
    ///
    /// # Errors
    /// [`OrderError::UnknownOrganisation`], [`OrderError::OrganisationDisabled`].
    pub async fn existing_organisation(&self, field: &str, id: &str) -> Result<String, OrderError> {
        match registry::get_organisation(&self.store, id.trim()).await? {
            Some(o) if o.enabled() => Ok(o.id),
            Some(o) => Err(OrderError::OrganisationDisabled {
                field: field.to_owned(),
                id: o.id,
            }),
            None => Err(OrderError::UnknownOrganisation {
                field: field.to_owned(),
                id: id.trim().to_owned(),
            }),
        }
    }

    /// Routes every measure, then checks the caller's jurisdiction over every target
    /// (Art. 3, 9). `list_field` names the request's list of measures in errors.
    ///
    /// # Errors
    /// [`OrderError`].
    pub async fn prepare_measures(
        &self,
        caller: &Caller,
        list_field: &str,
        ordered: &[OrderedMeasure],
        now: DateTime<Utc>,
    ) -> Result<Vec<RoutedMeasure>, OrderError> {
        let table = self.router.current().await?;
        let holdings: Vec<OwnershipEntry> = crate::store::ownership::holdings(&self.store, None)
            .await?
            .iter()
            .filter_map(crate::ownership::entry)
            .collect();
        let mut measures = Vec::with_capacity(ordered.len());
        for (index, m) in ordered.iter().enumerate() {
            let prefix = format!("{list_field}[{index}]");
            measures.push(
                self.route_measure(&table, &holdings, index, m, &prefix, now)
                    .await?,
            );
        }
        let outside = outside_province(caller, &measures);
        if !outside.is_empty() {
            return Err(OrderError::OutsideProvince {
                organisation: caller.organisation_id.clone(),
                province: caller.province.clone(),
                outside,
            });
        }
        Ok(measures)
    }

    async fn route_measure(
        &self,
        table: &RoutingTable,
        holdings: &[OwnershipEntry],
        index: usize,
        m: &OrderedMeasure,
        prefix: &str,
        now: DateTime<Utc>,
    ) -> Result<RoutedMeasure, OrderError> {
        let field = |f: &str| format!("{prefix}.{f}");
        let named = match &m.addressee {
            Some(id) => Some(
                self.existing_organisation(&field("addressee_organisation_id"), id)
                    .await?,
            ),
            None => None,
        };
        let named_province = match &named {
            Some(id) => registry::get_organisation(&self.store, id)
                .await?
                .map(|o| o.province)
                .unwrap_or_default(),
            None => String::new(),
        };
        let mut by_addressee: BTreeMap<String, Vec<pb::NoticeTarget>> = BTreeMap::new();
        for (j, t) in m.targets.iter().enumerate() {
            let (addressee, province) = match (&named, route(table, t)) {
                (Some(a), Some((_, p))) => (a.clone(), p),
                (Some(a), None) => (a.clone(), named_province.clone()),
                (None, Some((owner, p))) => (owner, p),
                (None, None) => {
                    return Err(OrderError::Unroutable {
                        field: field(&format!("targets[{j}]")),
                        value: t.value.clone(),
                    });
                }
            };
            by_addressee
                .entry(addressee)
                .or_default()
                .push(pb::NoticeTarget {
                    target_id: uuid::Uuid::now_v7().to_string(),
                    target: Some(t.clone()),
                    province: if province == "national" {
                        String::new()
                    } else {
                        province
                    },
                });
        }
        // Art. 8: whoever the addressee — routed or named — its role must be able to act.
        for addressee in by_addressee.keys() {
            let roles = registry::get_organisation(&self.store, addressee)
                .await?
                .map(|o| o.roles())
                .unwrap_or_default();
            notice::check_addressee(m.measure_type as i32, addressee, &roles).map_err(|error| {
                OrderError::AddresseeRole {
                    field: if named.is_some() {
                        field("addressee_organisation_id")
                    } else {
                        field("targets")
                    },
                    error,
                }
            })?;
        }
        let mut calls = Vec::new();
        for (k, c) in m.calls.iter().enumerate() {
            let cf = |f: &str| field(&format!("emergency_calls[{k}].{f}"));
            if !by_addressee.contains_key(&c.addressee) {
                return Err(OrderError::CallToNonAddressee {
                    field: cf("addressee_organisation_id"),
                    organisation: c.addressee.clone(),
                    addressees: by_addressee.keys().cloned().collect(),
                });
            }
            if c.called_at > now {
                return Err(OrderError::CallInFuture {
                    field: cf("called_at"),
                });
            }
            if c.called_at < now - Duration::days(30) {
                return Err(OrderError::CallTooOld {
                    field: cf("called_at"),
                });
            }
            calls.push((c.addressee.clone(), c.called_at, c.called_person.clone()));
        }
        if m.emergency
            && let Some(missing) = by_addressee
                .keys()
                .find(|a| !calls.iter().any(|c| &c.0 == *a))
        {
            return Err(OrderError::CallMissing {
                field: field("emergency_calls"),
                addressee: missing.clone(),
            });
        }
        let protected_system = match &m.protected_system {
            None => None,
            Some(p) => Some(
                self.informed_on_platform(&field("protected_system"), p)
                    .await?,
            ),
        };
        let marked = self.marked_systems(&by_addressee, holdings).await?;
        let holders = if m.measure_type == pb::MeasureType::StopServiceOrBlock {
            by_addressee
                .iter()
                .map(|(a, targets)| (a.clone(), holders_of(holdings, targets)))
                .filter(|(_, h)| !h.is_empty())
                .collect()
        } else {
            BTreeMap::new()
        };
        Ok(RoutedMeasure {
            holders,
            index,
            measure_type: m.measure_type,
            legal_basis: m.legal_basis.clone(),
            instructions: m.instructions.clone(),
            time_limit: m.time_limit,
            emergency: m.emergency,
            calls,
            protected_system,
            marked,
            by_addressee,
        })
    }

    /// A protected system's informed parties named on the platform exist and are enabled.
    async fn informed_on_platform(
        &self,
        field: &str,
        p: &pb::ProtectedSystem,
    ) -> Result<pb::ProtectedSystem, OrderError> {
        let mut out = p.clone();
        for (i, a) in out.informational_addressees.iter_mut().enumerate() {
            if !a.organisation_id.is_empty() {
                a.organisation_id = self
                    .existing_organisation(
                        &format!("{field}.informational_addressees[{i}].organisation_id"),
                        &a.organisation_id,
                    )
                    .await?;
            }
        }
        Ok(out)
    }

    /// Art. 8(3): every addressee or holder of the targets that the registry marks as a
    /// protected system, with the parties its mark says are informed.
    async fn marked_systems(
        &self,
        by_addressee: &BTreeMap<String, Vec<pb::NoticeTarget>>,
        holdings: &[OwnershipEntry],
    ) -> Result<Vec<pb::ProtectedSystem>, OrderError> {
        let mut orgs: Vec<String> = by_addressee.keys().cloned().collect();
        for targets in by_addressee.values() {
            orgs.extend(holders_of(holdings, targets).into_keys());
        }
        orgs.sort();
        orgs.dedup();
        let mut out = Vec::new();
        for id in orgs {
            let Some(org) = registry::get_organisation(&self.store, &id).await? else {
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

    /// 2009 mechanism Art. 17: a referral's public security organ, if named on the platform,
    /// exists; its name comes from the registry when not given.
    ///
    /// # Errors
    /// [`OrderError::UnknownOrganisation`], [`OrderError::OrganisationDisabled`].
    pub async fn referral(
        &self,
        r: &pb::PublicSecurityReferral,
    ) -> Result<pb::PublicSecurityReferral, OrderError> {
        let mut out = r.clone();
        let Some(a) = out.addressee.as_mut() else {
            return Ok(out);
        };
        if !a.organisation_id.is_empty() {
            a.organisation_id = self
                .existing_organisation(
                    "public_security_referral.addressee.organisation_id",
                    &a.organisation_id,
                )
                .await?;
            if a.name.is_empty() {
                a.name = self.organisation_name(&a.organisation_id).await?;
            }
        }
        Ok(out)
    }

    async fn organisation_name(&self, id: &str) -> Result<String, Fault> {
        Ok(registry::get_organisation(&self.store, id)
            .await?
            .map(|o| o.name)
            .unwrap_or_default())
    }

    /// The names of a decision's addressees. Read before the transaction: on SQLite it holds
    /// the write lock and a pool connection, and a read needing a second connection could wait
    /// on writers queued behind it until both time out.
    ///
    /// # Errors
    /// [`Fault`] (storage).
    pub async fn addressee_names(
        &self,
        measures: &[RoutedMeasure],
    ) -> Result<BTreeMap<String, String>, Fault> {
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
}
