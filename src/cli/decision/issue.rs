//! `fenghuo decision issue`: the measures of a decision from the flags or a TOML/JSON file,
//! with their targets, time limits and emergency calls, as the request to send.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use fenghuo_client::pb;
use serde::Deserialize;

use crate::cli::ConnectArgs;
use crate::cli::output::Output;

#[derive(Clone, Copy, ValueEnum)]
pub enum MeasureKind {
    /// Art. 8(1): stop service or block
    Block,
    /// Art. 8(2): remove malware
    Remove,
    /// Art. 8(3): rectify a vulnerability or compromise
    Rectify,
    /// Art. 8(4): other technical measures
    Other,
}

#[derive(Args)]
pub struct IssueArgs {
    /// The confirmed threat
    #[arg(long, required_unless_present = "file", conflicts_with = "file")]
    threat: Option<String>,
    #[arg(long, value_enum, default_value = "block", conflicts_with = "file")]
    measure: MeasureKind,
    /// KIND:VALUE, KIND one of ip, domain, url, email, phone, broadband (repeatable)
    #[arg(
        long = "target",
        required_unless_present = "file",
        conflicts_with = "file"
    )]
    targets: Vec<String>,
    /// The addressee; required for remove and rectify, else routed by the ownership registry
    #[arg(long, conflicts_with = "file")]
    addressee: Option<String>,
    /// Time limit "4h" or "5wd" (default: the policy's for the threat's grade)
    #[arg(long, conflicts_with = "file")]
    time_limit: Option<String>,
    #[arg(long, default_value = "", conflicts_with = "file")]
    instructions: String,
    /// Default: the article of the measure
    #[arg(long, default_value = "", conflicts_with = "file")]
    legal_basis: String,
    /// Idempotency key: a retry with the same key returns the same notices (default: random)
    #[arg(long, conflicts_with = "file")]
    request_id: Option<String>,
    /// Art. 8 last paragraph, Art. 13: the addressee was phoned first, "ORG,CALLED_AT[,PERSON]"
    /// (CALLED_AT in RFC 3339; repeatable, one per addressee called); makes the measure an
    /// emergency whose time limit runs from the call
    #[arg(long = "emergency-call", conflicts_with = "file")]
    emergency_calls: Vec<String>,
    /// The decision as a file (.toml or .json): threat, request_id, and [[measures]] with the
    /// fields of the flags (README: "A decision from a file")
    #[arg(long)]
    file: Option<PathBuf>,
    #[command(flatten)]
    pub(super) out: Output,
    #[command(flatten)]
    pub(super) connect: ConnectArgs,
}

pub fn measure_type(m: MeasureKind) -> pb::MeasureType {
    match m {
        MeasureKind::Block => pb::MeasureType::StopServiceOrBlock,
        MeasureKind::Remove => pb::MeasureType::RemoveMalware,
        MeasureKind::Rectify => pb::MeasureType::Rectify,
        MeasureKind::Other => pb::MeasureType::Other,
    }
}

/// `ip:1.2.3.4` and the like.
pub fn parse_target(raw: &str) -> anyhow::Result<pb::MeasureTarget> {
    use pb::MeasureTargetKind as K;
    let (kind, value) = raw
        .split_once(':')
        .with_context(|| format!("target {raw:?}: write KIND:VALUE, e.g. ip:203.0.113.7"))?;
    let kind = match kind {
        "ip" => K::Ip,
        "domain" => K::Domain,
        "url" => K::Url,
        "email" => K::EmailAccount,
        "phone" => K::PhoneNumber,
        "broadband" => K::BroadbandAccount,
        other => anyhow::bail!(
            "target {raw:?}: unknown kind {other:?} (ip, domain, url, email, phone, broadband)"
        ),
    };
    Ok(pb::MeasureTarget {
        kind: kind as i32,
        value: value.to_owned(),
    })
}

/// "4h" or "5wd".
pub fn parse_time_limit(raw: &str) -> anyhow::Result<pb::TimeLimit> {
    use pb::time_limit::Limit;
    let bad =
        || anyhow::anyhow!("time limit {raw:?}: write hours as \"4h\" or working days as \"5wd\"");
    let limit = if let Some(d) = raw.strip_suffix("wd") {
        Limit::WorkingDays(d.parse().map_err(|_| bad())?)
    } else if let Some(h) = raw.strip_suffix('h') {
        Limit::Hours(h.parse().map_err(|_| bad())?)
    } else {
        return Err(bad());
    };
    Ok(pb::TimeLimit { limit: Some(limit) })
}

/// One measure as the flags or a file give it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MeasureSpec {
    /// block (default), remove, rectify or other
    measure: Option<String>,
    #[serde(default)]
    targets: Vec<String>,
    addressee: Option<String>,
    time_limit: Option<String>,
    #[serde(default)]
    instructions: String,
    #[serde(default)]
    legal_basis: String,
    /// "ORG,CALLED_AT[,PERSON]" as `--emergency-call`
    #[serde(default)]
    emergency_calls: Vec<String>,
}

