//! `fenghuo calendar …`: working-day answers without a server, from the shipped calendar and,
//! with `--database-url`, the years an administrator loaded. On any error nothing reaches
//! stdout: scripts read either the answer or a non-zero exit with the reason on stderr.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Subcommand};

use fenghuo::domain::calendar::{WorkingCalendar, YearCalendar};
use fenghuo::store::Store;
use fenghuo::store::audit::Actor;

use crate::ServerArgs;

#[derive(Subcommand)]
pub enum CalendarCommand {
    /// Print the N-th working day after --from (counting starts the next day): the deadline
    /// ends at 24:00 Asia/Shanghai of that date.
    Deadline {
        /// The event day, YYYY-MM-DD
        #[arg(long)]
        from: NaiveDate,
        /// N ≥ 1
        #[arg(long)]
        working_days: u32,
        #[command(flatten)]
        db: LoadedYears,
    },
    /// Print `true` or `false`.
    IsWorkingDay {
        /// YYYY-MM-DD
        date: NaiveDate,
        #[command(flatten)]
        db: LoadedYears,
    },
    /// Print `YYYY-MM-DD true|false` for every day from --from to --to inclusive.
    Dump {
        #[arg(long)]
        from: NaiveDate,
        #[arg(long)]
        to: NaiveDate,
        #[command(flatten)]
        db: LoadedYears,
    },
    /// Load (or replace) one year from a JSON file
    /// `{"year": 2027, "holidays": [...], "makeup_workdays": [...]}`: validated, stored, audited
    /// as the system actor, and the deadlines pending that year scheduled.
    Load {
        file: PathBuf,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Args)]
pub struct LoadedYears {
    /// Also use the years loaded into this database (sqlite://… or postgres://…)
    #[arg(long, env = "FENGHUO_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

impl LoadedYears {
    async fn calendar(&self) -> anyhow::Result<WorkingCalendar> {
        match &self.database_url {
            None => Ok(WorkingCalendar::embedded()),
            Some(url) => {
                let store = Store::connect(url).await?;
                let calendar = fenghuo::store::calendar::current(&store).await;
                store.close().await;
                calendar
            }
        }
    }
}

impl CalendarCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            CalendarCommand::Deadline {
                from,
                working_days,
                db,
            } => {
                let date = db.calendar().await?.add_working_days(from, working_days)?;
                println!("{date}");
            }
            CalendarCommand::IsWorkingDay { date, db } => {
                println!("{}", db.calendar().await?.is_working_day(date)?);
            }
            CalendarCommand::Dump { from, to, db } => {
                if to < from {
                    anyhow::bail!("--to {to} is before --from {from}");
                }
                let calendar = db.calendar().await?;
                // Built whole first: a day outside the data fails before anything is printed.
                let mut out = String::new();
                for day in from.iter_days().take_while(|d| *d <= to) {
                    let _ = writeln!(out, "{day} {}", calendar.is_working_day(day)?);
                }
                print!("{out}");
            }
            CalendarCommand::Load { file, server } => {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?;
                let year = YearCalendar::parse_json(&text)
                    .with_context(|| format!("in {}", file.display()))?;
                let settings = server.settings()?;
                let store = Store::connect(settings.database_url.expose()).await?;
                let loaded = fenghuo::store::calendar::load_year(
                    &store,
                    chrono::Utc::now(),
                    &Actor::system(),
                    year,
                )
                .await?;
                store.close().await;
                eprintln!(
                    "loaded the calendar of {}{}; {} pending deadline(s) scheduled",
                    loaded.year,
                    if loaded.replaced {
                        " (replacing the one loaded before)"
                    } else {
                        ""
                    },
                    loaded.deadlines_scheduled
                );
            }
        }
        Ok(())
    }
}
