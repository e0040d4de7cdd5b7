//! `fenghuo ownership …`: bulk CSV import of ownership entries (Art. 9) with a
//! progress bar, "who is responsible for X", and the regulator's decisions on the entries
//! that wait for its approval.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use fenghuo_client::pb;

use super::ConnectArgs;
use super::output::{Output, ts_json};

/// Entries sent per call (the server takes at most 10,000).
const BATCH: usize = 5_000;

#[derive(Subcommand)]
pub enum OwnershipCommand {
    /// Import entries from a CSV file with the header
    /// `kind,value,origin_asn,owner,province[,relation]` (kind: ip_prefix, asn, prefix_origin,
    /// registered_domain, registry_suffix, mail_domain, number_prefix; relation: responsible
    /// or holder; origin_asn, province and relation may be empty: relation then means
    /// responsible, province the owner's).
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
    /// Responsible entries waiting for your approval, oldest first (a regulator)
    Pending {
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Approve a pending entry: it routes notices from now on (officer token; audited)
    Approve {
        entry_id: String,
        /// Why, recorded in the entry and the audit log
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Refuse a pending entry: it is closed and never routes (officer token; audited)
    Refuse {
        entry_id: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

fn name<E: TryFrom<i32>>(v: i32, f: impl Fn(&E) -> &'static str) -> &'static str {
    E::try_from(v).map(|e| f(&e)).unwrap_or("?")
}

fn entry_out(out: &Output, e: &pb::OwnershipEntry) {
    let kind = name(e.kind, pb::OwnershipKind::as_str_name);
    let relation = name(e.relation, pb::OwnershipRelation::as_str_name);
    let approval = name(e.approval, pb::OwnershipApproval::as_str_name);
    out.say(
        &format!(
            "{} {kind} {} owner={} province={} {approval}{}",
            e.id,
            e.value,
            e.owner_organisation_id,
            e.province,
            if e.pending_reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", e.pending_reason)
            }
        ),
        serde_json::json!({
            "id": e.id, "kind": kind, "value": e.value, "owner": e.owner_organisation_id,
            "province": e.province, "relation": relation, "approval": approval,
            "pending_reason": e.pending_reason, "declared_at": ts_json(e.declared_at),
            "valid_from": ts_json(e.valid_from), "valid_until": ts_json(e.valid_until),
            "decided_by": e.decided_by, "decision_reason": e.decision_reason,
        }),
    );
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
    #[serde(default)]
    relation: Option<String>,
}

/// At most this many bad lines are listed before giving up on a file.
const MAX_LISTED: usize = 20;

/// One CSV row as sent, with the line it came from (the header is line 1).
struct Line {
    number: u64,
    entry: pb::OwnershipEntry,
}

/// Every row is checked here first with the server's own rules, so a file with a bad line
/// commits nothing. What only the server can refuse (an unknown owner, a role that cannot be
/// responsible for the kind, jurisdiction) stops the import at that line; the batches before it stay
/// committed, and a re-run is safe: entries already current as given count as unchanged.
async fn import(
    file: &std::path::Path,
    replace: bool,
    connect: &ConnectArgs,
) -> anyhow::Result<()> {
    let mut reader =
        csv::Reader::from_path(file).with_context(|| format!("opening {}", file.display()))?;
    let mut lines: Vec<Line> = Vec::new();
    let mut bad: Vec<String> = Vec::new();
    for (i, row) in reader.deserialize::<Row>().enumerate() {
        let number = i as u64 + 2;
        match check_row(row) {
            Ok(entry) => lines.push(Line { number, entry }),
            Err(problem) => bad.push(format!("{}: line {number}: {problem}", file.display())),
        }
        if bad.len() >= MAX_LISTED {
            bad.push("(stopped listing)".into());
            break;
        }
    }
    if !bad.is_empty() {
        anyhow::bail!(
            "{}\n{} bad line(s); nothing was imported",
            bad.join("\n"),
            bad.len().min(MAX_LISTED)
        );
    }
    if lines.is_empty() {
        println!("{}: no entries", file.display());
        return Ok(());
    }
    let client = connect.client().await?;
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new(lines.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} entries  {per_sec}  eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    // With --replace, each owner's first batch closes its old entries, so batches never mix
    // owners; without it, plain batches in file order.
    let mut batches: Vec<(bool, &[Line])> = Vec::new();
    if replace {
        lines.sort_by(|a, b| {
            (&a.entry.owner_organisation_id, a.number)
                .cmp(&(&b.entry.owner_organisation_id, b.number))
        });
        for group in
            lines.chunk_by(|a, b| a.entry.owner_organisation_id == b.entry.owner_organisation_id)
        {
            for (n, chunk) in group.chunks(BATCH).enumerate() {
                batches.push((n == 0, chunk));
            }
        }
    } else {
        batches.extend(lines.chunks(BATCH).map(|c| (false, c)));
    }
    let (mut imported, mut replaced, mut unchanged, mut pending) = (0u64, 0u64, 0u64, 0u64);
    for (replace_owner_entries, chunk) in batches {
        let request = pb::ImportOwnershipEntriesRequest {
            entries: chunk.iter().map(|l| l.entry.clone()).collect(),
            replace_owner_entries,
        };
        let answer = match client.registry().import_ownership_entries(request).await {
            Ok(answer) => answer.into_inner(),
            Err(status) => {
                bar.abandon();
                let line = entry_index(status.message())
                    .and_then(|i| chunk.get(i))
                    .map(|l| format!("line {}", l.number))
                    .unwrap_or_else(|| {
                        format!(
                            "lines {}-{}",
                            chunk[0].number,
                            chunk[chunk.len() - 1].number
                        )
                    });
                anyhow::bail!(
                    "{}: {line}: {} ({:?})\nimported {imported} entries, replaced {replaced}, unchanged {unchanged} before it; the batch holding {line} was not imported. Fix it and run the same command again: entries already imported count as unchanged.",
                    file.display(),
                    status.message(),
                    status.code()
                );
            }
        };
        imported += u64::from(answer.imported);
        replaced += u64::from(answer.replaced);
        unchanged += u64::from(answer.unchanged);
        pending += answer.pending_entry_ids.len() as u64;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    println!(
        "imported {imported} entries, replaced {replaced}, unchanged {unchanged}; {pending} of them wait for the regulator's approval (ListPendingOwnershipEntries)"
    );
    Ok(())
}

/// The row as the server will read it, or what is wrong with it.
fn check_row(row: Result<Row, csv::Error>) -> Result<pb::OwnershipEntry, String> {
    let row = row.map_err(|e| match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => match err.field() {
            Some(f) => format!("column {}: {err}", f + 1),
            None => err.to_string(),
        },
        _ => e.to_string(),
    })?;
    let kind = fenghuo::domain::routing::OwnershipKind::parse(&row.kind)
        .map_err(|e| format!("kind: {e}"))?;
    fenghuo::domain::routing::normalise(kind, &row.value, row.origin_asn.unwrap_or_default())
        .map_err(|e| format!("value: {e}"))?;
    fenghuo::domain::organisation::OrganisationId::parse(&row.owner)
        .map_err(|e| format!("owner: {e}"))?;
    if let Some(p) = row.province.as_deref().filter(|p| !p.is_empty()) {
        fenghuo::domain::organisation::Province::parse(p).map_err(|e| format!("province: {e}"))?;
    }
    let relation = fenghuo::domain::routing::Relation::parse(row.relation.as_deref().unwrap_or(""))
        .ok_or("relation: responsible, holder or empty (responsible)")?;
    Ok(pb::OwnershipEntry {
        relation: relation.as_i32(),
        kind: kind.as_i32(),
        value: row.value,
        origin_asn: row.origin_asn.unwrap_or_default(),
        owner_organisation_id: row.owner,
        province: row.province.unwrap_or_default(),
        ..Default::default()
    })
}

/// `entries[17].value: …` or `entries[17]: …` → 17.
fn entry_index(message: &str) -> Option<usize> {
    let rest = message.strip_prefix("entries[")?;
    rest[..rest.find(']')?].parse().ok()
}

impl OwnershipCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            OwnershipCommand::Import {
                file,
                replace,
                connect,
            } => import(&file, replace, &connect).await?,
            OwnershipCommand::Pending { out, connect } => {
                let entries = connect
                    .client()
                    .await?
                    .registry()
                    .list_pending_ownership_entries(
                        pb::ListPendingOwnershipEntriesRequest::default(),
                    )
                    .await?
                    .into_inner()
                    .entries;
                if entries.is_empty() {
                    out.note("no entries wait for approval");
                }
                for e in &entries {
                    entry_out(&out, e);
                }
            }
            OwnershipCommand::Approve {
                entry_id,
                reason,
                out,
                connect,
            } => {
                let e = connect
                    .client()
                    .await?
                    .registry()
                    .approve_ownership_entry(pb::DecideOwnershipEntryRequest { entry_id, reason })
                    .await?
                    .into_inner();
                entry_out(&out, &e);
            }
            OwnershipCommand::Refuse {
                entry_id,
                reason,
                out,
                connect,
            } => {
                let e = connect
                    .client()
                    .await?
                    .registry()
                    .refuse_ownership_entry(pb::DecideOwnershipEntryRequest { entry_id, reason })
                    .await?
                    .into_inner();
                entry_out(&out, &e);
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
                let holders: Vec<String> = answer
                    .holders
                    .iter()
                    .map(|h| format!("{} ({})", h.owner_organisation_id, h.value))
                    .collect();
                println!(
                    "{} province={} via {via}{}",
                    answer.organisation_id,
                    answer.province,
                    if holders.is_empty() {
                        String::new()
                    } else {
                        format!(" held by {}", holders.join(", "))
                    }
                );
            }
        }
        Ok(())
    }
}