/// `telecom-gd,2026-12-04T09:00:00+08:00,Zhang San`: an addressee phoned before the written
/// notice (Art. 8 last paragraph, Art. 13).
pub fn parse_emergency_call(raw: &str) -> anyhow::Result<pb::EmergencyCall> {
    let bad = || {
        anyhow::anyhow!(
            "emergency call {raw:?}: write ORG,CALLED_AT[,PERSON], e.g. telecom-gd,2026-12-04T09:00:00+08:00,Zhang San"
        )
    };
    let mut parts = raw.splitn(3, ',');
    let org = parts
        .next()
        .filter(|o| !o.trim().is_empty())
        .ok_or_else(bad)?;
    let at = parts.next().ok_or_else(bad)?;
    let at = chrono::DateTime::parse_from_rfc3339(at.trim()).map_err(|e| {
        anyhow::anyhow!("emergency call {raw:?}: CALLED_AT {at:?} is not RFC 3339 ({e})")
    })?;
    Ok(pb::EmergencyCall {
        addressee_organisation_id: org.trim().to_owned(),
        called_at: Some(prost_types::Timestamp {
            seconds: at.timestamp(),
            nanos: at.timestamp_subsec_nanos() as i32,
        }),
        called_person: parts.next().unwrap_or_default().trim().to_owned(),
    })
}

fn emergency_calls(raw: &[String], at: &str) -> anyhow::Result<Vec<pb::EmergencyCall>> {
    raw.iter()
        .enumerate()
        .map(|(i, c)| parse_emergency_call(c).with_context(|| format!("{at}emergency_calls[{i}]")))
        .collect()
}

/// A decision file: the threat, the idempotency key, and the measures.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionFile {
    threat: String,
    request_id: Option<String>,
    measures: Vec<MeasureSpec>,
}

impl MeasureSpec {
    /// The measure for the request; `at` names it in errors (`measures[1]`).
    fn to_pb(&self, at: &str) -> anyhow::Result<pb::DecisionMeasure> {
        let kind = match &self.measure {
            None => MeasureKind::Block,
            Some(name) => MeasureKind::from_str(name, true).map_err(|_| {
                anyhow::anyhow!("{at}measure {name:?}: block, remove, rectify or other")
            })?,
        };
        let targets = self
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| parse_target(t).with_context(|| format!("{at}targets[{i}]")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let time_limit = self
            .time_limit
            .as_deref()
            .map(|t| parse_time_limit(t).with_context(|| format!("{at}time_limit")))
            .transpose()?;
        let emergency_calls = emergency_calls(&self.emergency_calls, at)?;
        Ok(pb::DecisionMeasure {
            measure_type: measure_type(kind) as i32,
            targets,
            legal_basis: self.legal_basis.clone(),
            instructions: self.instructions.clone(),
            time_limit,
            addressee_organisation_id: self.addressee.clone().unwrap_or_default(),
            emergency: !emergency_calls.is_empty(),
            emergency_calls,
            ..Default::default()
        })
    }
}

/// Reads a decision file, TOML or JSON by its extension.
pub(super) fn read_decision_file(path: &Path) -> anyhow::Result<pb::IssueDecisionRequest> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: DecisionFile = match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => toml::from_str(&text).with_context(|| format!("{}", path.display()))?,
        Some("json") => {
            serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?
        }
        _ => anyhow::bail!(
            "{}: a decision file is .toml or .json (by its extension)",
            path.display()
        ),
    };
    if file.measures.is_empty() {
        anyhow::bail!(
            "{}: measures: at least one [[measures]] entry (Art. 8)",
            path.display()
        );
    }
    let measures = file
        .measures
        .iter()
        .enumerate()
        .map(|(i, m)| m.to_pb(&format!("measures[{i}].")))
        .collect::<anyhow::Result<Vec<_>>>()
        .with_context(|| format!("{}", path.display()))?;
    Ok(pb::IssueDecisionRequest {
        request_id: file
            .request_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        threat_id: file.threat,
        measures,
        ..Default::default()
    })
}

impl IssueArgs {
    pub(super) fn request(&self) -> anyhow::Result<pb::IssueDecisionRequest> {
        if let Some(path) = &self.file {
            return read_decision_file(path);
        }
        let calls = emergency_calls(&self.emergency_calls, "")?;
        let measure = pb::DecisionMeasure {
            emergency: !calls.is_empty(),
            emergency_calls: calls,
            measure_type: measure_type(self.measure) as i32,
            targets: self
                .targets
                .iter()
                .map(|t| parse_target(t))
                .collect::<anyhow::Result<Vec<_>>>()?,
            legal_basis: self.legal_basis.clone(),
            instructions: self.instructions.clone(),
            time_limit: self
                .time_limit
                .as_deref()
                .map(parse_time_limit)
                .transpose()?,
            addressee_organisation_id: self.addressee.clone().unwrap_or_default(),
            ..Default::default()
        };
        Ok(pb::IssueDecisionRequest {
            request_id: self
                .request_id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            threat_id: self.threat.clone().unwrap_or_default(),
            measures: vec![measure],
            ..Default::default()
        })
    }
}
