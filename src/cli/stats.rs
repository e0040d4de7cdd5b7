//! `fenghuo stats …`: a period's figures from StatisticsService (issue #15), as the
//! connecting organisation may see them; `fenghuo geo load`: the country ranges.

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use fenghuo_client::pb;
use prost::Message;

use super::ConnectArgs;
use super::calendar::DatabaseArgs;
use super::output::Output;

/// The period: one of --day, --week-of, --month, or --from with --to.
#[derive(Args, Clone)]
pub struct PeriodArgs {
    /// One Asia/Shanghai day, YYYY-MM-DD
    #[arg(long, conflicts_with_all = ["week_of", "month", "from", "to"])]
    day: Option<NaiveDate>,
    /// The Monday-to-Sunday week containing this day, YYYY-MM-DD
    #[arg(long, conflicts_with_all = ["month", "from", "to"])]
    week_of: Option<NaiveDate>,
    /// A month, YYYY-MM
    #[arg(long, conflicts_with_all = ["from", "to"])]
    month: Option<String>,
    /// First day of a range (with --to), at most 366 days
    #[arg(long, requires = "to")]
    from: Option<NaiveDate>,
    #[arg(long, requires = "from")]
    to: Option<NaiveDate>,
    /// One province's figures (GB/T 2260 code, e.g. 440000)
    #[arg(long)]
    province: Option<String>,
    /// One organisation's figures
    #[arg(long)]
    organisation: Option<String>,
}

fn date(d: NaiveDate) -> pb::Date {
    use chrono::Datelike;
    pb::Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

impl PeriodArgs {
    fn request(&self) -> anyhow::Result<pb::StatisticsRequest> {
        use pb::statistics_period::Span;
        let span = match (self.day, self.week_of, &self.month, self.from, self.to) {
            (Some(d), ..) => Span::Day(date(d)),
            (_, Some(d), ..) => Span::WeekOf(date(d)),
            (_, _, Some(m), ..) => Span::Month(m.clone()),
            (_, _, _, Some(f), Some(t)) => Span::Range(pb::DateRange {
                from: Some(date(f)),
                to: Some(date(t)),
            }),
            _ => anyhow::bail!("name the period: --day, --week-of, --month or --from/--to"),
        };
        Ok(pb::StatisticsRequest {
            period: Some(pb::StatisticsPeriod { span: Some(span) }),
            province: self.province.clone().unwrap_or_default(),
            organisation_id: self.organisation.clone().unwrap_or_default(),
        })
    }
}

/// What every `stats` subcommand takes.
#[derive(Args)]
pub struct StatsArgs {
    #[command(flatten)]
    period: PeriodArgs,
    #[command(flatten)]
    out: Output,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Subcommand)]
pub enum StatsCommand {
    /// Threats and sightings received: by category, kind, grade, colour, day, province,
    /// responsible unit, and the tables of a CNCERT report
    Threats(StatsArgs),
    /// Disposal (Art. 8, 9, 12): notices issued, receipts and results in time, verified
    /// effective, per unit and per province
    Disposal(StatsArgs),
    /// Appeals (Art. 10): filed, upheld, revoked, modified, answered late
    Appeals(StatsArgs),
}

#[derive(Subcommand)]
pub enum GeoCommand {
    /// Load (replace) the country ranges from a CSV `start,end,country` (IPv4 and IPv6,
    /// inclusive, ISO 3166-1 alpha-2; e.g. the DB-IP "IP to Country Lite" CSV) as a new
    /// version, audited as the system actor. Reports received from then on are counted by it.
    Load {
        file: std::path::PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

impl GeoCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        let GeoCommand::Load { file, database } = self;
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let ranges = fenghuo::statistics::geo::parse_csv(&text)
            .with_context(|| format!("in {}", file.display()))?;
        let sha256 = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(text.as_bytes()))
        };
        let store = fenghuo::store::Store::connect(&database.url()?).await?;
        let loaded = fenghuo::store::geo::load_geo(
            &store,
            &file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            &sha256,
            &ranges,
            fenghuo::domain::clock::to_micros(chrono::Utc::now()),
            &fenghuo::store::audit::Actor::system(),
        )
        .await;
        store.close().await;
        let loaded = loaded?;
        println!(
            "loaded {} country ranges as version {}",
            loaded.ranges, loaded.version
        );
        Ok(())
    }
}

/// The message as JSON with the contract's field names.
fn to_json(full_name: &str, bytes: Vec<u8>) -> serde_json::Value {
    let Ok(pool) = prost_reflect::DescriptorPool::decode(fenghuo::pb::FILE_DESCRIPTOR_SET) else {
        return serde_json::Value::Null;
    };
    let Some(desc) = pool.get_message_by_name(full_name) else {
        return serde_json::Value::Null;
    };
    let Ok(msg) = prost_reflect::DynamicMessage::decode(desc, bytes.as_slice()) else {
        return serde_json::Value::Null;
    };
    let options = prost_reflect::SerializeOptions::new()
        .use_proto_field_name(true)
        .stringify_64_bit_integers(false);
    msg.serialize_with_options(serde_json::value::Serializer, &options)
        .unwrap_or(serde_json::Value::Null)
}

fn header(
    from: Option<pb::Date>,
    to: Option<pb::Date>,
    scope: Option<pb::StatisticsScope>,
) -> String {
    let d = |d: Option<pb::Date>| {
        d.map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
            .unwrap_or_default()
    };
    let scope = scope.unwrap_or_default();
    format!(
        "{} to {}, {}{}",
        d(from),
        d(to),
        scope.kind,
        if scope.id.is_empty() {
            String::new()
        } else {
            format!(" {}", scope.id)
        }
    )
}

