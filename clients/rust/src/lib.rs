//! Rust client for the fenghuo platform: [`Client`] connects over mTLS, [`roles`] has typed
//! helpers per role, [`resume`] server streams that resume from their cursor after a disconnect.
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
use std::sync::Arc;

use tonic::codegen::{Service, http};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

pub mod resume;
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

/// The RPCs whose row in `docs/authorization.md` says *officer token: yes*, as gRPC paths
/// (`/fenghuo.v1.DisposalService/IssueDecision`). Read from that file at build time.
pub const OFFICER_TOKEN_RPCS: &[&str] =
    include!(concat!(env!("OUT_DIR"), "/officer_token_rpcs.rs"));

/// WhoAmI reports the officer a token names, so it is how an integrator checks a token.
const WHO_AM_I: &str = "/fenghuo.v1.RegistryService/WhoAmI";

/// Whether the RPC at this gRPC path takes the officer's token.
pub fn takes_officer_token(path: &str) -> bool {
    path == WHO_AM_I || OFFICER_TOKEN_RPCS.contains(&path)
}

/// Called with the gRPC path of each call that went out without the token.
pub type TokenSkipped = Arc<dyn Fn(&str) + Send + Sync>;

/// The officer's token and where it goes.
#[derive(Clone)]
struct OfficerToken {
    value: http::HeaderValue,
    /// Tests of the server's token checks send it everywhere, as a hostile client would.
    every_call: bool,
    on_skip: Option<TokenSkipped>,
}

/// The largest StatisticsService answer this client accepts: the server refuses a bulletin
/// beyond its own `[limits] max_message_bytes` (8 MiB by default) by name, so this only has
/// to be at least as large as any server's limit is likely to be.
pub const MAX_BULLETIN_MESSAGE: usize = 64 * 1024 * 1024;

/// The mTLS channel, adding the officer's token (when there is one) to the RPCs that take it
/// and to no other: a token is short-lived and bound to one organisation, and a call that
/// needs none must not fail because it expired.
#[derive(Clone)]
pub struct AuthedChannel {
    inner: Channel,
    token: Option<OfficerToken>,
}

impl Service<http::Request<tonic::body::Body>> for AuthedChannel {
    type Response = <Channel as Service<http::Request<tonic::body::Body>>>::Response;
    type Error = <Channel as Service<http::Request<tonic::body::Body>>>::Error;
    type Future = <Channel as Service<http::Request<tonic::body::Body>>>::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        Service::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, mut request: http::Request<tonic::body::Body>) -> Self::Future {
        if let Some(token) = &self.token {
            let path = request.uri().path();
            if token.every_call || takes_officer_token(path) {
                request
                    .headers_mut()
                    .insert(http::header::AUTHORIZATION, token.value.clone());
            } else if let Some(on_skip) = &token.on_skip {
                on_skip(path);
            }
        }
        self.inner.call(request)
    }
}

/// A connection to the platform as one organisation (and optionally one officer).
#[derive(Clone)]
pub struct Client {
    channel: Channel,
    token: Option<OfficerToken>,
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
            token: None,
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
    /// or `fenghuo token issue` in development). The token goes to the RPCs that take one
    /// ([`takes_officer_token`]: the decisions of `docs/authorization.md`, and WhoAmI) and to
    /// no other.
    pub fn with_token(&self, token: &str) -> anyhow::Result<Client> {
        self.with_officer_token(token, false)
    }

    /// [`Client::with_token`], but sent on every call (to test the server's checks).
    pub fn with_token_on_every_call(&self, token: &str) -> anyhow::Result<Client> {
        self.with_officer_token(token, true)
    }

    /// Calls `on_skip` with the gRPC path of each call that went out without the token.
    pub fn on_token_skipped(mut self, on_skip: TokenSkipped) -> Client {
        if let Some(token) = &mut self.token {
            token.on_skip = Some(on_skip);
        }
        self
    }

    fn with_officer_token(&self, token: &str, every_call: bool) -> anyhow::Result<Client> {
        let mut value: http::HeaderValue = format!("Bearer {token}")
            .parse()
            .context("the officer token is not a valid header value (ASCII, no line breaks)")?;
        value.set_sensitive(true);
        Ok(Client {
            channel: self.channel.clone(),
            token: Some(OfficerToken {
                value,
                every_call,
                on_skip: None,
            }),
        })
    }

    pub fn raw_channel(&self) -> Channel {
        self.channel.clone()
    }

    fn authed(&self) -> AuthedChannel {
        AuthedChannel {
            inner: self.channel.clone(),
            token: self.token.clone(),
        }
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
    pub fn operations(
        &self,
    ) -> pb::operations_service_client::OperationsServiceClient<AuthedChannel> {
        pb::operations_service_client::OperationsServiceClient::new(self.authed())
    }
    /// Accepts answers up to [`MAX_BULLETIN_MESSAGE`]: a GetBulletin carries a bulletin's
    /// HTML and PDF, which may pass tonic's default of 4 MiB.
    pub fn statistics(
        &self,
    ) -> pb::statistics_service_client::StatisticsServiceClient<AuthedChannel> {
        pb::statistics_service_client::StatisticsServiceClient::new(self.authed())
            .max_decoding_message_size(MAX_BULLETIN_MESSAGE)
    }
}
