//! Marking an organisation whose systems are protected (Art. 8(3); 2009 mechanism Art. 9(4),
//! 19): who is informed of any measure on its resources. RegistryService.SetProtectionMark.

use anyhow::Context;
use clap::{Args, ValueEnum};
use fenghuo_client::pb;
use serde_json::json;

use super::ConnectArgs;
use super::output::{Output, ts_json};

fn enum_name<E: TryFrom<i32>>(v: i32, f: impl Fn(&E) -> &'static str) -> &'static str {
    E::try_from(v).map(|e| f(&e)).unwrap_or("?")
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ProtectedKind {
    PartyOrGovernmentOrgan,
    CriticalInformationInfrastructure,
    ImportantInformationSystem,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Sector {
    Government,
    Military,
    Banking,
    Customs,
    Taxation,
    Power,
    Railway,
    Securities,
    Insurance,
    CivilAviation,
    OtherVital,
}

#[derive(Args)]
pub struct ProtectArgs {
    /// The organisation whose systems are protected
    organisation: String,
    #[arg(long, value_enum, required_unless_present = "clear")]
    kind: Option<ProtectedKind>,
    /// An important information system's sector (required for that kind only)
    #[arg(long, value_enum)]
    sector: Option<Sector>,
    /// The system, e.g. "provincial tax e-filing"
    #[arg(long, default_value = "")]
    system_name: String,
    /// KIND:ORG_ID, an informed party on the platform; KIND superior-authority,
    /// cyberspace-administration or competent-department (repeatable)
    #[arg(long = "informed")]
    informed: Vec<String>,
    /// KIND:NAME:CONTACT, an informed party off the platform, told offline (repeatable)
    #[arg(long = "informed-offline")]
    informed_offline: Vec<String>,
    /// Remove the organisation's mark
    #[arg(long, conflicts_with_all = ["kind", "sector", "system_name", "informed", "informed_offline"])]
    clear: bool,
    #[command(flatten)]
    out: Output,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// `superior-authority:gov-gd` or, off the platform, `superior-authority:NAME:CONTACT`.
fn parse_informed(raw: &str, offline: bool) -> anyhow::Result<pb::InformationalAddressee> {
    use pb::InformationalAddresseeKind as I;
    let flag = if offline {
        "--informed-offline KIND:NAME:CONTACT"
    } else {
        "--informed KIND:ORG_ID"
    };
    let (kind, rest) = raw
        .split_once(':')
        .with_context(|| format!("{flag} {raw:?}: no KIND: prefix"))?;
    let kind = match kind {
        "superior-authority" => I::SuperiorAuthority,
        "cyberspace-administration" => I::CyberspaceAdministration,
        "competent-department" => I::CompetentDepartment,
        other => anyhow::bail!(
            "{flag} {raw:?}: unknown kind {other:?} (superior-authority, cyberspace-administration, competent-department)"
        ),
    };
    let mut party = pb::InformationalAddressee {
        kind: kind as i32,
        ..Default::default()
    };
    if offline {
        let (name, contact) = rest.split_once(':').unwrap_or((rest, ""));
        party.name = name.to_owned();
        party.contact = contact.to_owned();
    } else {
        party.organisation_id = rest.to_owned();
    }
    Ok(party)
}

fn protection_out(out: &Output, org: &pb::Organisation) {
    let Some(m) = &org.protection else {
        out.say(
            &format!("{} is not marked", org.id),
            json!({ "organisation_id": org.id, "protection": null }),
        );
        return;
    };
    let kind = enum_name(m.kind, pb::ProtectedSystemKind::as_str_name);
    let sector = enum_name(m.sector, pb::ImportantSector::as_str_name);
    let informed: Vec<_> = m
        .informed
        .iter()
        .map(|p| {
            json!({
                "kind": enum_name(p.kind, pb::InformationalAddresseeKind::as_str_name),
                "organisation_id": p.organisation_id, "name": p.name, "contact": p.contact,
            })
        })
        .collect();
    let who: Vec<String> = m
        .informed
        .iter()
        .map(|p| {
            if p.organisation_id.is_empty() {
                format!("{} (offline)", p.name)
            } else {
                p.organisation_id.clone()
            }
        })
        .collect();
    out.say(
        &format!(
            "{} marked {kind} ({}); informed: {}",
            org.id,
            m.system_name,
            who.join(", ")
        ),
        json!({
            "organisation_id": org.id,
            "protection": {
                "kind": kind, "sector": sector, "system_name": m.system_name,
                "informed": informed, "marked_at": ts_json(m.marked_at), "marked_by": m.marked_by,
            },
        }),
    );
}

fn sector(s: Sector) -> pb::ImportantSector {
    use pb::ImportantSector as I;
    match s {
        Sector::Government => I::Government,
        Sector::Military => I::Military,
        Sector::Banking => I::Banking,
        Sector::Customs => I::Customs,
        Sector::Taxation => I::Taxation,
        Sector::Power => I::Power,
        Sector::Railway => I::Railway,
        Sector::Securities => I::Securities,
        Sector::Insurance => I::Insurance,
        Sector::CivilAviation => I::CivilAviation,
        Sector::OtherVital => I::OtherVital,
    }
}

/// `fenghuo decision protect`.
pub async fn protect(a: ProtectArgs) -> anyhow::Result<()> {
    let mark = if a.clear {
        None
    } else {
        let mut informed = Vec::new();
        for raw in &a.informed {
            informed.push(parse_informed(raw, false)?);
        }
        for raw in &a.informed_offline {
            informed.push(parse_informed(raw, true)?);
        }
        Some(pb::ProtectionMark {
            kind: match a.kind {
                Some(ProtectedKind::PartyOrGovernmentOrgan) => {
                    pb::ProtectedSystemKind::PartyOrGovernmentOrgan
                }
                Some(ProtectedKind::CriticalInformationInfrastructure) => {
                    pb::ProtectedSystemKind::CriticalInformationInfrastructure
                }
                Some(ProtectedKind::ImportantInformationSystem) => {
                    pb::ProtectedSystemKind::ImportantInformationSystem
                }
                None => pb::ProtectedSystemKind::Unspecified,
            } as i32,
            sector: a.sector.map(sector).unwrap_or_default() as i32,
            system_name: a.system_name.clone(),
            informed,
            ..Default::default()
        })
    };
    let org = a
        .connect
        .client()
        .await?
        .registry()
        .set_protection_mark(pb::SetProtectionMarkRequest {
            organisation_id: a.organisation.clone(),
            mark,
        })
        .await?
        .into_inner();
    protection_out(&a.out, &org);
    Ok(())
}
