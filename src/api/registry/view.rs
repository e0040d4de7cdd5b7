//! Registry rows as the contract shows them.

use crate::api::{optional_timestamp, timestamp};
use crate::domain::organisation::Role;
use crate::pb;
use crate::store::registry::{
    self as reg, CertificateRow, OfficerKeyRow, OfficerRow, OrganisationRow,
};

pub fn role_to_pb(role: Role) -> pb::Role {
    match role {
        Role::NationalRegulator => pb::Role::NationalRegulator,
        Role::ProvincialRegulator => pb::Role::ProvincialRegulator,
        Role::Institution => pb::Role::Institution,
        Role::PlatformOperator => pb::Role::PlatformOperator,
        Role::BasicTelecom => pb::Role::BasicTelecom,
        Role::InternetEnterprise => pb::Role::InternetEnterprise,
        Role::SecurityVendor => pb::Role::SecurityVendor,
        Role::DomainRegistry => pb::Role::DomainRegistry,
        Role::DomainRegistrar => pb::Role::DomainRegistrar,
        Role::AffectedParty => pb::Role::AffectedParty,
        Role::InformationalRecipient => pb::Role::InformationalRecipient,
    }
}

pub fn role_from_pb(value: i32) -> Option<Role> {
    Role::ALL
        .into_iter()
        .find(|r| role_to_pb(*r) as i32 == value)
}

pub fn organisation_to_pb(o: &OrganisationRow) -> pb::Organisation {
    pb::Organisation {
        id: o.id.clone(),
        name: o.name.clone(),
        roles: o
            .roles()
            .into_iter()
            .map(|r| role_to_pb(r) as i32)
            .collect(),
        province: o.province.clone(),
        parent_id: o.parent_id.clone().unwrap_or_default(),
        enabled: o.enabled(),
        contacts: o
            .contacts()
            .into_iter()
            .map(crate::api::contacts::contact_to_pb)
            .collect(),
        created_at: Some(timestamp(o.created_at)),
        contacts_updated_at: optional_timestamp(o.contacts_updated_at),
        contacts_effective_on: o
            .contacts_effective_on
            .as_deref()
            .and_then(|d| d.parse().ok())
            .map(crate::api::calendar::date_to_pb),
        contacts_reported_late: o.contacts_reported_late != 0,
        protection: o.protection().map(crate::api::protection::mark_to_pb),
    }
}

pub(super) fn certificate_to_pb(c: &CertificateRow) -> pb::Certificate {
    pb::Certificate {
        fingerprint: c.fingerprint.clone(),
        organisation_id: c.org_id.clone(),
        subject: c.subject.clone(),
        not_before: Some(timestamp(c.not_before)),
        not_after: Some(timestamp(c.not_after)),
        registered_at: Some(timestamp(c.registered_at)),
        revoked_at: optional_timestamp(c.revoked_at),
        revocation_reason: c.revocation_reason.clone().unwrap_or_default(),
    }
}

pub(super) fn officer_to_pb(o: &OfficerRow) -> pb::Officer {
    pb::Officer {
        organisation_id: o.org_id.clone(),
        name: o.name.clone(),
        display_name: o.display_name.clone(),
        enabled: o.enabled != 0,
        registered_at: Some(timestamp(o.registered_at)),
    }
}

pub(super) fn officer_key_to_pb(k: &OfficerKeyRow) -> pb::OfficerKey {
    pb::OfficerKey {
        organisation_id: k.org_id.clone(),
        kid: k.kid.clone(),
        algorithm: k.algorithm.clone(),
        public_key_pem: k.public_key_pem.clone(),
        registered_at: Some(timestamp(k.registered_at)),
        revoked_at: optional_timestamp(k.revoked_at),
    }
}

pub(super) fn signing_key_to_pb(k: &reg::SigningKeyRow) -> pb::SigningKey {
    pb::SigningKey {
        organisation_id: k.org_id.clone(),
        key_id: k.key_id.clone(),
        certificate_pem: k.certificate_pem.clone(),
        valid_from: Some(timestamp(k.valid_from)),
        valid_until: Some(timestamp(k.valid_until)),
        retired_at: optional_timestamp(k.retired_at),
    }
}