fn table(title: &str, rows: &[pb::CountRow]) -> String {
    let mut out = format!("{title}:\n");
    if rows.is_empty() {
        out.push_str("  (none)\n");
    }
    for r in rows {
        let name = if r.label == r.key {
            r.key.clone()
        } else {
            format!("{} ({})", r.label, r.key)
        };
        out.push_str(&format!(
            "  {name:<44} threats {:>8}  sightings {:>8}\n",
            r.threats, r.sightings
        ));
    }
    out
}

fn duty(d: Option<pb::DutyCounts>) -> String {
    let d = d.unwrap_or_default();
    format!(
        "due {} on time {} late {} missing {}",
        d.due, d.on_time, d.late, d.missing
    )
}

fn figures(f: Option<pb::DisposalFigures>) -> String {
    let f = f.unwrap_or_default();
    format!(
        "issued {}; receipts {}; results {}; verified {} effective {}",
        f.notices_issued,
        duty(f.receipts),
        duty(f.results),
        f.verified,
        f.verified_effective
    )
}

impl StatsCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        let (StatsCommand::Threats(args)
        | StatsCommand::Disposal(args)
        | StatsCommand::Appeals(args)) = &self;
        let req = args.period.request()?;
        let out = args.out;
        let mut client = args.connect.client().await?.statistics();
        let (name, bytes, text) = match self {
            StatsCommand::Threats(_) => {
                let s = client.get_threat_statistics(req).await?.into_inner();
                ("ThreatStatistics", s.encode_to_vec(), threats_text(&s))
            }
            StatsCommand::Disposal(_) => {
                let s = client.get_disposal_statistics(req).await?.into_inner();
                ("DisposalStatistics", s.encode_to_vec(), disposal_text(&s))
            }
            StatsCommand::Appeals(_) => {
                let s = client.get_appeal_statistics(req).await?.into_inner();
                ("AppealStatistics", s.encode_to_vec(), appeals_text(&s))
            }
        };
        if out.json {
            out.say("", to_json(&format!("fenghuo.v1.{name}"), bytes));
        } else {
            print!("{text}");
        }
        Ok(())
    }
}

fn threats_text(s: &pb::ThreatStatistics) -> String {
    let mut text = format!(
        "{}: {} threats, {} sightings\n",
        header(s.from, s.to, s.scope.clone()),
        s.threats,
        s.sightings
    );
    text.push_str("by day:\n");
    for d in &s.by_day {
        let day = d.day.unwrap_or_default();
        text.push_str(&format!(
            "  {:04}-{:02}-{:02}  threats {:>8}  sightings {:>8}\n",
            day.year, day.month, day.day, d.threats, d.sightings
        ));
    }
    for (title, rows) in [
        ("by category (Art. 2)", &s.by_category),
        ("by kind", &s.by_kind),
        ("by event grade", &s.by_event_grade),
        ("by warning colour", &s.by_warning_colour),
        ("by province of the resource", &s.by_resource_province),
        ("by responsible unit", &s.by_responsible_unit),
        (
            "by province of the responsible unit",
            &s.by_responsible_province,
        ),
        (
            "controlled hosts by province",
            &s.controlled_hosts_by_province,
        ),
    ] {
        text.push_str(&table(title, rows));
    }
    text.push_str("control servers outside the mainland:\n");
    if s.control_servers_outside_mainland.is_empty() {
        text.push_str("  (none)\n");
    }
    for c in &s.control_servers_outside_mainland {
        text.push_str(&format!(
            "  {:<8} ({:<8}) botnet {:>6}  trojan {:>6}  sightings {:>8}\n",
            if c.country.is_empty() {
                "?"
            } else {
                &c.country
            },
            c.source,
            c.botnet_threats,
            c.trojan_threats,
            c.sightings
        ));
    }
    text.push_str(&table(
        "botnet control-server ports",
        &s.botnet_control_ports,
    ));
    text.push_str(&table("botnet sizes (bots)", &s.botnet_sizes));
    text.push_str("defaced websites by month:\n");
    for m in &s.defacements_by_month {
        text.push_str(&format!(
            "  {}  {:>6} defaced, {:>6} under .gov.cn ({:.1}%)\n",
            m.month,
            m.threats,
            m.gov_cn_threats,
            m.gov_cn_share * 100.0
        ));
    }
    text.push_str(&table("top ports reported", &s.top_ports));
    text.push_str(&table("malware families", &s.malware_families));
    text
}

fn disposal_text(s: &pb::DisposalStatistics) -> String {
    let mut text = format!(
        "{}: {}\n",
        header(s.from, s.to, s.scope.clone()),
        figures(s.total)
    );
    text.push_str("per unit:\n");
    for u in &s.units {
        text.push_str(&format!(
            "  {} ({}): {}\n",
            u.organisation_id,
            u.province,
            figures(u.figures)
        ));
    }
    text.push_str("per province:\n");
    for p in &s.provinces {
        text.push_str(&format!("  {}: {}\n", p.province, figures(p.figures)));
    }
    text
}

fn appeals_text(s: &pb::AppealStatistics) -> String {
    format!(
        "{}: filed {}, open {} ({} overdue), withdrawn {}, upheld {}, revoked {}, modified {}, answered late {}\n",
        header(s.from, s.to, s.scope.clone()),
        s.filed,
        s.open,
        s.overdue_open,
        s.withdrawn,
        s.upheld,
        s.revoked,
        s.modified,
        s.answered_late
    )
}
