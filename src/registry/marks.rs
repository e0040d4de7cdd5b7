//! Protection marks (Art. 8(3); 2009 mechanism Art. 9(4), 19): the registry marks an
//! organisation as a party or government organ, critical information infrastructure or an
//! important information system, naming who is told of measures on its resources.

use super::Registry;
use crate::auth::Caller;
use crate::domain::clock::to_micros;
use crate::domain::protection::ProtectionMark;
use crate::store::registry::{self as reg, OrganisationRow};

/// Why a mark is refused.
#[derive(Debug, thiserror::Error)]
pub enum MarkRefused {
    /// A party told on the platform is a registered organisation.
    #[error("no organisation {id:?} is registered")]
    UnknownInformed { index: usize, id: String },
    #[error("storage: {0}")]
    Storage(#[from] sqlx::Error),
}

impl Registry {
    /// Sets (or with `None` clears) `org`'s mark, checked in itself by the edge, stamped with
    /// when and by whom; audited.
    ///
    /// # Errors
    /// [`MarkRefused`].
    pub async fn set_protection_mark(
        &self,
        caller: &Caller,
        org: OrganisationRow,
        mark: Option<ProtectionMark>,
    ) -> Result<OrganisationRow, MarkRefused> {
        let mark = match mark {
            None => None,
            Some(mut mark) => {
                for (index, p) in mark.informed.iter().enumerate() {
                    if !p.organisation_id.is_empty()
                        && reg::get_organisation(&self.store, &p.organisation_id)
                            .await?
                            .is_none()
                    {
                        return Err(MarkRefused::UnknownInformed {
                            index,
                            id: p.organisation_id.clone(),
                        });
                    }
                }
                mark.marked_at = to_micros(self.clock.now());
                mark.marked_by = caller
                    .officer
                    .clone()
                    .unwrap_or_else(|| caller.organisation_id.clone());
                Some(mark)
            }
        };
        let mut tx = self.store.begin().await?;
        reg::set_protection(&mut tx, &org.id, mark.as_ref()).await?;
        self.finish(
            tx,
            caller,
            "registry.protection.set",
            format!("organisation:{}", org.id),
            serde_json::json!({ "mark": mark }),
        )
        .await?;
        Ok(reg::get_organisation(&self.store, &org.id)
            .await?
            .unwrap_or(org))
    }
}
