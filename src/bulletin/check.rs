//! The daily check that publishes the monthly bulletin (2009 reporting measures Art. 19): on
//! the first working day of the next month, or any day after while it is unpublished, one
//! replica (the claim) builds it; past the 10th working day unpublished, an operator alert.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::pdf::Fonts;
use super::publish;
use super::source::{Publisher, month_figures};
use crate::domain::bulletin::{due_day, publication_day, reported_month};
use crate::domain::calendar::local_date;
use crate::domain::clock::to_micros;
use crate::pki::keyring::SigningKeyring;
use crate::store::{Store, audit, bulletins};
use crate::timers::DailyCheck;

/// A claim older than this is a crashed build another replica may take over.
const CLAIM_STALE: chrono::Duration = chrono::Duration::hours(1);

pub struct BulletinCheck {
    pub publisher: String,
    pub keyring: Arc<SigningKeyring>,
    pub font_dirs: Vec<PathBuf>,
    /// Loaded at the first build, kept for the next months.
    pub fonts: OnceLock<Arc<Fonts>>,
}

/// Publishes the bulletin of `month` (its first day) from the statistics as `publisher`,
/// printed under `name` or else its registered name: what the daily check does on the day,
/// and `fenghuo bulletin build` on demand.
///
/// # Errors
/// An unknown publisher, or [`publish::PublishError`].
pub async fn publish_month(
    store: &Store,
    keyring: &SigningKeyring,
    fonts: Arc<Fonts>,
    publisher: &str,
    name: Option<String>,
    month: chrono::NaiveDate,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<crate::store::bulletins::BulletinRow>> {
    let name = match name {
        Some(n) => n,
        None => crate::store::registry::get_organisation(store, publisher)
            .await?
            .map(|o| o.name)
            .with_context(|| {
                format!("the publisher {publisher:?} is not a registered organisation")
            })?,
    };
    let publisher = Publisher {
        id: publisher.to_owned(),
        name,
    };
    let figures = month_figures(store, month, &publisher, local_date(now)).await?;
    Ok(publish::publish(
        store,
        keyring,
        fonts,
        &figures,
        &audit::Actor::system(),
        now,
    )
    .await?)
}

impl BulletinCheck {
    async fn build(
        &self,
        store: &Store,
        month: chrono::NaiveDate,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let fonts = match self.fonts.get() {
            Some(f) => f.clone(),
            None => {
                let loaded = Arc::new(Fonts::load(&self.font_dirs)?);
                self.fonts.get_or_init(|| loaded).clone()
            }
        };
        let rows = publish_month(
            store,
            &self.keyring,
            fonts,
            &self.publisher,
            None,
            month,
            now,
        )
        .await?;
        if let Some(row) = rows.first() {
            tracing::info!(month = %row.month, publisher = %self.publisher, "published the monthly bulletin");
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl DailyCheck for BulletinCheck {
    async fn run(&self, store: &Store, now: DateTime<Utc>) -> anyhow::Result<()> {
        let today = local_date(now);
        let month = reported_month(today);
        let key = month.format("%Y-%m").to_string();
        if bulletins::is_published(store, &key).await? {
            return Ok(());
        }
        let calendar = crate::store::calendar::current(store).await?;
        // A year not loaded yet: the calendar's own alert says so; nothing is guessed.
        let (Ok(publish_on), Ok(due_on)) =
            (publication_day(&calendar, month), due_day(&calendar, month))
        else {
            return Ok(());
        };
        if today < publish_on {
            return Ok(());
        }
        let built =
            if bulletins::claim(store, &key, to_micros(now), to_micros(now - CLAIM_STALE)).await? {
                self.build(store, month, now).await
            } else {
                Ok(())
            };
        let mut tx = store.begin().await?;
        if let Err(e) = &built {
            crate::store::timers::raise_alert(
                &mut tx,
                now,
                "bulletin.failed",
                &format!("bulletin:{key}"),
                &format!("building the bulletin of {key} failed: {e:#}"),
            )
            .await?;
        }
        if today > due_on && !bulletins::is_published(store, &key).await? {
            crate::store::timers::raise_alert_once(
                &mut tx,
                &format!("bulletin-overdue-{key}"),
                now,
                "bulletin.overdue",
                &format!("bulletin:{key}"),
                &format!(
                    "the bulletin of {key} was due by {due_on}, the 10th working day of the next month \
                     (2009 reporting measures Art. 19), and is not published"
                ),
            )
            .await?;
        }
        tx.commit().await?;
        built
    }
}
