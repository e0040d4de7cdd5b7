//! fenghuo (烽火): the platform of the *Public Internet Cybersecurity Threat
//! Monitoring and Disposal Measures* (MIIT, 2017).
//!
//! # Layout
//! - `domain/` — pure types and rules (roles, provinces, calendar, deadline policy, clock); no
//!   tonic, no sqlx.
//! - `stix/` — STIX 2.1 bundles to and from the contract's messages (docs/stix.md); pure but
//!   for `stix/service/`, the import and export workflows gRPC and TAXII both call.
//! - `taxii/` — the TAXII 2.1 server on `taxii_listen` (axum over the same mTLS).
//! - `store/` — sqlx over SQLite and PostgreSQL; migrations in `migrations/`.
//! - `auth/` — the mTLS identity layer, officers' tokens, the authorization matrix.
//! - `identification/` (Art. 7), `compliance/` (Art. 9's review queue, Art. 12's enforcement
//!   and missed-duty timers), `appeals/` (Art. 10: filing, withdrawal, the answer clock) — the
//!   workflows: plain async functions taking typed commands, with one error enum per
//!   operation; the gRPC edge and the console call them. Issue #12 moves each concern out of
//!   `api/` this way, one at a time (disposal and intake are next).
//! - `api/` — one tonic service per proto service, thin; `api/streams.rs` paces server
//!   streams by their reader (stall limit, cap per organisation).
//! - `statistics/` — a period's figures (issue #15) from the intake's counters and indexed reads
//!   of notices and appeals; callable without gRPC.
//! - `pki/` — the development CA and client-certificate parsing.
//! - `timers/` — the scheduler that fires durable timers exactly once across replicas.
//! - `app/` — start-up and shutdown; `listener.rs` — the accept loop (TLS handshake
//!   deadline, connection cap, descriptor back-off); `config/` — layered settings; `seed.rs` — demo data.
//! - `main.rs`, `cli_args.rs` (its clap definitions) and `cli/` (binary only) — the command
//!   line: serve, token, audit, calendar, bench.

pub mod api;
pub mod app;
pub mod appeals;
pub mod auth;
pub mod bench;
pub mod bootstrap;
pub mod bulletin;
pub mod compliance;
pub mod config;
pub mod console;
pub mod delivery;
pub mod disposal;
/// The pure domain (crate `fenghuo-domain`): every `crate::domain::…` path reads from it.
pub use fenghuo_domain as domain;
pub mod https;
pub mod identification;
pub mod intake;
pub mod listener;
pub mod metrics;
pub mod ownership;
pub mod pki;
pub mod registry;
pub mod seed;
pub mod statistics;
pub mod stix;
pub mod store;
pub mod taxii;
pub mod timers;

pub mod pb {
    tonic::include_proto!("fenghuo.v1");

    /// The encoded descriptors of the whole contract, for reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/fenghuo_descriptor.bin"));

    /// A calendar date as the contract's `Date`.
    pub fn date_to_pb(date: chrono::NaiveDate) -> Date {
        use chrono::Datelike;
        Date {
            year: date.year(),
            month: date.month() as i32,
            day: date.day() as i32,
        }
    }

    /// Microseconds since the epoch (the store's instants) as the contract's timestamp.
    pub fn timestamp(micros: i64) -> prost_types::Timestamp {
        prost_types::Timestamp {
            seconds: micros.div_euclid(1_000_000),
            nanos: (micros.rem_euclid(1_000_000) * 1000) as i32,
        }
    }
}
