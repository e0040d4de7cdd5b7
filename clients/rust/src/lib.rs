//! Rust client for the fenghuo platform.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let client = fenghuo_client::Client::connect_dir("https://127.0.0.1:50051", "fenghuo-data/pki/clients/telecom-gd").await?;
//! let me = client.registry().who_am_i(fenghuo_client::pb::WhoAmIRequest {}).await?.into_inner();
//! println!("{:?}", me.organisation);
//! # Ok(()) }
//! ```

use std::path::Path;

use anyhow::Context;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

pub mod roles;

pub mod pb {
    tonic::include_proto!("fenghuo.v1");
}

/// PEM material of one organisation's client identity.
#[derive(Clone)]
pub struct ClientPki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl ClientPki {
    /// Reads `ca.crt`, `client.crt` and `client.key` from a directory, as the dev PKI lays them out.
    pub fn from_dir(dir: impl AsRef<Path>) -> anyhow::Result<Self> {
        let dir = dir.as_ref();
        let read = |f: &str| {
            std::fs::read_to_string(dir.join(f))
                .with_context(|| format!("reading {}", dir.join(f).display()))
        };
        Ok(Self {
            ca_pem: read("ca.crt")?,
            cert_pem: read("client.crt")?,
            key_pem: read("client.key")?,
        })
    }
}

/// Adds the officer's token, when there is one, to every call.
#[derive(Clone, Default)]
pub struct OfficerToken(Option<MetadataValue<Ascii>>);

impl Interceptor for OfficerToken {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(token) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", token.clone());
        }
        Ok(request)
    }
}

pub type AuthedChannel = InterceptedService<Channel, OfficerToken>;

/// A connection to the platform as one organisation (and optionally one officer).
#[derive(Clone)]
pub struct Client {
    channel: Channel,
    token: OfficerToken,
}

/// The process-wide rustls provider (ring), installed once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Client {
    /// Connects over mTLS with the identity in a PKI directory (`ca.crt`, `client.crt`, `client.key`).
    pub async fn connect_dir(endpoint: &str, dir: impl AsRef<Path>) -> anyhow::Result<Client> {
        Self::connect(endpoint, &ClientPki::from_dir(dir)?).await
    }

    pub async fn connect(endpoint: &str, pki: &ClientPki) -> anyhow::Result<Client> {
        Ok(Client {
            channel: Self::channel(endpoint, pki).await?,
            token: OfficerToken::default(),
        })
    }

    /// The mTLS channel alone, for the standard health and reflection clients.
    pub async fn channel(endpoint: &str, pki: &ClientPki) -> anyhow::Result<Channel> {
        install_crypto_provider();
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&pki.ca_pem))
            .identity(Identity::from_pem(&pki.cert_pem, &pki.key_pem));
        let channel = Endpoint::from_shared(endpoint.to_owned())?
            .tls_config(tls)?
            .connect()
            .await
            .with_context(|| format!("connecting to {endpoint}"))?;
        Ok(channel)
    }

    /// The same connection, acting as an officer (a JWT from the organisation's identity provider,
    /// or `fenghuo token issue` in development).
    pub fn with_token(&self, token: &str) -> anyhow::Result<Client> {
        let value: MetadataValue<Ascii> = format!("Bearer {token}")
            .parse()
            .context("token is not ASCII")?;
        Ok(Client {
            channel: self.channel.clone(),
            token: OfficerToken(Some(value)),
        })
    }

    pub fn raw_channel(&self) -> Channel {
        self.channel.clone()
    }

    fn authed(&self) -> AuthedChannel {
        InterceptedService::new(self.channel.clone(), self.token.clone())
    }

    pub fn registry(&self) -> pb::registry_service_client::RegistryServiceClient<AuthedChannel> {
        pb::registry_service_client::RegistryServiceClient::new(self.authed())
    }
    pub fn audit(&self) -> pb::audit_service_client::AuditServiceClient<AuthedChannel> {
        pb::audit_service_client::AuditServiceClient::new(self.authed())
    }
    pub fn threats(&self) -> pb::threat_service_client::ThreatServiceClient<AuthedChannel> {
        pb::threat_service_client::ThreatServiceClient::new(self.authed())
    }
    pub fn identification(
        &self,
    ) -> pb::identification_service_client::IdentificationServiceClient<AuthedChannel> {
        pb::identification_service_client::IdentificationServiceClient::new(self.authed())
    }
    pub fn disposal(&self) -> pb::disposal_service_client::DisposalServiceClient<AuthedChannel> {
        pb::disposal_service_client::DisposalServiceClient::new(self.authed())
    }
    pub fn appeals(&self) -> pb::appeal_service_client::AppealServiceClient<AuthedChannel> {
        pb::appeal_service_client::AppealServiceClient::new(self.authed())
    }
    pub fn calendar(&self) -> pb::calendar_service_client::CalendarServiceClient<AuthedChannel> {
        pb::calendar_service_client::CalendarServiceClient::new(self.authed())
    }
}
