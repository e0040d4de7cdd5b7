//! Onboarding from the command line: organisations and their contacts (Art. 5), officers and
//! their token keys, and certificates issued from a request whose key never leaves the
//! organisation.
//!
//! One module per command: `org.rs`, `officer.rs`, `pki.rs`.

mod officer;
mod org;
mod pki;

pub use officer::OfficerCommand;
pub use org::OrgCommand;
pub use pki::PkiCommand;
