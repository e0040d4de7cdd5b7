//! `fenghuo threat submit bundle.json` and `fenghuo threat export --format stix`: STIX 2.1
//! over ImportStixBundle and ExportStix (docs/stix.md).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use fenghuo_client::pb;
use prost::Message;

use super::ExportArgs;
use crate::cli::output::Output;

/// Whether a `.json` file is a STIX bundle (its top-level "type" is "bundle").
pub fn is_bundle(text: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(text)
        .is_ok_and(|v| v.get("type").and_then(|t| t.as_str()) == Some("bundle"))
}

/// `--stix-defaults FILE`: a StixImportDefaults message in the protobuf JSON mapping.
pub fn defaults(
    file: Option<&Path>,
    tlp: Option<pb::Tlp>,
) -> anyhow::Result<Option<pb::StixImportDefaults>> {
    let mut d = match file {
        None => pb::StixImportDefaults::default(),
        Some(f) => {
            let text = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
            let v: serde_json::Value = serde_json::from_slice(&text)
                .with_context(|| format!("{}: not JSON", f.display()))?;
            let bytes = fenghuo::stix::message_from_json("fenghuo.v1.StixImportDefaults", &v)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "{}: not a StixImportDefaults message (protobuf JSON): {e}",
                        f.display()
                    )
                })?;
            pb::StixImportDefaults::decode(bytes.as_slice())?
        }
    };
    if let Some(t) = tlp {
        d.tlp = t as i32;
    }
    Ok((d != pb::StixImportDefaults::default()).then_some(d))
}

/// Imports one bundle; prints one line per object. Whether some object was refused.
pub async fn submit_bundle(
    client: &fenghuo_client::Client,
    file: &Path,
    text: &[u8],
    defaults: Option<pb::StixImportDefaults>,
    out: Output,
) -> anyhow::Result<bool> {
    let answers = client.import_stix(text, defaults).await?;
    let mut refused = 0;
    for a in &answers {
        let outcome = pb::StixObjectOutcome::try_from(a.outcome)
            .unwrap_or_default()
            .as_str_name()
            .trim_start_matches("STIX_OBJECT_OUTCOME_")
            .to_ascii_lowercase();
        let refusal = a.refusal.clone().unwrap_or_default();
        if outcome == "refused" {
            refused += 1;
        }
        let line = match outcome.as_str() {
            "used" => format!("{}: used by {}", a.object_id, a.used_by),
            "refused" => format!(
                "{}: refused: {}: {}",
                a.object_id, refusal.field, refusal.reason
            ),
            _ => format!(
                "{}: {outcome}: threat {} sighting {}",
                a.object_id, a.threat_id, a.sighting_id
            ),
        };
        let notes = if a.notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", a.notes.join("; "))
        };
        out.say(
            &format!("{line}{notes}"),
            serde_json::json!({
                "file": file.display().to_string(),
                "object_id": a.object_id,
                "type": a.r#type,
                "outcome": outcome,
                "threat_id": a.threat_id,
                "sighting_id": a.sighting_id,
                "submission_id": a.submission_id,
                "used_by": a.used_by,
                "field": refusal.field,
                "reason": refusal.reason,
                "notes": a.notes,
            }),
        );
    }
    out.say(
        &format!(
            "{}: {} objects answered, {refused} refused",
            file.display(),
            answers.len()
        ),
        serde_json::json!({
            "summary": true,
            "file": file.display().to_string(),
            "objects": answers.len(),
            "refused": refused,
        }),
    );
    Ok(refused > 0)
}

/// `fenghuo threat export`: one bundle on stdout or in --out.
pub async fn export(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let since = match &args.since {
        None => None,
        Some(s) => Some(parse_since(s)?),
    };
    let mut categories = Vec::new();
    for c in &args.category {
        categories.push(match c.as_str() {
            "malicious-resource" => pb::ThreatCategory::MaliciousResource,
            "malicious-program" => pb::ThreatCategory::MaliciousProgram,
            "hazard" => pb::ThreatCategory::SecurityHazard,
            "incident" => pb::ThreatCategory::SecurityIncident,
            "other" => pb::ThreatCategory::Other,
            other => anyhow::bail!(
                "--category {other:?}: malicious-resource, malicious-program, hazard, incident or other"
            ),
        });
    }
    let client = args.connect.client().await?;
    let bundles = client.export_stix(since, categories).await?;
    let parsed: Vec<serde_json::Value> = bundles
        .iter()
        .map(|b| serde_json::from_str(b))
        .collect::<Result<_, _>>()
        .context("the server sent a bundle that is not JSON")?;
    let sightings = parsed
        .iter()
        .flat_map(|b| b["objects"].as_array().cloned().unwrap_or_default())
        .filter(|o| o["type"] == "sighting")
        .count();
    let bundle = fenghuo::stix::export::merge(&parsed);
    let text = serde_json::to_string_pretty(&bundle)?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, text + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("{}: {sightings} sightings", path.display());
        }
        None => println!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// RFC 3339, or a date taken as 00:00 Asia/Shanghai.
fn parse_since(s: &str) -> anyhow::Result<prost_types::Timestamp> {
    let t = match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => t.with_timezone(&chrono::Utc),
        Err(_) => {
            let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                anyhow::anyhow!(
                    "--since {s:?}: RFC 3339 (2026-12-01T00:00:00Z) or a date (2026-12-01, 00:00 Asia/Shanghai)"
                )
            })?;
            d.and_hms_opt(0, 0, 0)
                .and_then(|n| n.and_local_timezone(chrono_tz::Asia::Shanghai).single())
                .map(|t| t.with_timezone(&chrono::Utc))
                .context("--since: not a time in Asia/Shanghai")?
        }
    };
    Ok(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    })
}
