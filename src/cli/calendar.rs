//! `fenghuo calendar …`: working-day answers without a server, from the shipped calendar and
//! the years an administrator loaded into the server's database — found through the same
//! layered settings `serve` uses (`--config`/`FENGHUO_CONFIG`, `--data-dir`/`FENGHUO_DATA_DIR`,
//! `--database-url`/`FENGHUO_DATABASE_URL`); `--shipped` answers from the binary alone. On any
//! error nothing reaches stdout: scripts read either the answer or a non-zero exit with the
//! reason on stderr.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Subcommand};

use fenghuo::config::{Overrides, Settings};
use fenghuo::domain::calendar::{WorkingCalendar, YearCalendar, fmt_years, local_date};
use fenghuo::store::Store;
use fenghuo::store::audit::Actor;

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
    /// Print the loaded years, the last day covered, the days left and, from 60 days before
    /// that day, the warning to load the next year.
    Status {
        /// As of this day [default: today in Asia/Shanghai]
        #[arg(long)]
        today: Option<NaiveDate>,
        #[command(flatten)]
        db: LoadedYears,
    },
    /// Load (or replace) one year from a JSON file
    /// `{"year": 2027, "holidays": [...], "makeup_workdays": [...]}` (`holidays`: the whole
    /// holiday periods or only the weekdays off): validated, stored, audited as the system
    /// actor, and the deadlines pending that year scheduled with their follow-ups.
    Load {
        file: PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Where the server's database is: `serve`'s layers, later wins.
#[derive(Args)]
pub struct DatabaseArgs {
    /// The server's TOML configuration file
    #[arg(long, env = "FENGHUO_CONFIG")]
    config: Option<PathBuf>,
    /// The server's data directory [default: ./fenghuo-data]
    #[arg(long, env = "FENGHUO_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// sqlite://… or postgres://… [default: the configured one, else SQLite in the data directory]
    #[arg(long, env = "FENGHUO_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

impl DatabaseArgs {
    pub(crate) fn url(&self) -> anyhow::Result<String> {
        Ok(self.settings()?.database_url.expose().to_owned())
    }

    /// The server's settings as these arguments and its configuration give them.
    pub(crate) fn settings(&self) -> anyhow::Result<Settings> {
        Settings::load(
            self.config.as_deref(),
            Overrides {
                data_dir: self.data_dir.clone(),
                database_url: self.database_url.clone(),
                ..Default::default()
            },
        )
    }
}

#[derive(Args)]
pub struct LoadedYears {
    #[command(flatten)]
    database: DatabaseArgs,
    /// Answer from the calendar shipped in the binary alone, ignoring any database
    #[arg(long)]
    shipped: bool,
}

impl LoadedYears {
    /// The configured database, or `None` for the shipped years alone: with `--shipped`, or
    /// when the configured SQLite file does not exist (nothing was loaded; a query must not
    /// create it).
    async fn store(&self) -> anyhow::Result<Option<Store>> {
        if self.shipped {
            return Ok(None);
        }
        let url = self.database.url()?;
        if url.starts_with("sqlite:") {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
                .with_context(|| format!("parsing {}", fenghuo::store::redact(&url)))?;
            let file = options.get_filename();
            if !file.exists() {
                eprintln!(
                    "note: no database at {}: answering from the shipped calendar alone",
                    file.display()
                );
                return Ok(None);
            }
        }
        Ok(Some(Store::connect(&url).await?))
    }

    async fn calendar(&self) -> anyhow::Result<WorkingCalendar> {
        match self.store().await? {
            None => Ok(WorkingCalendar::embedded()),
            Some(store) => {
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
            CalendarCommand::Status { today, db } => {
                let today = today.unwrap_or_else(|| local_date(chrono::Utc::now()));
                print!("{}", status(&db, today).await?);
            }
            CalendarCommand::Load { file, database } => {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?;
                let year = YearCalendar::parse_json(&text)
                    .with_context(|| format!("in {}", file.display()))?;
                let url = database.url()?;
                if url.starts_with("sqlite:") {
                    // The server's first start creates its data directory; a load may come first.
                    let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
                        .with_context(|| format!("parsing {}", fenghuo::store::redact(&url)))?;
                    if let Some(dir) = options.get_filename().parent() {
                        std::fs::create_dir_all(dir)
                            .with_context(|| format!("creating {}", dir.display()))?;
                    }
                }
                let store = Store::connect(&url).await?;
                let loaded = fenghuo::timers::calendar::load_year(
                    &store,
                    &fenghuo::app::timer_handlers(&store),
                    chrono::Utc::now(),
                    &Actor::system(),
                    year,
                )
                .await;
                store.close().await;
                let loaded = loaded?;
                eprintln!(
                    "loaded the calendar of {}{}; {} pending deadline(s) scheduled",
                    loaded.year,
                    if loaded.replaced {
                        " (replacing the one loaded before)"
                    } else {
                        ""
                    },
                    loaded.scheduled.len()
                );
            }
        }
        Ok(())
    }
}

/// `calendar status`, whole: built before anything is printed.
async fn status(db: &LoadedYears, today: NaiveDate) -> anyhow::Result<String> {
    let (calendar, administrator) = match db.store().await? {
        None => (WorkingCalendar::embedded(), Vec::new()),
        Some(store) => {
            let read = async {
                let calendar = fenghuo::store::calendar::current(&store).await?;
                let years = fenghuo::store::calendar::administrator_years(&store).await?;
                anyhow::Ok((calendar, years))
            }
            .await;
            store.close().await;
            read?
        }
    };
    let coverage = calendar
        .coverage(today)
        .context("no calendar year is loaded")?;
    let mut out = String::new();
    let _ = writeln!(out, "loaded years: {}", fmt_years(&calendar.loaded_years()));
    let _ = writeln!(
        out,
        "loaded by an administrator: {}",
        fmt_years(&administrator)
    );
    let _ = writeln!(out, "last day covered: {}", coverage.last_day);
    let _ = writeln!(out, "days left: {} (as of {today})", coverage.days_left);
    if let Some(warning) = coverage.warning() {
        let _ = writeln!(out, "warning: {warning}");
    }
    Ok(out)
}
