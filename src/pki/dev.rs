//! The development certificate authority, created on first start.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ED25519, SanType,
};
use sha2::Digest as _;

use crate::domain::organisation::Role;

/// One seeded organisation per role of the issue's list, so that every role can be tried at once.
#[derive(Debug, Clone, Copy)]
pub struct DemoOrganisation {
    pub id: &'static str,
    pub name: &'static str,
    pub role: Role,
    pub province: &'static str,
}

pub const DEMO_ORGANISATIONS: [DemoOrganisation; 7] = [
    DemoOrganisation {
        id: "miit",
        name: "Ministry of Industry and Information Technology (demo)",
        role: Role::NationalRegulator,
        province: "national",
    },
    DemoOrganisation {
        id: "gdca",
        name: "Guangdong Communications Administration (demo)",
        role: Role::ProvincialRegulator,
        province: "440000",
    },
    DemoOrganisation {
        id: "cncert",
        name: "CNCERT/CC (demo)",
        role: Role::Institution,
        province: "national",
    },
    DemoOrganisation {
        id: "telecom-gd",
        name: "Guangdong Telecom (demo)",
        role: Role::BasicTelecom,
        province: "440000",
    },
    DemoOrganisation {
        id: "vendor-bj",
        name: "Beijing Security Vendor (demo)",
        role: Role::SecurityVendor,
        province: "110000",
    },
    DemoOrganisation {
        id: "registrar-bj",
        name: "Beijing Domain Registrar (demo)",
        role: Role::DomainRegistrar,
        province: "110000",
    },
    DemoOrganisation {
        id: "party-gd",
        name: "Guangdong Hosting Customer (demo affected party)",
        role: Role::AffectedParty,
        province: "440000",
    },
];

/// The officer every demo organisation gets, so tokens can be issued at once.
pub const DEMO_OFFICER: &str = "duty-officer";

