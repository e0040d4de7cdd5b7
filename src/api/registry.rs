//! RegistryService: organisations, certificates, officers and their keys.

use tonic::{Request, Response, Status};

use super::{
    internal, invalid, next_page_token, optional_timestamp, page, precondition, timestamp,
};
use crate::auth::Caller;
use crate::domain::organisation::{
    OrganisationId, Province, Role, organisation_name, roles_fit_province,
};
use crate::pb;
use crate::pb::registry_service_server::RegistryService;
use crate::registry::credentials::{
    NewOfficerKey, OfficerError, OfficerKeyError, RegisterCertificateError, RevokeCertificateError,
    SigningKeyError,
};
use crate::registry::organisations::{
    CreateOrganisationError, NewOrganisation, SetEnabledError, listing_province,
};
use crate::registry::{AddressedError, CertificateRefusal, Registry};
use crate::store::registry::{
    self as reg, CertificateRow, OfficerKeyRow, OfficerRow, OrganisationFilter, OrganisationRow,
};

pub struct RegistryApi {
    /// The registry workflows (organisations and their credentials).
    pub workflow: Registry,
    /// Routes resources to the units responsible for them (Art. 9).
    pub router: std::sync::Arc<crate::ownership::OwnershipRouter>,
}

pub fn role_to_pb(role: Role) -> pb::Role {
    match role {
        Role::NationalRegulator => pb::Role::NationalRegulator,
        Role::ProvincialRegulator => pb::Role::ProvincialRegulator,
        Role::Institution => pb::Role::Institution,
        Role::PlatformOperator => pb::Role::PlatformOperator,
        Role::BasicTelecom => pb::Role::BasicTelecom,
        Role::InternetEnterprise => pb::Role::InternetEnterprise,
        Role::SecurityVendor => pb::Role::SecurityVendor,
        Role::DomainRegistry => pb::Role::DomainRegistry,
        Role::DomainRegistrar => pb::Role::DomainRegistrar,
        Role::AffectedParty => pb::Role::AffectedParty,
        Role::InformationalRecipient => pb::Role::InformationalRecipient,
    }
}

pub fn role_from_pb(value: i32) -> Option<Role> {
    Role::ALL
        .into_iter()
        .find(|r| role_to_pb(*r) as i32 == value)
}

pub fn organisation_to_pb(o: &OrganisationRow) -> pb::Organisation {
    pb::Organisation {
        id: o.id.clone(),
        name: o.name.clone(),
        roles: o
            .roles()
            .into_iter()
            .map(|r| role_to_pb(r) as i32)
            .collect(),
        province: o.province.clone(),
        parent_id: o.parent_id.clone().unwrap_or_default(),
        enabled: o.enabled(),
        contacts: o
            .contacts()
            .into_iter()
            .map(super::contacts::contact_to_pb)
            .collect(),
        created_at: Some(timestamp(o.created_at)),
        contacts_updated_at: optional_timestamp(o.contacts_updated_at),
        contacts_effective_on: o
            .contacts_effective_on
            .as_deref()
            .and_then(|d| d.parse().ok())
            .map(super::calendar::date_to_pb),
        contacts_reported_late: o.contacts_reported_late != 0,
        protection: o.protection().map(super::protection::mark_to_pb),
    }
}

fn certificate_to_pb(c: &CertificateRow) -> pb::Certificate {
    pb::Certificate {
        fingerprint: c.fingerprint.clone(),
        organisation_id: c.org_id.clone(),
        subject: c.subject.clone(),
        not_before: Some(timestamp(c.not_before)),
        not_after: Some(timestamp(c.not_after)),
        registered_at: Some(timestamp(c.registered_at)),
        revoked_at: optional_timestamp(c.revoked_at),
        revocation_reason: c.revocation_reason.clone().unwrap_or_default(),
    }
}

fn officer_to_pb(o: &OfficerRow) -> pb::Officer {
    pb::Officer {
        organisation_id: o.org_id.clone(),
        name: o.name.clone(),
        display_name: o.display_name.clone(),
        enabled: o.enabled != 0,
        registered_at: Some(timestamp(o.registered_at)),
    }
}

