//! The regulators' notice-signing keys the server holds, by key id.
//!
//! The server signs a notice for a regulator only after authorising the
//! regulator's officer, and only with the key the registry names as that
//! regulator's current one; a rotated-in key is picked up from disk on first use.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use super::signing::NoticeSigner;

pub struct SigningKeyring {
    dir: PathBuf,
    by_key_id: RwLock<HashMap<String, Arc<NoticeSigner>>>,
}

impl SigningKeyring {
    pub fn new(dir: PathBuf) -> Self {
        SigningKeyring {
            dir,
            by_key_id: RwLock::new(HashMap::new()),
        }
    }

    /// The organisation's current signing key as the registry names it (registered, not
    /// retired, valid at `now`; the newest of several) and this server holds it.
    pub async fn current(
        &self,
        store: &crate::store::Store,
        organisation: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Arc<NoticeSigner>>, sqlx::Error> {
        let keys =
            crate::store::registry::list_signing_keys(store, Some(organisation), "", 1000).await?;
        let at = crate::domain::clock::to_micros(now);
        Ok(keys
            .iter()
            .filter(|k| k.retired_at.is_none() && k.valid_from <= at && at <= k.valid_until)
            .max_by_key(|k| k.registered_at)
            .and_then(|k| self.signer(organisation, &k.key_id)))
    }

    /// The signer of `key_id`, reading `<dir>/<organisation>/notice-signing.*` on a miss.
    pub fn signer(&self, organisation: &str, key_id: &str) -> Option<Arc<NoticeSigner>> {
        if let Some(s) = self
            .by_key_id
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key_id)
        {
            return Some(s.clone());
        }
        // Organisation ids are registry ids ([a-z0-9-]); never a path.
        if organisation.is_empty()
            || !organisation
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        let dir = self.dir.join(organisation);
        let key = std::fs::read_to_string(dir.join("notice-signing.key")).ok()?;
        let cert = std::fs::read_to_string(dir.join("notice-signing.crt")).ok()?;
        let signer = match NoticeSigner::from_pem(&key, &cert) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                tracing::warn!(organisation, error = %e, "unusable notice-signing key");
                return None;
            }
        };
        if signer.key_id() != key_id {
            return None;
        }
        self.by_key_id
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key_id.to_owned(), signer.clone());
        Some(signer)
    }
}
