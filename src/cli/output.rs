//! How a command prints: a readable line for people, or with `--json` one JSON object per
//! line for scripts (the keys are documented in the README and stay stable).

use clap::Args;

#[derive(Args, Clone, Copy, Default)]
pub struct Output {
    /// One JSON object per line instead of text
    #[arg(long)]
    pub json: bool,
}

impl Output {
    /// Prints `line`, or `value` as one line of JSON.
    pub fn say(&self, line: &str, value: serde_json::Value) {
        if self.json {
            println!("{value}");
        } else {
            println!("{line}");
        }
    }

    /// A remark for people only (stderr), e.g. that a list is empty.
    pub fn note(&self, text: &str) {
        if !self.json {
            eprintln!("{text}");
        }
    }
}

/// RFC 3339 UTC, or null.
pub fn ts_json(t: Option<prost_types::Timestamp>) -> serde_json::Value {
    t.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
        .map(|t| serde_json::Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
        .unwrap_or(serde_json::Value::Null)
}

/// YYYY-MM-DD, or null.
pub fn date_json(d: Option<fenghuo_client::pb::Date>) -> serde_json::Value {
    d.map(|d| serde_json::Value::String(format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)))
        .unwrap_or(serde_json::Value::Null)
}

/// A server's refusal as a person reads it: the status, the message, then each field
/// violation and precondition failure on a line of its own.
pub fn describe_status(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    let mut out = format!("error: {:?}: {}", status.code(), status.message());
    let details = status.get_error_details();
    if let Some(bad) = details.bad_request() {
        for v in &bad.field_violations {
            out.push_str(&format!("\n  field {}: {}", v.field, v.description));
        }
    }
    if let Some(pre) = details.precondition_failure() {
        for v in &pre.violations {
            out.push_str(&format!(
                "\n  precondition {} on {}: {}",
                v.r#type, v.subject, v.description
            ));
        }
    }
    out
}
