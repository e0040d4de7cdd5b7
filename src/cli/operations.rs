//! Running the platform from the command line: its status, and the operator alerts.

use clap::Subcommand;
use fenghuo_client::pb;
use serde_json::json;

use super::ConnectArgs;
use super::output::{Output, ts_json};

#[derive(Subcommand)]
pub enum AlertsCommand {
    /// Operator alerts, oldest first (e.g. calendar.year_missing: a deadline waits for next
    /// year's calendar — load it with `calendar load`)
    List {
        /// Resolved ones too
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

impl AlertsCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        let AlertsCommand::List { all, out, connect } = self;
        let alerts = connect
            .client()
            .await?
            .operations()
            .list_operator_alerts(pb::ListOperatorAlertsRequest {
                include_resolved: all,
                limit: 0,
            })
            .await?
            .into_inner()
            .alerts;
        if alerts.is_empty() {
            out.note("no open alerts");
        }
        for a in alerts {
            out.say(
                &format!(
                    "{} {} {} {}: {}{}",
                    ts_json(a.raised_at).as_str().unwrap_or("?"),
                    a.id,
                    a.kind,
                    a.subject,
                    a.message,
                    if a.resolved_at.is_some() { " (resolved)" } else { "" }
                ),
                json!({
                    "id": a.id, "raised_at": ts_json(a.raised_at), "kind": a.kind,
                    "subject": a.subject, "message": a.message, "resolved_at": ts_json(a.resolved_at),
                }),
            );
        }
        Ok(())
    }
}

/// `fenghuo status`: one block for people, one object with `--json`.
pub async fn status(out: Output, connect: ConnectArgs) -> anyhow::Result<()> {
    let s = connect
        .client()
        .await?
        .operations()
        .get_status(pb::GetStatusRequest {})
        .await?
        .into_inner();
    let text = format!(
        "fenghuo {} ({}) on {}, server time {}\ncalendar years {:?}, covered to {}{}\ntimers: {} open, {} overdue, {} waiting for a calendar year, {} failing\nopen operator alerts: {}",
        s.version,
        s.commit,
        s.backend,
        ts_json(s.server_time).as_str().unwrap_or("?"),
        s.calendar_years,
        s.calendar_last_day,
        if s.calendar_warning.is_empty() {
            String::new()
        } else {
            format!(" — {}", s.calendar_warning)
        },
        s.timers_open,
        s.timers_overdue,
        s.timers_pending_calendar,
        s.timers_failing,
        s.open_alerts
    );
    out.say(
        &text,
        json!({
            "version": s.version, "commit": s.commit, "backend": s.backend,
            "server_time": ts_json(s.server_time), "calendar_years": s.calendar_years,
            "calendar_last_day": s.calendar_last_day, "calendar_warning": s.calendar_warning,
            "timers_open": s.timers_open, "timers_overdue": s.timers_overdue,
            "timers_pending_calendar": s.timers_pending_calendar,
            "timers_failing": s.timers_failing, "open_alerts": s.open_alerts,
        }),
    );
    Ok(())
}
