//! `fenghuo ownership …`: bulk CSV import of ownership entries (Art. 9) with a
//! progress bar, and "who is responsible for X".

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use fenghuo_client::pb;

use super::ConnectArgs;

/// Entries sent per call (the server takes at most 10,000).
const BATCH: usize = 5_000;

#[derive(Subcommand)]
pub enum OwnershipCommand {
    /// Import entries from a CSV file with the header
    /// `kind,value,origin_asn,owner,province` (kind: ip_prefix, asn, prefix_origin,
    /// registered_domain, registry_suffix, mail_domain, number_prefix; origin_asn and
    /// province may be empty).
    Import {
        file: PathBuf,
        /// Close every current entry of the owners in the file first
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Which unit is responsible for an IP, domain, URL, e-mail address or E.164 number
    Lookup {
        resource: String,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

#[derive(Debug, serde::Deserialize)]
struct Row {
    kind: String,
    value: String,
    #[serde(default)]
    origin_asn: Option<u32>,
    owner: String,
    #[serde(default)]
    province: Option<String>,
}

fn kind_number(kind: &str) -> Option<i32> {
    fenghuo::domain::routing::OwnershipKind::parse(kind)
        .ok()
        .map(|k| k.as_i32())
}

impl OwnershipCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            OwnershipCommand::Import {
                file,
                replace,
                connect,
            } => {
                let mut reader = csv::Reader::from_path(&file)
                    .with_context(|| format!("opening {}", file.display()))?;
                let mut entries: Vec<pb::OwnershipEntry> = Vec::new();
                for (i, row) in reader.deserialize::<Row>().enumerate() {
                    // Line numbers as a person counts them: the header is line 1.
                    let row = row.with_context(|| format!("{}: line {}", file.display(), i + 2))?;
                    let kind = kind_number(&row.kind).with_context(|| {
                        format!(
                            "{}: line {}: unknown kind {:?}",
                            file.display(),
                            i + 2,
                            row.kind
                        )
                    })?;
                    entries.push(pb::OwnershipEntry {
                        kind,
                        value: row.value,
                        origin_asn: row.origin_asn.unwrap_or_default(),
                        owner_organisation_id: row.owner,
                        province: row.province.unwrap_or_default(),
                        ..Default::default()
                    });
                }
                let client = connect.client().await?;
                let bar = indicatif::ProgressBar::new(entries.len() as u64);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{bar:40} {pos}/{len} entries  {per_sec}  eta {eta}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                // With --replace, each owner's first batch closes its old entries, so batches
                // never mix owners; without it, plain batches.
                let mut batches: Vec<(bool, Vec<pb::OwnershipEntry>)> = Vec::new();
                if replace {
                    entries.sort_by(|a, b| a.owner_organisation_id.cmp(&b.owner_organisation_id));
                    for group in
                        entries.chunk_by(|a, b| a.owner_organisation_id == b.owner_organisation_id)
                    {
                        for (n, chunk) in group.chunks(BATCH).enumerate() {
                            batches.push((n == 0, chunk.to_vec()));
                        }
                    }
                } else {
                    batches.extend(entries.chunks(BATCH).map(|c| (false, c.to_vec())));
                }
                let (mut imported, mut replaced) = (0u64, 0u64);
                for (replace_owner_entries, chunk) in batches {
                    let len = chunk.len() as u64;
                    let first = chunk[0].value.clone();
                    let request = pb::ImportOwnershipEntriesRequest {
                        entries: chunk,
                        replace_owner_entries,
                    };
                    let answer = client
                        .registry()
                        .import_ownership_entries(request)
                        .await
                        .with_context(|| format!("the batch starting with {first}"))?
                        .into_inner();
                    imported += u64::from(answer.imported);
                    replaced += u64::from(answer.replaced);
                    bar.inc(len);
                }
                bar.finish_and_clear();
                println!("imported {imported} entries, replaced {replaced}");
            }
            OwnershipCommand::Lookup { resource, connect } => {
                let answer = connect
                    .client()
                    .await?
                    .registry()
                    .lookup_responsible(pb::LookupResponsibleRequest { resource, at: None })
                    .await?
                    .into_inner();
                let via = answer.matched.map(|m| m.value).unwrap_or_default();
                println!(
                    "{} province={} via {via}",
                    answer.organisation_id, answer.province
                );
            }
        }
        Ok(())
    }
}
