//! Onboarding from the command line: organisations and their contacts (Art. 5), officers and
//! their token keys, and certificates issued from a request whose key never leaves the
//! organisation.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use fenghuo_client::pb;
use serde::Deserialize;
use serde_json::json;

use super::ConnectArgs;
use super::output::Output;

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

#[derive(Subcommand)]
pub enum OfficerCommand {
    /// Register an officer of an organisation (another officer's token)
    Add {
        organisation: String,
        /// The `sub` of the officer's tokens
        #[arg(long)]
        name: String,
        /// The officer's full name, as audit records show it
        #[arg(long)]
        display_name: String,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Make the organisation's Ed25519 token-signing key pair in DIR (the same as `token
    /// keygen`): the private key stays with the organisation, the public one is registered
    /// with `officer register-key`
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Register the organisation's token-signing public key (PEM), made by `officer keygen`
    RegisterKey {
        organisation: String,
        #[arg(long)]
        kid: String,
        #[arg(long)]
        public_key: PathBuf,
        /// EdDSA or ES256
        #[arg(long, default_value = "EdDSA")]
        algorithm: String,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

#[derive(Subcommand)]
pub enum PkiCommand {
    /// At the organisation: make its private key and a certificate request naming it
    /// (DIR/client.key, never sent; DIR/client.csr, for the platform operator)
    Request {
        #[arg(long = "for")]
        organisation: String,
        #[arg(long)]
        out: PathBuf,
        /// The certificate's common name (default: the organisation id)
        #[arg(long)]
        name: Option<String>,
    },
    /// At the platform operator: sign a request with the platform CA (ca.crt, ca.key in
    /// --ca-dir), after checking it names exactly urn:fenghuo:org:<organisation>
    Sign {
        csr: PathBuf,
        #[arg(long = "for")]
        organisation: String,
        #[arg(long)]
        ca_dir: PathBuf,
        #[arg(long, default_value_t = fenghuo::pki::dev::MAX_CLIENT_DAYS)]
        days: i64,
        /// Where to write the certificate (PEM)
        #[arg(long)]
        out: PathBuf,
    },
    /// Register a signed certificate for its organisation (RegistryService.RegisterCertificate)
    Register {
        organisation: String,
        #[arg(long)]
        cert: PathBuf,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Revoke a certificate by its fingerprint (e.g. a leaked key)
    Revoke {
        fingerprint: String,
        #[arg(long)]
        reason: String,
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

impl OfficerCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            OfficerCommand::Add {
                organisation,
                name,
                display_name,
                out,
                connect,
            } => {
                let o = connect
                    .client()
                    .await?
                    .registry()
                    .register_officer(pb::RegisterOfficerRequest {
                        organisation_id: organisation,
                        name,
                        display_name,
                    })
                    .await?
                    .into_inner();
                out.say(
                    &format!("officer {} of {} registered", o.name, o.organisation_id),
                    json!({ "organisation_id": o.organisation_id, "name": o.name, "enabled": o.enabled }),
                );
                Ok(())
            }
            OfficerCommand::Keygen { out } => super::token_keygen(&out),
            OfficerCommand::RegisterKey {
                organisation,
                kid,
                public_key,
                algorithm,
                out,
                connect,
            } => {
                let pem = std::fs::read_to_string(&public_key)
                    .with_context(|| format!("reading {}", public_key.display()))?;
                anyhow::ensure!(
                    !pem.contains("PRIVATE KEY"),
                    "{} holds a private key: register the public key only",
                    public_key.display()
                );
                let k = connect
                    .client()
                    .await?
                    .registry()
                    .register_officer_key(pb::RegisterOfficerKeyRequest {
                        organisation_id: organisation,
                        kid,
                        algorithm,
                        public_key_pem: pem,
                    })
                    .await?
                    .into_inner();
                out.say(
                    &format!("token key {} of {} registered", k.kid, k.organisation_id),
                    json!({ "organisation_id": k.organisation_id, "kid": k.kid }),
                );
                Ok(())
            }
        }
    }
}

impl PkiCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            PkiCommand::Request {
                organisation,
                out,
                name,
            } => {
                std::fs::create_dir_all(&out)
                    .with_context(|| format!("creating {}", out.display()))?;
                let (csr, key) = fenghuo::pki::dev::client_request(
                    &organisation,
                    name.as_deref().unwrap_or(&organisation),
                )?;
                fenghuo::pki::dev::write_secret(&out.join("client.key"), &key)?;
                std::fs::write(out.join("client.csr"), csr)
                    .with_context(|| format!("writing {}", out.join("client.csr").display()))?;
                println!(
                    "{}: private key (keep it here), {}: the request to send to the platform operator",
                    out.join("client.key").display(),
                    out.join("client.csr").display()
                );
                Ok(())
            }
            PkiCommand::Sign {
                csr,
                organisation,
                ca_dir,
                days,
                out,
            } => {
                let read = |f: &str| {
                    std::fs::read_to_string(ca_dir.join(f))
                        .with_context(|| format!("reading {}", ca_dir.join(f).display()))
                };
                let ca = fenghuo::pki::dev::CertificateAuthority::load(
                    &read("ca.crt")?,
                    &read("ca.key")?,
                )?;
                let request = std::fs::read_to_string(&csr)
                    .with_context(|| format!("reading {}", csr.display()))?;
                let cert = ca.sign_client_request(&request, &organisation, days)?;
                std::fs::write(&out, &cert)
                    .with_context(|| format!("writing {}", out.display()))?;
                let parsed = fenghuo::pki::ClientCertificate::from_pem(&cert)?;
                println!(
                    "{}: certificate of {} valid to {}, fingerprint {}",
                    out.display(),
                    parsed.organisation.as_str(),
                    parsed.not_after.to_rfc3339(),
                    parsed.fingerprint
                );
                Ok(())
            }
            PkiCommand::Register {
                organisation,
                cert,
                out,
                connect,
            } => {
                let pem = std::fs::read_to_string(&cert)
                    .with_context(|| format!("reading {}", cert.display()))?;
                let c = connect
                    .client()
                    .await?
                    .registry()
                    .register_certificate(pb::RegisterCertificateRequest {
                        organisation_id: organisation,
                        certificate_pem: pem,
                    })
                    .await?
                    .into_inner();
                out.say(
                    &format!(
                        "certificate {} of {} registered",
                        c.fingerprint, c.organisation_id
                    ),
                    json!({ "fingerprint": c.fingerprint, "organisation_id": c.organisation_id }),
                );
                Ok(())
            }
            PkiCommand::Revoke {
                fingerprint,
                reason,
                out,
                connect,
            } => {
                let c = connect
                    .client()
                    .await?
                    .registry()
                    .revoke_certificate(pb::RevokeCertificateRequest {
                        fingerprint,
                        reason,
                    })
                    .await?
                    .into_inner();
                out.say(
                    &format!("certificate {} of {} revoked", c.fingerprint, c.organisation_id),
                    json!({ "fingerprint": c.fingerprint, "organisation_id": c.organisation_id, "revoked": c.revoked_at.is_some() }),
                );
                Ok(())
            }
        }
    }
}
