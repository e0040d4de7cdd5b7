//! `fenghuo decision offline-notified`: its arguments and its answer, and the `--at`
//! instants other commands share.

use clap::{Args, ValueEnum};
use fenghuo_client::pb;
use serde_json::json;

use crate::cli::ConnectArgs;
use crate::cli::output::{Output, ts_json};

#[derive(Clone, Copy, ValueEnum)]
pub enum Channel {
    Phone,
    Letter,
    Fax,
    InPerson,
}

#[derive(Args)]
pub struct OfflineArgs {
    /// The informational notice to the party off the platform
    pub(super) notice_id: String,
    #[arg(long, value_enum)]
    pub(super) channel: Channel,
    /// Who was told
    #[arg(long)]
    pub(super) recipient: String,
    /// When (RFC 3339, e.g. 2026-12-04T09:30:00+08:00; default now)
    #[arg(long, value_parser = parse_instant)]
    pub(super) at: Option<chrono::DateTime<chrono::Utc>>,
    /// The officer who told them (default: the officer of FENGHUO_TOKEN)
    #[arg(long)]
    pub(super) officer: Option<String>,
    #[arg(long, default_value = "")]
    pub(super) note: String,
    #[command(flatten)]
    pub(super) out: Output,
    #[command(flatten)]
    pub(super) connect: ConnectArgs,
}

/// An RFC 3339 instant, for `--at` flags.
pub fn parse_instant(raw: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| {
            format!("{raw:?} is not an RFC 3339 time such as 2026-12-04T09:30:00+08:00: {e}")
        })
}

pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub(super) fn enum_name<E: TryFrom<i32>>(v: i32, f: impl Fn(&E) -> &'static str) -> &'static str {
    E::try_from(v).map(|e| f(&e)).unwrap_or("?")
}

pub(super) fn out_offline(out: &Output, notice_id: &str, state: &str, r: &pb::OfflineNotification) {
    let channel = enum_name(r.channel, pb::OfflineNotificationChannel::as_str_name);
    out.say(
        &format!(
            "notice {notice_id}: {} told by {} ({channel}) at {}; notice now {state}",
            r.recipient_person,
            r.notifying_officer,
            ts_json(r.notified_at).as_str().unwrap_or("?")
        ),
        json!({
            "notice_id": notice_id, "state": state, "channel": channel,
            "recipient": r.recipient_person, "notified_at": ts_json(r.notified_at),
            "notifying_officer": r.notifying_officer,
            "recorded_by": r.recorded_by_officer_name, "note": r.note,
        }),
    );
}