fn officer_key_to_pb(k: &OfficerKeyRow) -> pb::OfficerKey {
    pb::OfficerKey {
        organisation_id: k.org_id.clone(),
        kid: k.kid.clone(),
        algorithm: k.algorithm.clone(),
        public_key_pem: k.public_key_pem.clone(),
        registered_at: Some(timestamp(k.registered_at)),
        revoked_at: optional_timestamp(k.revoked_at),
    }
}

/// Officer names and key ids: what a token's `sub` or `kid` can carry safely.
fn parse_name(field: &str, raw: &str) -> Result<String, Status> {
    let ok = (1..=128).contains(&raw.len())
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(invalid(
            field,
            "1 to 128 characters: letters, digits, '-', '_', '.', '@'",
        ))
    }
}

fn required_reason(field: &str, raw: &str) -> Result<String, Status> {
    let r = raw.trim();
    if r.is_empty() || r.len() > 2000 {
        Err(invalid(
            field,
            "a reason is required (at most 2000 characters); it goes into the audit log",
        ))
    } else {
        Ok(r.to_owned())
    }
}

fn organisation_id(field: &str, raw: &str) -> Result<OrganisationId, Status> {
    OrganisationId::parse(raw).map_err(|e| invalid(field, e.to_string()))
}

fn addressed_status(e: AddressedError) -> Status {
    match e {
        AddressedError::NotRegistered { .. } => Status::not_found(e.to_string()),
        AddressedError::OutsideScope(o) => o.into(),
        AddressedError::Storage(s) => internal(s),
    }
}

fn certificate_refused(e: &CertificateRefusal) -> Status {
    invalid("certificate_pem", e.to_string())
}

impl From<CreateOrganisationError> for Status {
    fn from(e: CreateOrganisationError) -> Status {
        use CreateOrganisationError as E;
        match e {
            E::AuthorityOutsideNationalScope => Status::permission_denied(e.to_string()),
            E::OutsideScope(o) => o.into(),
            E::UnknownParent { .. } => invalid("parent_id", e.to_string()),
            E::AlreadyRegistered { .. } => Status::already_exists(e.to_string()),
            E::Storage(s) => internal(s),
        }
    }
}

impl From<SetEnabledError> for Status {
    fn from(e: SetEnabledError) -> Status {
        match e {
            SetEnabledError::Addressed(a) => addressed_status(a),
            SetEnabledError::SelfDisable { ref id } => {
                precondition("SELF_DISABLE", &format!("organisation:{id}"), e.to_string())
            }
            SetEnabledError::Storage(s) => internal(s),
        }
    }
}

impl From<RegisterCertificateError> for Status {
    fn from(e: RegisterCertificateError) -> Status {
        use RegisterCertificateError as E;
        match e {
            E::Addressed(a) => addressed_status(a),
            E::Refused(ref r) => certificate_refused(r),
            E::AlreadyRegistered { .. } => Status::already_exists(e.to_string()),
            E::Storage(s) => internal(s),
        }
    }
}

impl From<RevokeCertificateError> for Status {
    fn from(e: RevokeCertificateError) -> Status {
        use RevokeCertificateError as E;
        match e {
            E::NotRegistered { .. } => Status::not_found(e.to_string()),
            E::Addressed(a) => addressed_status(a),
            E::AlreadyRevoked {
                ref fingerprint, ..
            } => precondition(
                "ALREADY_REVOKED",
                &format!("certificate:{fingerprint}"),
                e.to_string(),
            ),
            E::Storage(s) => internal(s),
        }
    }
}

impl From<OfficerError> for Status {
    fn from(e: OfficerError) -> Status {
        match e {
            OfficerError::Addressed(a) => addressed_status(a),
            OfficerError::AlreadyRegistered { .. } => Status::already_exists(e.to_string()),
            OfficerError::NotRegistered { .. } => Status::not_found(e.to_string()),
            OfficerError::Storage(s) => internal(s),
        }
    }
}