pub struct CertificateAuthority {
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl CertificateAuthority {
    pub fn generate(common_name: &str) -> anyhow::Result<(Self, String)> {
        let key = KeyPair::generate()?;
        let key_pem = key.serialize_pem();
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        set_validity(&mut params, 3650);
        let cert = params.self_signed(&key)?;
        Ok((
            Self {
                cert_pem: cert.pem(),
                issuer: Issuer::new(params, key),
            },
            key_pem,
        ))
    }

    pub fn load(cert_pem: &str, key_pem: &str) -> anyhow::Result<Self> {
        let key = KeyPair::from_pem(key_pem).context("reading the CA key")?;
        let issuer =
            Issuer::from_ca_cert_pem(cert_pem, key).context("reading the CA certificate")?;
        Ok(Self {
            cert_pem: cert_pem.to_owned(),
            issuer,
        })
    }

    /// A server certificate for the given DNS names and IP addresses.
    pub fn issue_server(&self, names: &[&str]) -> anyhow::Result<(String, String)> {
        let key = KeyPair::generate()?;
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
        params.distinguished_name = dn("fenghuo server");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        set_validity(&mut params, 825);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// An Ed25519 signing key and its certificate for `org_id`: a regulator's notices (Art. 8),
    /// the institution's bulletins (2009 reporting measures Art. 19).
    pub fn issue_signing(&self, org_id: &str, name: &str) -> anyhow::Result<(String, String)> {
        let key = KeyPair::generate_for(&PKCS_ED25519)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(name);
        params.subject_alt_names = vec![SanType::URI(
            format!("urn:fenghuo:org:{org_id}")
                .try_into()
                .context("organisation URI")?,
        )];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ];
        set_validity(&mut params, 825);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// A client certificate naming `org_id` as `urn:fenghuo:org:<org_id>`.
    pub fn issue_client(&self, org_id: &str, name: &str) -> anyhow::Result<(String, String)> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(name);
        params.subject_alt_names = vec![SanType::URI(
            format!("urn:fenghuo:org:{org_id}")
                .try_into()
                .context("organisation URI")?,
        )];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        set_validity(&mut params, 397);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

/// Longest validity the platform CA gives a client certificate (days), as the dev PKI does.
pub const MAX_CLIENT_DAYS: i64 = 397;

/// The organisation's own key and a certificate signing request naming it as
/// `urn:fenghuo:org:<org_id>`: (CSR PEM, private key PEM). The key stays with the organisation.
pub fn client_request(org_id: &str, name: &str) -> anyhow::Result<(String, String)> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(name);
    params.subject_alt_names = vec![SanType::URI(
        format!("urn:fenghuo:org:{org_id}")
            .try_into()
            .context("organisation URI")?,
    )];
    let csr = params.serialize_request(&key)?;
    Ok((csr.pem()?, key.serialize_pem()))
}

impl CertificateAuthority {
    /// Signs an organisation's request for a client certificate, after checking that it names
    /// exactly `urn:fenghuo:org:<org_id>` and nothing else, valid from now for `days` (at most
    /// [`MAX_CLIENT_DAYS`]). Only the request's key and name are taken from it.
    pub fn sign_client_request(
        &self,
        csr_pem: &str,
        org_id: &str,
        days: i64,
    ) -> anyhow::Result<String> {
        anyhow::ensure!(
            (1..=MAX_CLIENT_DAYS).contains(&days),
            "validity {days} days: between 1 and {MAX_CLIENT_DAYS}"
        );
        let mut csr = rcgen::CertificateSigningRequestParams::from_pem(csr_pem)
            .context("not a certificate signing request (PEM)")?;
        let wanted = format!("urn:fenghuo:org:{org_id}");
        let names: Vec<String> = csr
            .params
            .subject_alt_names
            .iter()
            .map(|n| match n {
                SanType::URI(u) => u.as_str().to_owned(),
                other => format!("{other:?}"),
            })
            .collect();
        anyhow::ensure!(
            names == [wanted.clone()],
            "the request names {names:?}; a client certificate of {org_id} names exactly {wanted}"
        );
        let requested = std::mem::take(&mut csr.params);
        let mut params = CertificateParams::default();
        params.distinguished_name = requested.distinguished_name;
        params.subject_alt_names = requested.subject_alt_names;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::minutes(5);
        params.not_after = now + time::Duration::days(days);
        csr.params = params;
        Ok(csr.signed_by(&self.issuer)?.pem())
    }
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

fn set_validity(params: &mut CertificateParams, days: i64) {
    let now = time::OffsetDateTime::now_utc();
    // Valid from two years back: tests and demos replay past dates on the injected clock
    // (e.g. appeal windows across a Spring Festival) and sign notices then.
    params.not_before = now - time::Duration::days(730);
    params.not_after = now + time::Duration::days(days);
}

/// An Ed25519 key pair (PKCS#8 private PEM, SPKI public PEM) for signing officers' tokens.
pub fn generate_token_key() -> anyhow::Result<(String, String)> {
    let key = KeyPair::generate_for(&PKCS_ED25519)?;
    Ok((key.serialize_pem(), key.public_key_pem()))
}

/// Paths of the development PKI under `<data-dir>/pki`.
#[derive(Debug, Clone)]
pub struct DevPki {
    pub dir: PathBuf,
}

impl DevPki {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("pki"),
        }
    }

    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }
    pub fn ca_key(&self) -> PathBuf {
        self.dir.join("ca.key")
    }
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.crt")
    }
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
    pub fn client_dir(&self, org_id: &str) -> PathBuf {
        self.dir.join("clients").join(org_id)
    }
    /// The client certificate, its key and the CA as one PKCS#12 file for a browser to
    /// import (the web console), encrypted with [`DEV_P12_PASSWORD`].
    pub fn client_p12(&self, org_id: &str) -> PathBuf {
        self.client_dir(org_id).join("client.p12")
    }
    pub fn token_key(&self, org_id: &str) -> PathBuf {
        self.client_dir(org_id).join("officer-token.key")
    }
    pub fn token_public_key(&self, org_id: &str) -> PathBuf {
        self.client_dir(org_id).join("officer-token.pub.pem")
    }
    /// A regulator's notice-signing key and certificate (Art. 8).
    pub fn signing_key(&self, org_id: &str) -> PathBuf {
        self.client_dir(org_id).join("notice-signing.key")
    }
    pub fn signing_certificate(&self, org_id: &str) -> PathBuf {
        self.client_dir(org_id).join("notice-signing.crt")
    }

    /// Creates whatever is missing; returns true when the CA was created now.
    pub fn ensure(&self) -> anyhow::Result<bool> {
        let created = !self.ca_cert().exists();
        let ca = if created {
            std::fs::create_dir_all(&self.dir)
                .with_context(|| format!("creating {}", self.dir.display()))?;
            let (ca, key_pem) = CertificateAuthority::generate("fenghuo development CA")?;
            write_secret(&self.ca_key(), &key_pem)?;
            std::fs::write(self.ca_cert(), &ca.cert_pem)?;
            ca
        } else {
            self.authority()?
        };
        if !self.server_cert().exists() {
            let (cert, key) = ca.issue_server(&["localhost", "127.0.0.1", "::1"])?;
            write_secret(&self.server_key(), &key)?;
            std::fs::write(self.server_cert(), cert)?;
        }
        for org in DEMO_ORGANISATIONS {
            let dir = self.client_dir(org.id);
            if !dir.join("client.crt").exists() {
                std::fs::create_dir_all(&dir)?;
                let (cert, key) = ca.issue_client(org.id, org.name)?;
                write_secret(&dir.join("client.key"), &key)?;
                std::fs::write(dir.join("client.crt"), cert)?;
                std::fs::write(dir.join("ca.crt"), &ca.cert_pem)?;
            }
            if !self.client_p12(org.id).exists() {
                let p12 = pkcs12(
                    &std::fs::read_to_string(dir.join("client.crt"))?,
                    &std::fs::read_to_string(dir.join("client.key"))?,
                    &ca.cert_pem,
                    org.id,
                )?;
                write_secret_bytes(&self.client_p12(org.id), &p12)?;
            }
            if org.role.signs_documents() && !self.signing_certificate(org.id).exists() {
                let (cert, key) =
                    ca.issue_signing(org.id, &format!("{} notice signing", org.name))?;
                write_secret(&self.signing_key(org.id), &key)?;
                std::fs::write(self.signing_certificate(org.id), cert)?;
            }
            if !self.token_key(org.id).exists() {
                let (private, public) = generate_token_key()?;
                write_secret(&self.token_key(org.id), &private)?;
                std::fs::write(self.token_public_key(org.id), public)?;
            }
        }
        Ok(created)
    }

    pub fn authority(&self) -> anyhow::Result<CertificateAuthority> {
        let cert = std::fs::read_to_string(self.ca_cert())
            .with_context(|| format!("reading {}", self.ca_cert().display()))?;
        let key = std::fs::read_to_string(self.ca_key())
            .with_context(|| format!("reading {}", self.ca_key().display()))?;
        CertificateAuthority::load(&cert, &key)
    }
}

