//! Certificates: the development PKI (rcgen) and reading client certificates.
//!
//! The dev PKI is for a laptop and for tests: a CA, a server certificate for
//! localhost, and one client certificate per demo organisation, each naming
//! its organisation as the SAN URI `urn:fenghuo:org:<id>`. Production
//! configures its own CA and server certificate instead.

pub mod cert;
pub mod dev;
pub mod keyring;
pub mod signing;

pub use cert::{CertificateError, ClientCertificate};
pub use dev::{CertificateAuthority, DEMO_ORGANISATIONS, DemoOrganisation, DevPki};