impl From<OfficerKeyError> for Status {
    fn from(e: OfficerKeyError) -> Status {
        use OfficerKeyError as E;
        match e {
            E::Addressed(a) => addressed_status(a),
            E::AlreadyRegistered { .. } => Status::already_exists(e.to_string()),
            E::NotRegistered { .. } => Status::not_found(e.to_string()),
            E::AlreadyRevoked {
                ref organisation,
                ref kid,
            } => precondition(
                "ALREADY_REVOKED",
                &format!("officer_key:{organisation}/{kid}"),
                e.to_string(),
            ),
            E::Storage(s) => internal(s),
        }
    }
}

impl From<SigningKeyError> for Status {
    fn from(e: SigningKeyError) -> Status {
        use SigningKeyError as E;
        match e {
            E::Addressed(a) => addressed_status(a),
            E::NotASigner { ref organisation } => precondition(
                "NOT_A_REGULATOR",
                &format!("organisation:{organisation}"),
                e.to_string(),
            ),
            E::Refused(ref r) => certificate_refused(r),
            E::NotEd25519 => invalid("certificate_pem", e.to_string()),
            E::AlreadyRegistered { .. } => Status::already_exists(e.to_string()),
            E::Storage(s) => internal(s),
        }
    }
}

impl RegistryApi {
    /// The organisation a request addresses, after the caller's scope is checked.
    pub(super) async fn addressed_organisation(
        &self,
        caller: &Caller,
        field: &str,
        raw: &str,
    ) -> Result<OrganisationRow, Status> {
        let id = organisation_id(field, raw)?;
        self.workflow
            .addressed(caller, &id)
            .await
            .map_err(addressed_status)
    }
}