/// The password of the dev PKI's `client.p12` files (development only: anyone with the
/// data directory has the keys anyway).
pub const DEV_P12_PASSWORD: &str = "fenghuo";

/// A PKCS#12 of a certificate (PEM), its PKCS#8 key (PEM) and the CA (PEM), encrypted with
/// [`DEV_P12_PASSWORD`] (PBES2, AES-256, HMAC-SHA-256: what browsers and OpenSSL 3 read).
pub fn pkcs12(cert_pem: &str, key_pem: &str, ca_pem: &str, alias: &str) -> anyhow::Result<Vec<u8>> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes()).context("client certificate")?;
    let ca = CertificateDer::from_pem_slice(ca_pem.as_bytes()).context("CA certificate")?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).context("client key")?;
    let chain = [cert.as_ref(), ca.as_ref()]
        .into_iter()
        .map(p12_keystore::Certificate::from_der)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("certificate for PKCS#12: {e}"))?;
    let key = p12_keystore::PrivateKey::from_der(key.secret_der())
        .map_err(|e| anyhow::anyhow!("key for PKCS#12: {e}"))?;
    let local_key_id = sha2::Sha256::digest(cert.as_ref()).to_vec();
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(
        alias,
        p12_keystore::KeyStoreEntry::PrivateKeyChain(p12_keystore::PrivateKeyChain::new(
            local_key_id,
            key,
            chain,
        )),
    );
    store
        .writer(DEV_P12_PASSWORD)
        .write()
        .map_err(|e| anyhow::anyhow!("writing PKCS#12: {e}"))
}

/// [`write_secret`] for binary contents.
pub fn write_secret_bytes(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut f = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(contents)?;
    Ok(())
}

/// Private keys are readable by their owner only.
pub fn write_secret(path: &Path, contents: &str) -> anyhow::Result<()> {
    write_secret_bytes(path, contents.as_bytes())
}
