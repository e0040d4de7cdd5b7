//! `fenghuo threat submit | export | template | tlp`: a unit's threat reports from files
//! (Art. 6, 11), STIX 2.1 in and out, and re-marking one of its sightings.

mod columns;
mod stix;
mod submit;
mod template;

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::ConnectArgs;
use super::output::Output;

pub use stix::export;
pub use submit::submit;

/// A file's format; by default from its extension (.csv; .jsonl, .ndjson; .json holding a
/// STIX bundle).
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum Format {
    /// A header row of column names, then one report per row
    Csv,
    /// One flat JSON object per line, keyed by the same column names
    Jsonl,
    /// A STIX 2.1 bundle, sent over ImportStixBundle (docs/stix.md)
    Stix,
}

/// What `fenghuo threat export` writes.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum ExportFormat {
    /// One STIX 2.1 bundle (docs/stix.md)
    Stix,
}

#[derive(Args)]
pub struct ExportArgs {
    /// Sightings received at or after this time: RFC 3339, or a date (00:00 Asia/Shanghai)
    #[arg(long)]
    pub since: Option<String>,
    /// Only these Art. 2 categories (repeatable): malicious-resource, malicious-program,
    /// hazard, incident, other
    #[arg(long)]
    pub category: Vec<String>,
    #[arg(long, value_enum, default_value = "stix")]
    pub format: ExportFormat,
    /// Write the bundle here instead of stdout
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Args)]
pub struct SubmitArgs {
    /// CSV or JSON Lines files; each keeps FILE.fenghuo-acked and FILE.rejects.jsonl beside it
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Overrides the format the extension names
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// The marking of rows whose tlp column is empty: clear, green, amber, amber+strict, red;
    /// for a STIX bundle, of objects without a TLP marking (else TLP:AMBER, noted per object)
    #[arg(long)]
    pub tlp: Option<String>,
    /// STIX bundles: a StixImportDefaults message (protobuf JSON) giving objects without
    /// the fenghuo extension their event or warning information
    #[arg(long)]
    pub stix_defaults: Option<PathBuf>,
    /// Stop after this many acknowledgements, as an interruption would (for tests)
    #[arg(long, hide = true)]
    pub stop_after: Option<u64>,
    #[command(flatten)]
    pub output: Output,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// `fenghuo threat stix-defaults`: the organisation's stored STIX import defaults.
#[derive(clap::Subcommand)]
pub enum StixDefaultsCommand {
    /// Store them (SetStixImportDefaults): FILE is a StixImportDefaults message (protobuf
    /// JSON); your TAXII POSTs and bundles submitted without --stix-defaults use them
    Set {
        file: PathBuf,
        /// The marking of objects without a TLP marking: clear, green, amber, amber+strict, red
        #[arg(long)]
        tlp: Option<String>,
        #[command(flatten)]
        output: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Remove them (SetStixImportDefaults with clear): your TAXII POSTs of objects without
    /// the fenghuo extension are refused again until you set new ones
    Clear {
        #[command(flatten)]
        output: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Show them (GetStixImportDefaults)
    Get {
        #[command(flatten)]
        output: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

/// `fenghuo threat stix-defaults set | clear | get`.
pub async fn stix_defaults(command: &StixDefaultsCommand) -> anyhow::Result<()> {
    use fenghuo_client::pb;
    let (answer, output) = match command {
        StixDefaultsCommand::Set {
            file,
            tlp,
            output,
            connect,
        } => {
            let tlp = tlp.as_deref().map(tlp_flag).transpose()?;
            let defaults = stix::defaults(Some(file), tlp)?;
            let answer = connect
                .client()
                .await?
                .threats()
                .set_stix_import_defaults(pb::SetStixImportDefaultsRequest {
                    defaults,
                    clear: false,
                })
                .await?
                .into_inner();
            (answer, output)
        }
        StixDefaultsCommand::Clear { output, connect } => {
            let answer = connect
                .client()
                .await?
                .threats()
                .set_stix_import_defaults(pb::SetStixImportDefaultsRequest {
                    defaults: None,
                    clear: true,
                })
                .await?
                .into_inner();
            let at = answer
                .updated_at
                .map(|t| fenghuo::stix::stix_time(fenghuo::stix::from_timestamp(&t)))
                .unwrap_or_default();
            output.say(
                &format!(
                    "STIX import defaults of {} cleared at {at}",
                    answer.organisation_id
                ),
                serde_json::json!({
                    "organisation_id": answer.organisation_id,
                    "cleared_at": at,
                }),
            );
            return Ok(());
        }
        StixDefaultsCommand::Get { output, connect } => {
            let answer = connect
                .client()
                .await?
                .threats()
                .get_stix_import_defaults(pb::GetStixImportDefaultsRequest {})
                .await?
                .into_inner();
            (answer, output)
        }
    };
    let defaults = answer.defaults.unwrap_or_default();
    let information = match &defaults.information {
        Some(pb::stix_import_defaults::Information::Event(e)) => format!(
            "event ({})",
            pb::EventGrade::try_from(e.grade)
                .unwrap_or_default()
                .as_str_name()
        ),
        Some(pb::stix_import_defaults::Information::Warning(w)) => format!(
            "warning ({})",
            pb::WarningColour::try_from(w.colour)
                .unwrap_or_default()
                .as_str_name()
        ),
        None => "none".into(),
    };
    let kind = pb::SubmissionKind::try_from(defaults.kind)
        .unwrap_or_default()
        .as_str_name();
    let tlp = pb::Tlp::try_from(defaults.tlp)
        .unwrap_or_default()
        .as_str_name();
    let updated = answer
        .updated_at
        .map(|t| fenghuo::stix::stix_time(fenghuo::stix::from_timestamp(&t)))
        .unwrap_or_default();
    output.say(
        &format!(
            "STIX import defaults of {}: {information}, kind {kind}, tlp {tlp} (set {updated})",
            answer.organisation_id
        ),
        serde_json::json!({
            "organisation_id": answer.organisation_id,
            "updated_at": updated,
            "defaults": fenghuo::stix::message_to_json(
                "fenghuo.v1.StixImportDefaults",
                &prost::Message::encode_to_vec(&defaults),
            ),
        }),
    );
    Ok(())
}

#[derive(Args)]
pub struct TemplateArgs {
    /// malicious-resource, malicious-program, hazard, incident or other (Art. 2)
    #[arg(long)]
    pub category: String,
    #[arg(long, value_enum, default_value = "csv")]
    pub format: Format,
}

#[derive(Args)]
pub struct TlpArgs {
    pub sighting_id: String,
    /// The new marking: clear, green, amber, amber+strict, red
    #[arg(long)]
    pub tlp: String,
    /// Why (audited)
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub output: Output,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// `fenghuo threat template`.
pub fn template(args: &TemplateArgs) -> anyhow::Result<()> {
    template::print(&args.category, args.format)
}

/// `fenghuo threat generate` (hidden): the benchmark's CSV on stdout.
pub fn generate(lines: u64) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    template::generate(lines, &mut out)
}

/// A `--tlp` value.
fn tlp_flag(raw: &str) -> anyhow::Result<fenghuo_client::pb::Tlp> {
    columns::tlp("--tlp", raw).map_err(|e| {
        anyhow::anyhow!(
            "--tlp {raw:?}: clear, green, amber, amber+strict or red ({})",
            e.reason
        )
    })
}

/// `fenghuo threat tlp`: the reporting organisation re-marks its own sighting.
pub async fn tlp(args: &TlpArgs) -> anyhow::Result<()> {
    let tlp = tlp_flag(&args.tlp)?;
    let sighting = args
        .connect
        .client()
        .await?
        .unit()
        .change_tlp(&args.sighting_id, tlp, &args.reason)
        .await?;
    let now = sighting
        .report
        .as_ref()
        .and_then(|r| fenghuo_client::pb::Tlp::try_from(r.tlp).ok())
        .unwrap_or(tlp);
    args.output.say(
        &format!(
            "sighting {} of threat {} is now {}",
            sighting.id,
            sighting.threat_id,
            now.as_str_name()
        ),
        serde_json::json!({
            "sighting_id": sighting.id,
            "threat_id": sighting.threat_id,
            "tlp": now.as_str_name(),
        }),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use fenghuo_client::pb::{self, threat_report::Category as Payload};

    use super::columns::{Fields, report};

    fn fields(row: &[(&'static str, String)]) -> Fields<'static> {
        Fields(
            row.iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(c, v)| (*c, Cow::Owned(v.clone())))
                .collect(),
        )
    }

    #[test]
    fn the_control_server_template_row_becomes_the_report_it_describes() {
        let row = super::template::example("malicious-resource", "2026-03-01T00:30:00Z").unwrap();
        let r = report(&fields(&row), None).unwrap();
        assert_eq!(r.tlp, pb::Tlp::Amber as i32);
        let Some(Payload::MaliciousResource(m)) = r.category else {
            panic!("a malicious resource")
        };
        assert_eq!(m.kind, pb::MaliciousResourceKind::Ip as i32);
        let cs = m.control_server.unwrap();
        assert_eq!((cs.port, cs.bot_count), (8080, 120_000));
        assert_eq!(cs.domains, ["cc.evil-example.com", "cc2.evil-example.com"]);
        assert!(matches!(
            r.information,
            Some(pb::threat_report::Information::Event(e)) if e.grade == pb::EventGrade::Major as i32
        ));
    }

    #[test]
    fn names_are_short_or_proto_names_and_others_are_refused_naming_the_column() {
        let mut row = super::template::example("hazard", "2026-03-01T00:30:00Z").unwrap();
        row[2].1 = "amber+strict".into();
        assert_eq!(
            report(&fields(&row), None).unwrap().tlp,
            pb::Tlp::AmberStrict as i32
        );
        row[2].1 = "TLP_RED".into();
        assert_eq!(
            report(&fields(&row), None).unwrap().tlp,
            pb::Tlp::Red as i32
        );
        row[2].1 = "unspecified".into();
        assert_eq!(report(&fields(&row), None).unwrap_err().field, "tlp");
        row[2].1 = String::new();
        assert_eq!(report(&fields(&row), None).unwrap_err().field, "tlp");
        assert_eq!(
            report(&fields(&row), Some(pb::Tlp::Green)).unwrap().tlp,
            pb::Tlp::Green as i32
        );
    }

    #[test]
    fn a_row_is_an_event_or_a_warning_never_both_nor_neither() {
        let mut row = super::template::example("other", "2026-03-01T00:30:00Z").unwrap();
        row.push(("colour", "red".into()));
        assert_eq!(report(&fields(&row), None).unwrap_err().field, "colour");
        row.retain(|(c, _)| !matches!(*c, "colour" | "grade"));
        assert_eq!(report(&fields(&row), None).unwrap_err().field, "grade");
    }
}
