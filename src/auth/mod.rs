//! Identity and authorization, resolved once per call in [`layer::AuthLayer`]:
//! the peer certificate gives the organisation, an optional bearer token the
//! officer, and `docs/authorization.md` the scope. Handlers read the typed
//! [`Caller`] from the request extensions.

pub mod layer;
pub mod monitor;
pub mod policy;
pub mod token;

use tonic::Status;

use crate::domain::organisation::Role;
use crate::store::audit::Actor;
use crate::store::registry::OrganisationRow;
use policy::Scope;

/// Who is calling, as established by the certificate and token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub organisation_id: String,
    pub roles: Vec<Role>,
    pub province: String,
    pub certificate_fingerprint: String,
    pub officer: Option<String>,
    /// "Service.Method" of this call.
    pub rpc: String,
    /// The widest scope the caller's roles grant for this RPC.
    pub scope: Scope,
}

/// A record outside the caller's jurisdiction or organisation: PERMISSION_DENIED.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OutsideScope(String);

impl OutsideScope {
    /// A refusal saying what lies outside the caller's scope.
    pub fn new(message: String) -> Self {
        OutsideScope(message)
    }
}

impl From<OutsideScope> for Status {
    fn from(e: OutsideScope) -> Status {
        Status::permission_denied(e.0)
    }
}

impl Caller {
    /// A caller as the auth layer would resolve it, for unit tests of the workflows.
    #[cfg(test)]
    pub fn for_test(organisation_id: &str, role: Role, province: &str, scope: Scope) -> Caller {
        Caller {
            organisation_id: organisation_id.into(),
            roles: vec![role],
            province: province.into(),
            certificate_fingerprint: "test".into(),
            officer: Some("duty-officer".into()),
            rpc: "test".into(),
            scope,
        }
    }

    pub fn actor(&self) -> Actor {
        Actor {
            organisation_id: self.organisation_id.clone(),
            certificate_fingerprint: self.certificate_fingerprint.clone(),
            officer: self.officer.clone().unwrap_or_default(),
        }
    }

    pub fn from_request<T>(request: &tonic::Request<T>) -> Result<Caller, Status> {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| Status::unauthenticated("no authenticated caller"))
    }

    /// What this caller may read of the shared feed (the TLP rule).
    pub fn reader(&self) -> crate::domain::threat::visibility::Reader {
        crate::domain::threat::visibility::Reader::new(
            &self.organisation_id,
            &self.roles,
            &self.province,
        )
    }

    pub fn is_national(&self) -> bool {
        self.province == "national"
    }

    /// Why a record lies outside the caller's scope, in words.
    fn refusal(&self, what: &str) -> OutsideScope {
        OutsideScope(format!(
            "{} ({}) may call {} only for {}; {what} is outside (docs/authorization.md)",
            self.organisation_id,
            self.roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            self.rpc,
            match self.scope {
                Scope::OwnProvince => "its own province",
                Scope::OwnOrganisation => "its own organisation",
                Scope::Deny | Scope::Allow => "nothing",
            }
        ))
    }

    /// Whether a record of `province` (the caller's own or a subsidiary's if `is_own`) lies
    /// within the caller's scope for this call; workflows use it without tonic.
    ///
    /// # Errors
    /// [`OutsideScope`] naming `what`.
    pub fn within_scope(
        &self,
        is_own: bool,
        province: &str,
        what: &str,
    ) -> Result<(), OutsideScope> {
        let ok = match self.scope {
            Scope::Allow => true,
            Scope::OwnProvince => province == self.province && !self.is_national() || is_own,
            Scope::OwnOrganisation => is_own,
            Scope::Deny => false,
        };
        if ok { Ok(()) } else { Err(self.refusal(what)) }
    }

    /// Checks a record that belongs to `org` (with parent chain `is_own`) in `province`.
    /// `is_own` is whether `org` is the caller's organisation or a subsidiary of it.
    pub fn check_scope(&self, is_own: bool, province: &str, what: &str) -> Result<(), Status> {
        self.within_scope(is_own, province, what)
            .map_err(Status::from)
    }

    /// Scope check for a record belonging to organisation `org`: `Ok(Err(..))` when outside.
    ///
    /// # Errors
    /// Storage failures reading the organisation tree.
    pub async fn organisation_in_scope(
        &self,
        store: &crate::store::Store,
        org: &OrganisationRow,
    ) -> Result<Result<(), OutsideScope>, sqlx::Error> {
        let is_own = match self.scope {
            Scope::Allow => true,
            _ => {
                crate::store::registry::is_same_or_descendant(store, &self.organisation_id, &org.id)
                    .await?
            }
        };
        Ok(self.within_scope(is_own, &org.province, &format!("organisation {}", org.id)))
    }

    /// Scope check for a record belonging to organisation `org`.
    pub async fn check_organisation(
        &self,
        store: &crate::store::Store,
        org: &OrganisationRow,
    ) -> Result<(), Status> {
        self.organisation_in_scope(store, org)
            .await
            .map_err(crate::api::internal)?
            .map_err(Status::from)
    }
}
