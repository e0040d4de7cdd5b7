//! `fenghuo org`: register an organisation with its roles and contacts (Art. 5), replace
//! its contacts register, disable or enable it.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use fenghuo_client::pb;
use serde::Deserialize;
use serde_json::json;

use crate::cli::ConnectArgs;
use crate::cli::output::Output;

#[derive(Clone, Copy, ValueEnum)]
pub enum RoleArg {
    NationalRegulator,
    ProvincialRegulator,
    Institution,
    PlatformOperator,
    BasicTelecom,
    InternetEnterprise,
    SecurityVendor,
    DomainRegistry,
    DomainRegistrar,
    AffectedParty,
    InformationalRecipient,
}

fn role(r: RoleArg) -> pb::Role {
    match r {
        RoleArg::NationalRegulator => pb::Role::NationalRegulator,
        RoleArg::ProvincialRegulator => pb::Role::ProvincialRegulator,
        RoleArg::Institution => pb::Role::Institution,
        RoleArg::PlatformOperator => pb::Role::PlatformOperator,
        RoleArg::BasicTelecom => pb::Role::BasicTelecom,
        RoleArg::InternetEnterprise => pb::Role::InternetEnterprise,
        RoleArg::SecurityVendor => pb::Role::SecurityVendor,
        RoleArg::DomainRegistry => pb::Role::DomainRegistry,
        RoleArg::DomainRegistrar => pb::Role::DomainRegistrar,
        RoleArg::AffectedParty => pb::Role::AffectedParty,
        RoleArg::InformationalRecipient => pb::Role::InformationalRecipient,
    }
}

#[derive(Subcommand)]
pub enum OrgCommand {
    /// Register an organisation (RegistryService.CreateOrganisation)
    Create {
        id: String,
        #[arg(long)]
        name: String,
        /// Repeatable
        #[arg(long = "role", value_enum, required = true)]
        roles: Vec<RoleArg>,
        /// GB/T 2260 code, e.g. 440000, or "national"
        #[arg(long)]
        province: String,
        /// Its group company, if a provincial subsidiary
        #[arg(long, default_value = "")]
        parent: String,
        /// JSON file of its contacts (Art. 5): [{"role": "leader_in_charge", "person": …}]
        #[arg(long)]
        contacts: Option<PathBuf>,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Replace an organisation's contacts register, with the day the change took effect
    Contacts {
        id: String,
        #[arg(long)]
        contacts: PathBuf,
        /// YYYY-MM-DD (Asia/Shanghai)
        #[arg(long)]
        effective_on: chrono::NaiveDate,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Disable an organisation: its calls and streams end (officer token)
    Disable {
        id: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Enable it again (officer token)
    Enable {
        id: String,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

/// A contact as the JSON file gives it.
#[derive(Deserialize)]
struct ContactFile {
    role: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    person: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
}

fn read_contacts(path: &Path) -> anyhow::Result<Vec<pb::Contact>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let list: Vec<ContactFile> = serde_json::from_str(&text)
        .with_context(|| format!("{}: a JSON array of contacts", path.display()))?;
    list.into_iter()
        .enumerate()
        .map(|(i, c)| {
            let role = match c.role.as_str() {
                "leader_in_charge" => pb::ContactRole::LeaderInCharge,
                "responsible_department" => pb::ContactRole::ResponsibleDepartment,
                "responsible_person" => pb::ContactRole::ResponsiblePerson,
                "day_to_day_contact" => pb::ContactRole::DayToDayContact,
                other => anyhow::bail!(
                    "{} contact {i}: role {other:?} is not leader_in_charge, responsible_department, responsible_person or day_to_day_contact",
                    path.display()
                ),
            };
            Ok(pb::Contact {
                role: role as i32,
                department: c.department,
                person: c.person,
                phone: c.phone,
                email: c.email,
            })
        })
        .collect()
}

fn org_out(out: &Output, verb: &str, o: &pb::Organisation) {
    out.say(
        &format!(
            "{verb} {} ({}) province {} {}",
            o.id,
            o.name,
            o.province,
            if o.enabled { "enabled" } else { "disabled" }
        ),
        json!({
            "id": o.id, "name": o.name, "province": o.province, "enabled": o.enabled,
            "roles": o.roles.iter().map(|r| pb::Role::try_from(*r).map(|r| r.as_str_name()).unwrap_or("?")).collect::<Vec<_>>(),
            "contacts": o.contacts.len(),
        }),
    );
}

impl OrgCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            OrgCommand::Create {
                id,
                name,
                roles,
                province,
                parent,
                contacts,
                out,
                connect,
            } => {
                let contacts = contacts
                    .as_deref()
                    .map(read_contacts)
                    .transpose()?
                    .unwrap_or_default();
                let org = connect
                    .client()
                    .await?
                    .registry()
                    .create_organisation(pb::CreateOrganisationRequest {
                        id,
                        name,
                        roles: roles.into_iter().map(|r| role(r) as i32).collect(),
                        province,
                        parent_id: parent,
                        contacts,
                    })
                    .await?
                    .into_inner();
                org_out(&out, "created", &org);
                Ok(())
            }
            OrgCommand::Contacts {
                id,
                contacts,
                effective_on,
                out,
                connect,
            } => {
                use chrono::Datelike;
                let org = connect
                    .client()
                    .await?
                    .registry()
                    .update_contacts(pb::UpdateContactsRequest {
                        organisation_id: id,
                        contacts: read_contacts(&contacts)?,
                        effective_on: Some(pb::Date {
                            year: effective_on.year(),
                            month: effective_on.month() as i32,
                            day: effective_on.day() as i32,
                        }),
                    })
                    .await?
                    .into_inner();
                org_out(
                    &out,
                    if org.contacts_reported_late {
                        "contacts updated (reported more than 3 working days after they took effect) for"
                    } else {
                        "contacts updated for"
                    },
                    &org,
                );
                Ok(())
            }
            OrgCommand::Disable {
                id,
                reason,
                out,
                connect,
            } => {
                let org = connect
                    .client()
                    .await?
                    .registry()
                    .set_organisation_enabled(pb::SetOrganisationEnabledRequest {
                        id,
                        enabled: false,
                        reason,
                    })
                    .await?
                    .into_inner();
                org_out(&out, "disabled", &org);
                Ok(())
            }
            OrgCommand::Enable { id, out, connect } => {
                let org = connect
                    .client()
                    .await?
                    .registry()
                    .set_organisation_enabled(pb::SetOrganisationEnabledRequest {
                        id,
                        enabled: true,
                        reason: String::new(),
                    })
                    .await?
                    .into_inner();
                org_out(&out, "enabled", &org);
                Ok(())
            }
        }
    }
}
