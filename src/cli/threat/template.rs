//! `fenghuo threat template`: per Art. 2 category, the columns a first report needs and one
//! row the server accepts; and the hidden generator of the benchmark's large file.

use std::io::Write;

use super::Format;

/// The event information of reporting measures Art. 14, as columns.
fn event(at: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grade", "major".into()),
        ("affected_unit", "Example Hosting Ltd".into()),
        ("occurred_at", at.into()),
        (
            "brief_course",
            "Seen by our sensors; traffic confirmed".into(),
        ),
        ("estimated_harm_and_impact", "about 120,000 hosts".into()),
        ("measures_taken", "none yet".into()),
        ("other_information", String::new()),
    ]
}

/// The warning information of reporting measures Art. 15, as columns.
fn warning() -> Vec<(&'static str, String)> {
    vec![
        ("colour", "orange".into()),
        (
            "warning_description",
            "Remote code execution in SMBv1".into(),
        ),
        ("possible_harm_and_degree", "worm spread; severe".into()),
        (
            "affected_users_and_scope",
            "unpatched Windows hosts nationwide".into(),
        ),
        ("already_known_to", "none".into()),
        (
            "recommended_countermeasures",
            "apply MS17-010; block 445/tcp".into(),
        ),
    ]
}

/// The template row of `category` (its columns in order), discovered at `at`.
pub fn example(category: &str, at: &str) -> anyhow::Result<Vec<(&'static str, String)>> {
    let mut row: Vec<(&'static str, String)> = vec![
        ("category", category.into()),
        ("report_kind", "about-others".into()),
        ("tlp", "amber".into()),
        ("discovered_at", at.into()),
    ];
    let s = |v: &str| v.to_owned();
    match category {
        "malicious-resource" => {
            row.extend(event(at));
            row.extend([
                ("kind", s("ip")),
                ("value", s("58.60.7.7")),
                ("purpose", s("botnet-control-server")),
                ("port", s("8080")),
                ("transport", s("tcp")),
                ("application_protocol", s("HTTP")),
                ("family", s("Mirai")),
                ("bot_count", s("120000")),
                ("domains", s("cc.evil-example.com;cc2.evil-example.com")),
                ("server_ip", String::new()),
                ("no_known_domains", s("false")),
            ]);
        }
        "malicious-program" => {
            row.extend(event(at));
            row.extend([
                (
                    "sha256",
                    s("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
                ),
                ("md5", String::new()),
                ("sha1", String::new()),
                ("family", s("Emotet")),
                ("kind", s("trojan")),
                ("platform", s("windows")),
                ("file_name", s("invoice.exe")),
                ("size_bytes", s("482304")),
                (
                    "distribution_urls",
                    s("http://dl.evil-example.com/invoice.exe"),
                ),
            ]);
        }
        "hazard" => {
            row.extend(warning());
            row.extend([
                ("kind", s("code-vulnerability")),
                ("cve_id", s("CVE-2017-0144")),
                ("cnvd_id", String::new()),
                ("product", s("Windows SMBv1")),
                ("vendor", s("Microsoft")),
                ("affected_versions", s("Windows 7, Server 2008 R2")),
                ("asset", s("system:provincial e-government portal")),
            ]);
        }
        "incident" => {
            // The unit's own incident, already disposed (Art. 11).
            row[1].1 = "self-disposal".into();
            row.extend(event(at));
            row.extend([
                (
                    "disposal_measures",
                    s("page restored from backup; CMS patched"),
                ),
                ("disposed_at", at.into()),
                ("disposal_completed", s("true")),
                ("kind", s("defacement")),
                ("asset", s("domain:www.gov-example.cn")),
                ("records_affected", String::new()),
            ]);
        }
        "other" => {
            row.extend(event(at));
            row.extend([
                ("title", s("Fake customer-service hotline campaign")),
                (
                    "description",
                    s("Search ads point to a look-alike support site"),
                ),
            ]);
        }
        other => anyhow::bail!(
            "--category {other:?}: malicious-resource, malicious-program, hazard, incident or other"
        ),
    }
    Ok(row)
}

/// Prints the header and the example row of `category`.
pub fn print(category: &str, format: Format) -> anyhow::Result<()> {
    let at = (chrono::Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let row = example(category, &at)?;
    let stdout = std::io::stdout();
    match format {
        Format::Stix => anyhow::bail!(
            "--format stix: a STIX bundle needs no template (docs/stix.md); templates are csv or jsonl"
        ),
        Format::Csv => {
            let mut w = csv::Writer::from_writer(stdout.lock());
            w.write_record(row.iter().map(|(c, _)| *c))?;
            w.write_record(row.iter().map(|(_, v)| v.as_str()))?;
            w.flush()?;
        }
        Format::Jsonl => {
            // Written by hand to keep the template's column order; numbers and flags typed.
            let pairs: Vec<String> = row
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(c, v)| {
                    let value = match c {
                        "port" | "bot_count" | "size_bytes" | "records_affected"
                        | "recipient_count" => v.parse::<u64>().map(serde_json::Value::from).ok(),
                        "no_known_domains" | "disposal_completed" => {
                            v.parse::<bool>().map(serde_json::Value::from).ok()
                        }
                        "domains" | "distribution_urls" => {
                            Some(serde_json::Value::from(v.split(';').collect::<Vec<_>>()))
                        }
                        _ => None,
                    };
                    let value = value.unwrap_or(serde_json::Value::String(v));
                    format!("{}:{value}", serde_json::Value::from(c))
                })
                .collect();
            writeln!(stdout.lock(), "{{{}}}", pairs.join(","))?;
        }
    }
    Ok(())
}

/// `lines` rows of the `bench ingest` mix as CSV: the five categories, every fifth row a
/// duplicate of the one two back (20% merge), each an event report discovered an hour ago.
pub fn generate(lines: u64, out: &mut impl Write) -> anyhow::Result<()> {
    let at = (chrono::Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut w = csv::Writer::from_writer(out);
    let header = [
        "category",
        "tlp",
        "discovered_at",
        "grade",
        "affected_unit",
        "occurred_at",
        "brief_course",
        "estimated_harm_and_impact",
        "measures_taken",
        "kind",
        "value",
        "purpose",
        "port",
        "family",
        "bot_count",
        "no_known_domains",
        "sha256",
        "cve_id",
        "product",
        "asset",
        "title",
    ];
    w.write_record(header)?;
    let octets = |k: u64| {
        format!(
            "{}.{}.{}.{}",
            45 + (k >> 24) % 10,
            (k >> 16) & 255,
            (k >> 8) & 255,
            (k & 255).max(1)
        )
    };
    for i in 0..lines {
        let k = if i % 5 == 4 { i - 2 } else { i };
        let mut r: [String; 21] = Default::default();
        r[1] = "green".into();
        r[2] = at.clone();
        r[3] = "general".into();
        r[4] = "Bench Hosting Ltd".into();
        r[5] = at.clone();
        r[6] = "Seen by the bench's sensors".into();
        r[7] = "unknown".into();
        r[8] = "none".into();
        match k % 10 {
            0..=3 => {
                r[0] = "malicious-resource".into();
                r[9] = "ip".into();
                r[10] = octets(k);
                r[11] = "botnet-control-server".into();
                r[12] = "443".into();
                r[13] = "Mirai".into();
                r[14] = "1000".into();
                r[15] = "true".into();
            }
            4 => {
                r[0] = "malicious-resource".into();
                r[9] = "domain".into();
                r[10] = format!("c2-{k}.bench-example.com");
            }
            5 => {
                r[0] = "malicious-resource".into();
                r[9] = "url".into();
                r[10] = format!("http://phish-{k}.bench-example.com/login");
            }
            6 => {
                r[0] = "malicious-program".into();
                r[9] = "trojan".into();
                r[13] = "Emotet".into();
                r[16] = format!("{k:064x}");
            }
            7 => {
                r[0] = "hazard".into();
                r[9] = "code-vulnerability".into();
                r[17] = format!("CVE-2024-{}", 10000 + k);
                r[18] = "Bench CMS".into();
            }
            8 => {
                r[0] = "incident".into();
                r[9] = "host-controlled".into();
                r[19] = format!("ip:{}", octets(k));
            }
            _ => {
                r[0] = "other".into();
                r[20] = format!("Bench observation {k}");
            }
        }
        w.write_record(&r)?;
    }
    w.flush()?;
    Ok(())
}