#[tonic::async_trait]
impl RegistryService for RegistryApi {
    #[tracing::instrument(skip_all)]
    async fn who_am_i(
        &self,
        request: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::WhoAmIResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let org = reg::get_organisation(&self.workflow.store, &caller.organisation_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| Status::not_found("caller organisation vanished"))?;
        Ok(Response::new(pb::WhoAmIResponse {
            organisation: Some(organisation_to_pb(&org)),
            certificate_fingerprint: caller.certificate_fingerprint,
            officer: caller.officer.unwrap_or_default(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn create_organisation(
        &self,
        request: Request<pb::CreateOrganisationRequest>,
    ) -> Result<Response<pb::Organisation>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let id = organisation_id("id", &req.id)?;
        let name = organisation_name(&req.name).map_err(|e| invalid("name", e))?;
        let province =
            Province::parse(&req.province).map_err(|e| invalid("province", e.to_string()))?;
        let mut roles = Vec::new();
        for (i, r) in req.roles.iter().enumerate() {
            let role = role_from_pb(*r)
                .ok_or_else(|| invalid(&format!("roles[{i}]"), "unknown or unspecified role"))?;
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
        if roles.is_empty() {
            return Err(invalid("roles", "an organisation holds at least one role"));
        }
        roles_fit_province(&roles, &province).map_err(|e| invalid("province", e))?;
        let parent = match req.parent_id.as_str() {
            "" => None,
            raw => Some(organisation_id("parent_id", raw)?),
        };
        let contacts = super::contacts::contacts_from_pb(&roles, &req.contacts)?;
        let new = NewOrganisation {
            id,
            name: name.to_owned(),
            roles,
            province,
            parent,
            contacts,
        };
        let row = self.workflow.create_organisation(&caller, new).await?;
        Ok(Response::new(organisation_to_pb(&row)))
    }

    #[tracing::instrument(skip_all)]
    async fn get_organisation(
        &self,
        request: Request<pb::GetOrganisationRequest>,
    ) -> Result<Response<pb::Organisation>, Status> {
        let caller = Caller::from_request(&request)?;
        let org = self
            .addressed_organisation(&caller, "id", &request.get_ref().id)
            .await?;
        Ok(Response::new(organisation_to_pb(&org)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_organisations(
        &self,
        request: Request<pb::ListOrganisationsRequest>,
    ) -> Result<Response<pb::ListOrganisationsResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let (size, after_id) = page(req.page.as_ref())?;
        let role = match req.role {
            0 => None,
            r => Some(role_from_pb(r).ok_or_else(|| invalid("role", "unknown role"))?),
        };
        let mut province = match req.province.as_str() {
            "" => None,
            p => Some(
                Province::parse(p)
                    .map_err(|e| invalid("province", e.to_string()))?
                    .to_string(),
            ),
        };
        province = listing_province(&caller, province)?;
        let filter = OrganisationFilter {
            role,
            province,
            after_id,
        };
        let rows = reg::list_organisations(&self.workflow.store, &filter, size)
            .await
            .map_err(internal)?;
        Ok(Response::new(pb::ListOrganisationsResponse {
            next_page_token: next_page_token(rows.len(), size, rows.last().map(|o| o.id.as_str())),
            organisations: rows.iter().map(organisation_to_pb).collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn set_organisation_enabled(
        &self,
        request: Request<pb::SetOrganisationEnabledRequest>,
    ) -> Result<Response<pb::Organisation>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let id = organisation_id("id", &req.id)?;
        let reason = if req.enabled {
            req.reason.trim().to_owned()
        } else {
            required_reason("reason", &req.reason)?
        };
        let org = self
            .workflow
            .set_organisation_enabled(&caller, &id, req.enabled, &reason)
            .await?;
        Ok(Response::new(organisation_to_pb(&org)))
    }

    #[tracing::instrument(skip_all)]
    async fn set_protection_mark(
        &self,
        request: Request<pb::SetProtectionMarkRequest>,
    ) -> Result<Response<pb::Organisation>, Status> {
        let caller = Caller::from_request(&request)?;
        let org = self
            .set_protection_mark(&caller, request.into_inner())
            .await?;
        Ok(Response::new(org))
    }

    #[tracing::instrument(skip_all)]
    async fn update_contacts(
        &self,
        request: Request<pb::UpdateContactsRequest>,
    ) -> Result<Response<pb::Organisation>, Status> {
        let caller = Caller::from_request(&request)?;
        let org = self.update_contacts(&caller, request.into_inner()).await?;
        Ok(Response::new(org))
    }

    #[tracing::instrument(skip_all)]
    async fn list_contact_changes(
        &self,
        request: Request<pb::ListContactChangesRequest>,
    ) -> Result<Response<pb::ListContactChangesResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let changes = self
            .list_contact_changes(&caller, request.into_inner())
            .await?;
        Ok(Response::new(changes))
    }

    #[tracing::instrument(skip_all)]
    async fn register_certificate(
        &self,
        request: Request<pb::RegisterCertificateRequest>,
    ) -> Result<Response<pb::Certificate>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let org = organisation_id("organisation_id", &req.organisation_id)?;
        let row = self
            .workflow
            .register_certificate(&caller, &org, &req.certificate_pem)
            .await?;
        Ok(Response::new(certificate_to_pb(&row)))
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_certificate(
        &self,
        request: Request<pb::RevokeCertificateRequest>,
    ) -> Result<Response<pb::Certificate>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let fingerprint = req.fingerprint.trim().to_ascii_lowercase();
        if fingerprint.len() != 64 || !fingerprint.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(invalid(
                "fingerprint",
                "the certificate's SHA-256 fingerprint: 64 hexadecimal digits",
            ));
        }
        let reason = required_reason("reason", &req.reason)?;
        let cert = self
            .workflow
            .revoke_certificate(&caller, &fingerprint, &reason)
            .await?;
        Ok(Response::new(certificate_to_pb(&cert)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_certificates(
        &self,
        request: Request<pb::ListCertificatesRequest>,
    ) -> Result<Response<pb::ListCertificatesResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let org = self
            .addressed_organisation(&caller, "organisation_id", &req.organisation_id)
            .await?;
        let (size, after) = page(req.page.as_ref())?;
        let rows = reg::list_certificates(&self.workflow.store, &org.id, &after, size)
            .await
            .map_err(internal)?;
        Ok(Response::new(pb::ListCertificatesResponse {
            next_page_token: next_page_token(
                rows.len(),
                size,
                rows.last().map(|c| c.fingerprint.as_str()),
            ),
            certificates: rows.iter().map(certificate_to_pb).collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn register_officer(
        &self,
        request: Request<pb::RegisterOfficerRequest>,
    ) -> Result<Response<pb::Officer>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let org = organisation_id("organisation_id", &req.organisation_id)?;
        let name = parse_name("name", &req.name)?;
        let display_name = req.display_name.trim();
        if display_name.is_empty() || display_name.chars().count() > 200 {
            return Err(invalid("display_name", "required, at most 200 characters"));
        }
        let row = self
            .workflow
            .register_officer(&caller, &org, name, display_name.to_owned())
            .await?;
        Ok(Response::new(officer_to_pb(&row)))
    }

    #[tracing::instrument(skip_all)]
    async fn set_officer_enabled(
        &self,
        request: Request<pb::SetOfficerEnabledRequest>,
    ) -> Result<Response<pb::Officer>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let org = organisation_id("organisation_id", &req.organisation_id)?;
        let name = parse_name("name", &req.name)?;
        let reason = if req.enabled {
            req.reason.trim().to_owned()
        } else {
            required_reason("reason", &req.reason)?
        };
        let officer = self
            .workflow
            .set_officer_enabled(&caller, &org, &name, req.enabled, &reason)
            .await?;
        Ok(Response::new(officer_to_pb(&officer)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_officers(
        &self,
        request: Request<pb::ListOfficersRequest>,
    ) -> Result<Response<pb::ListOfficersResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let org = self
            .addressed_organisation(&caller, "organisation_id", &req.organisation_id)
            .await?;
        let (size, after) = page(req.page.as_ref())?;
        let rows = reg::list_officers(&self.workflow.store, &org.id, &after, size)
            .await
            .map_err(internal)?;
        Ok(Response::new(pb::ListOfficersResponse {
            next_page_token: next_page_token(
                rows.len(),
                size,
                rows.last().map(|o| o.name.as_str()),
            ),
            officers: rows.iter().map(officer_to_pb).collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn register_officer_key(
        &self,
        request: Request<pb::RegisterOfficerKeyRequest>,
    ) -> Result<Response<pb::OfficerKey>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let organisation = organisation_id("organisation_id", &req.organisation_id)?;
        let kid = parse_name("kid", &req.kid)?;
        let readable = match req.algorithm.as_str() {
            "EdDSA" => {
                jsonwebtoken::DecodingKey::from_ed_pem(req.public_key_pem.as_bytes()).is_ok()
            }
            "ES256" => {
                jsonwebtoken::DecodingKey::from_ec_pem(req.public_key_pem.as_bytes()).is_ok()
            }
            _ => {
                return Err(invalid(
                    "algorithm",
                    "\"EdDSA\" (Ed25519) or \"ES256\" (P-256)",
                ));
            }
        };
        if !readable {
            return Err(invalid(
                "public_key_pem",
                format!("not a PEM public key for {}", req.algorithm),
            ));
        }
        let key = NewOfficerKey {
            organisation,
            kid,
            algorithm: req.algorithm.clone(),
            public_key_pem: req.public_key_pem.trim().to_owned(),
        };
        let row = self.workflow.register_officer_key(&caller, key).await?;
        Ok(Response::new(officer_key_to_pb(&row)))
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_officer_key(
        &self,
        request: Request<pb::RevokeOfficerKeyRequest>,
    ) -> Result<Response<pb::OfficerKey>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let org = organisation_id("organisation_id", &req.organisation_id)?;
        let kid = parse_name("kid", &req.kid)?;
        let reason = required_reason("reason", &req.reason)?;
        let key = self
            .workflow
            .revoke_officer_key(&caller, &org, &kid, &reason)
            .await?;
        Ok(Response::new(officer_key_to_pb(&key)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_officer_keys(
        &self,
        request: Request<pb::ListOfficerKeysRequest>,
    ) -> Result<Response<pb::ListOfficerKeysResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let org = self
            .addressed_organisation(&caller, "organisation_id", &req.organisation_id)
            .await?;
        let (size, after) = page(req.page.as_ref())?;
        let rows = reg::list_officer_keys(&self.workflow.store, &org.id, &after, size)
            .await
            .map_err(internal)?;
        Ok(Response::new(pb::ListOfficerKeysResponse {
            next_page_token: next_page_token(rows.len(), size, rows.last().map(|k| k.kid.as_str())),
            keys: rows.iter().map(officer_key_to_pb).collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn import_ownership_entries(
        &self,
        request: Request<pb::ImportOwnershipEntriesRequest>,
    ) -> Result<Response<pb::ImportOwnershipEntriesResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        Ok(Response::new(
            self.import_ownership(&caller, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn remove_ownership_entry(
        &self,
        request: Request<pb::RemoveOwnershipEntryRequest>,
    ) -> Result<Response<pb::OwnershipEntry>, Status> {
        let caller = Caller::from_request(&request)?;
        Ok(Response::new(
            self.remove_ownership(&caller, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn list_ownership_entries(
        &self,
        request: Request<pb::ListOwnershipEntriesRequest>,
    ) -> Result<Response<pb::ListOwnershipEntriesResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        Ok(Response::new(
            self.list_ownership(&caller, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn lookup_responsible(
        &self,
        request: Request<pb::LookupResponsibleRequest>,
    ) -> Result<Response<pb::LookupResponsibleResponse>, Status> {
        Caller::from_request(&request)?;
        Ok(Response::new(
            self.responsible_for(request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn list_pending_ownership_entries(
        &self,
        request: Request<pb::ListPendingOwnershipEntriesRequest>,
    ) -> Result<Response<pb::ListPendingOwnershipEntriesResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        Ok(Response::new(
            self.list_pending_ownership(&caller, request.into_inner())
                .await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn approve_ownership_entry(
        &self,
        request: Request<pb::DecideOwnershipEntryRequest>,
    ) -> Result<Response<pb::OwnershipEntry>, Status> {
        let caller = Caller::from_request(&request)?;
        Ok(Response::new(
            self.decide_ownership(&caller, request.into_inner(), true)
                .await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn refuse_ownership_entry(
        &self,
        request: Request<pb::DecideOwnershipEntryRequest>,
    ) -> Result<Response<pb::OwnershipEntry>, Status> {
        let caller = Caller::from_request(&request)?;
        Ok(Response::new(
            self.decide_ownership(&caller, request.into_inner(), false)
                .await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn register_signing_key(
        &self,
        request: Request<pb::RegisterSigningKeyRequest>,
    ) -> Result<Response<pb::SigningKey>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let org = organisation_id("organisation_id", &req.organisation_id)?;
        let row = self
            .workflow
            .register_signing_key(&caller, &org, &req.certificate_pem)
            .await?;
        Ok(Response::new(signing_key_to_pb(&row)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_signing_keys(
        &self,
        request: Request<pb::ListSigningKeysRequest>,
    ) -> Result<Response<pb::ListSigningKeysResponse>, Status> {
        Caller::from_request(&request)?;
        let req = request.into_inner();
        let org = match req.organisation_id.as_str() {
            "" => None,
            raw => Some(
                OrganisationId::parse(raw)
                    .map_err(|e| invalid("organisation_id", e.to_string()))?,
            ),
        };
        let (size, after) = page(req.page.as_ref())?;
        let rows = reg::list_signing_keys(
            &self.workflow.store,
            org.as_ref().map(|o| o.as_str()),
            &after,
            size,
        )
        .await
        .map_err(internal)?;
        Ok(Response::new(pb::ListSigningKeysResponse {
            next_page_token: next_page_token(
                rows.len(),
                size,
                rows.last().map(|k| k.key_id.as_str()),
            ),
            keys: rows.iter().map(signing_key_to_pb).collect(),
        }))
    }
}

fn signing_key_to_pb(k: &reg::SigningKeyRow) -> pb::SigningKey {
    pb::SigningKey {
        organisation_id: k.org_id.clone(),
        key_id: k.key_id.clone(),
        certificate_pem: k.certificate_pem.clone(),
        valid_from: Some(timestamp(k.valid_from)),
        valid_until: Some(timestamp(k.valid_until)),
        retired_at: optional_timestamp(k.retired_at),
    }
}
