//! RegistryService: organisations, certificates, officers and their keys.

use tonic::{Request, Response, Status};

use super::{
    internal, invalid, next_page_token, optional_timestamp, page, precondition, timestamp,
};
use crate::auth::Caller;
use crate::auth::policy::Scope;
use crate::domain::clock::{SharedClock, to_micros};
use crate::domain::organisation::{
    OrganisationId, Province, Role, organisation_name, roles_fit_province,
};
use crate::pb;
use crate::pb::registry_service_server::RegistryService;
use crate::pki::ClientCertificate;
use crate::store::registry::{
    self as reg, CertificateRow, OfficerKeyRow, OfficerRow, OrganisationFilter, OrganisationRow,
    is_unique_violation,
};
use crate::store::{Store, audit};

pub struct RegistryApi {
    pub store: Store,
    pub clock: SharedClock,
    /// Routes resources to the units responsible for them (Art. 9).
    pub router: std::sync::Arc<crate::ownership::OwnershipRouter>,
    /// The CA every registered client certificate must chain to.
    pub ca_pem: String,
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

impl RegistryApi {
    /// A certificate from the platform CA, naming `org`, not expired: what every
    /// registered certificate must be.
    fn organisation_certificate(
        &self,
        org: &OrganisationRow,
        pem: &str,
    ) -> Result<ClientCertificate, Status> {
        let cert = ClientCertificate::from_pem(pem)
            .map_err(|e| invalid("certificate_pem", e.to_string()))?;
        if cert.organisation.as_str() != org.id {
            return Err(invalid(
                "certificate_pem",
                format!(
                    "the certificate names organisation {} but the request registers it for {}",
                    cert.organisation, org.id
                ),
            ));
        }
        if !crate::pki::cert::issued_by(&cert.der, &self.ca_pem) {
            return Err(invalid(
                "certificate_pem",
                "the certificate was not issued by the platform CA",
            ));
        }
        if cert.not_after <= self.clock.now() {
            return Err(invalid(
                "certificate_pem",
                format!("the certificate expired at {}", cert.not_after.to_rfc3339()),
            ));
        }
        Ok(cert)
    }

    /// The organisation a request addresses, after the caller's scope is checked.
    pub(super) async fn addressed_organisation(
        &self,
        caller: &Caller,
        field: &str,
        raw: &str,
    ) -> Result<OrganisationRow, Status> {
        let id = OrganisationId::parse(raw).map_err(|e| invalid(field, e.to_string()))?;
        let org = reg::get_organisation(&self.store, id.as_str())
            .await
            .map_err(internal)?
            .ok_or_else(|| Status::not_found(format!("organisation {id} is not registered")))?;
        caller.check_organisation(&self.store, &org).await?;
        Ok(org)
    }

    /// Appends the audit record of the change made in `tx` and commits both.
    pub(super) async fn finish(
        &self,
        mut tx: crate::store::Tx,
        caller: &Caller,
        action: &str,
        subject: String,
        details: serde_json::Value,
    ) -> Result<(), Status> {
        audit::append(
            &mut tx,
            self.store.dialect(),
            self.clock.now(),
            &caller.actor(),
            action,
            &subject,
            details,
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)
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
        let org = reg::get_organisation(&self.store, &caller.organisation_id)
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
        let id = OrganisationId::parse(&req.id).map_err(|e| invalid("id", e.to_string()))?;
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
        // Only national authority creates authorities: a province cannot mint a second regulator.
        let authority = roles.iter().any(|r| {
            matches!(
                r,
                Role::NationalRegulator
                    | Role::ProvincialRegulator
                    | Role::Institution
                    | Role::PlatformOperator
            )
        });
        if authority && caller.scope != Scope::Allow {
            return Err(Status::permission_denied(
                "only the national regulator or the platform operator registers regulators, institutions and operators",
            ));
        }
        caller.check_scope(false, province.as_str(), &format!("province {province}"))?;
        let parent_id = if req.parent_id.is_empty() {
            None
        } else {
            let parent = OrganisationId::parse(&req.parent_id)
                .map_err(|e| invalid("parent_id", e.to_string()))?;
            if reg::get_organisation(&self.store, parent.as_str())
                .await
                .map_err(internal)?
                .is_none()
            {
                return Err(invalid(
                    "parent_id",
                    format!("organisation {parent} is not registered"),
                ));
            }
            Some(parent.to_string())
        };
        let contacts = super::contacts::contacts_from_pb(&roles, &req.contacts)?;
        let now = to_micros(self.clock.now());
        let creation = super::contacts::creation_change(id.as_str(), &contacts, now);
        let row = OrganisationRow {
            id: id.to_string(),
            name: name.to_owned(),
            roles: reg::roles_column(&roles),
            province: province.to_string(),
            parent_id,
            enabled: 1,
            contacts_json: serde_json::to_string(&contacts).map_err(internal)?,
            created_at: now,
            contacts_updated_at: (!contacts.is_empty()).then_some(now),
            contacts_effective_on: (!contacts.is_empty()).then(|| creation.effective_on.clone()),
            contacts_reported_late: 0,
            protection_json: String::new(),
        };
        let details = serde_json::json!({"name": row.name, "roles": row.roles, "province": row.province, "parent_id": row.parent_id});
        let mut tx = self.store.begin().await.map_err(internal)?;
        let _ = {
            let tx = &mut tx;
            reg::insert_organisation(tx, &row).await.map_err(|e| {
                if is_unique_violation(&e) {
                    Status::already_exists(format!("organisation {id} is already registered"))
                } else {
                    internal(e)
                }
            })
        }?;
        if !contacts.is_empty() {
            reg::insert_contact_change(&mut tx, &creation)
                .await
                .map_err(internal)?;
        }
        self.finish(
            tx,
            &caller,
            "registry.organisation.create",
            format!("organisation:{id}"),
            details,
        )
        .await?;
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
        if caller.scope == Scope::OwnProvince {
            match &province {
                Some(p) if *p != caller.province => {
                    return Err(Status::permission_denied(format!(
                        "{} may list only organisations of province {}",
                        caller.organisation_id, caller.province
                    )));
                }
                _ => province = Some(caller.province.clone()),
            }
        }
        let filter = OrganisationFilter {
            role,
            province,
            after_id,
        };
        let rows = reg::list_organisations(&self.store, &filter, size)
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
        let org = self.addressed_organisation(&caller, "id", &req.id).await?;
        let reason = if req.enabled {
            req.reason.trim().to_owned()
        } else {
            required_reason("reason", &req.reason)?
        };
        if org.id == caller.organisation_id && !req.enabled {
            return Err(precondition(
                "SELF_DISABLE",
                &format!("organisation:{}", org.id),
                "an organisation cannot disable itself",
            ));
        }
        let details = serde_json::json!({"enabled": req.enabled, "reason": reason});
        let action = if req.enabled {
            "registry.organisation.enable"
        } else {
            "registry.organisation.disable"
        };
        let mut tx = self.store.begin().await.map_err(internal)?;
        let _ = {
            let tx = &mut tx;
            reg::set_organisation_enabled(tx, &org.id, req.enabled)
                .await
                .map_err(internal)
        }?;
        self.finish(
            tx,
            &caller,
            action,
            format!("organisation:{}", org.id),
            details,
        )
        .await?;
        let org = reg::get_organisation(&self.store, &org.id)
            .await
            .map_err(internal)?
            .unwrap_or(org);
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
        let org = self
            .addressed_organisation(&caller, "organisation_id", &req.organisation_id)
            .await?;
        let cert = self.organisation_certificate(&org, &req.certificate_pem)?;
        let now = self.clock.now();
        let row = CertificateRow::new(&cert, &org.id, &req.certificate_pem, to_micros(now));
        let details = serde_json::json!({"organisation_id": org.id, "subject": row.subject, "not_after": cert.not_after.to_rfc3339()});
        let mut tx = self.store.begin().await.map_err(internal)?;
        let _ = {
            let tx = &mut tx;
            reg::insert_certificate(tx, &row).await.map_err(|e| {
                if is_unique_violation(&e) {
                    Status::already_exists(format!(
                        "certificate {} is already registered",
                        row.fingerprint
                    ))
                } else {
                    internal(e)
                }
            })
        }?;
        self.finish(
            tx,
            &caller,
            "registry.certificate.register",
            format!("certificate:{}", row.fingerprint),
            details,
        )
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
        let cert = reg::get_certificate(&self.store, &fingerprint)
            .await
            .map_err(internal)?
            .ok_or_else(|| {
                Status::not_found(format!("certificate {fingerprint} is not registered"))
            })?;
        self.addressed_organisation(&caller, "fingerprint", &cert.org_id)
            .await?;
        if let Some(at) = cert.revoked_at {
            return Err(precondition(
                "ALREADY_REVOKED",
                &format!("certificate:{fingerprint}"),
                format!(
                    "already revoked at {}",
                    crate::domain::clock::from_micros(at).to_rfc3339()
                ),
            ));
        }
        let now = to_micros(self.clock.now());
        let details = serde_json::json!({"organisation_id": cert.org_id, "reason": reason});
        let mut tx = self.store.begin().await.map_err(internal)?;
        let _ = {
            let tx = &mut tx;
            reg::revoke_certificate(tx, &fingerprint, &reason, now)
                .await
                .map_err(internal)
        }?;
        self.finish(
            tx,
            &caller,
            "registry.certificate.revoke",
            format!("certificate:{fingerprint}"),
            details,
        )
        .await?;
        let cert = reg::get_certificate(&self.store, &fingerprint)
            .await
            .map_err(internal)?
            .unwrap_or(cert);
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
        let rows = reg::list_certificates(&self.store, &org.id, &after, size)
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
        let org = self
            .addressed_organisation(&caller, "organisation_id", &req.organisation_id)
            .await?;
        let name = parse_name("name", &req.name)?;
        let display_name = req.display_name.trim();
        if display_name.is_empty() || display_name.chars().count() > 200 {
            return Err(invalid("display_name", "required, at most 200 characters"));
        }
        let row = OfficerRow {
            org_id: org.id.clone(),
            name,
            display_name: display_name.to_owned(),
            enabled: 1,
            registered_at: to_micros(self.clock.now()),
        };
        let subject = format!("officer:{}/{}", row.org_id, row.name);
        let details = serde_json::json!({"display_name": row.display_name});
        let mut tx = self.store.begin().await.map_err(internal)?;
        let _ = {
            let tx = &mut tx;
            reg::insert_officer(tx, &row).await.map_err(|e| {
                if is_unique_violation(&e) {
                    Status::already_exists(format!(
                        "officer {} of {} is already registered",
                        row.name, row.org_id
                    ))
                } else {
                    internal(e)
                }
            })
        }?;
        self.finish(tx, &caller, "registry.officer.register", subject, details)
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
        let org = self
            .addressed_organisation(&caller, "organisation_id", &req.organisation_id)
            .await?;
        let name = parse_name("name", &req.name)?;
        let reason = if req.enabled {
            req.reason.trim().to_owned()
        } else {
            required_reason("reason", &req.reason)?
        };
        let subject = format!("officer:{}/{name}", org.id);
        let action = if req.enabled {
            "registry.officer.enable"
        } else {
            "registry.officer.disable"
        };
        let details = serde_json::json!({"enabled": req.enabled, "reason": reason});
        let mut tx = self.store.begin().await.map_err(internal)?;
        let found = {
            let tx = &mut tx;
            reg::set_officer_enabled(tx, &org.id, &name, req.enabled)
                .await
                .map_err(internal)
        }?;
        self.finish(tx, &caller, action, subject, details).await?;
        if !found {
            return Err(Status::not_found(format!(
                "officer {name} of {} is not registered",
                org.id
            )));
        }
        let officer = reg::get_officer(&self.store, &org.id, &name)
            .await
            .map_err(internal)?
            .ok_or_else(|| {
                Status::not_found(format!("officer {name} of {} is not registered", org.id))
            })?;
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
        let rows = reg::list_officers(&self.store, &org.id, &after, size)
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
        let org = self
            .addressed_organisation(&caller, "organisation_id", &req.organisation_id)
            .await?;
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
        let row = OfficerKeyRow {
            org_id: org.id.clone(),
            kid,
            algorithm: req.algorithm.clone(),
            public_key_pem: req.public_key_pem.trim().to_owned(),
            registered_at: to_micros(self.clock.now()),
            revoked_at: None,
        };
        let subject = format!("officer_key:{}/{}", row.org_id, row.kid);
        let details =
            serde_json::json!({"algorithm": row.algorithm, "public_key_pem": row.public_key_pem});
        let mut tx = self.store.begin().await.map_err(internal)?;
        let _ = {
            let tx = &mut tx;
            reg::insert_officer_key(tx, &row).await.map_err(|e| {
                if is_unique_violation(&e) {
                    Status::already_exists(format!(
                        "key {} of {} is already registered",
                        row.kid, row.org_id
                    ))
                } else {
                    internal(e)
                }
            })
        }?;
        self.finish(
            tx,
            &caller,
            "registry.officer_key.register",
            subject,
            details,
        )
        .await?;
        Ok(Response::new(officer_key_to_pb(&row)))
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_officer_key(
        &self,
        request: Request<pb::RevokeOfficerKeyRequest>,
    ) -> Result<Response<pb::OfficerKey>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let org = self
            .addressed_organisation(&caller, "organisation_id", &req.organisation_id)
            .await?;
        let kid = parse_name("kid", &req.kid)?;
        let reason = required_reason("reason", &req.reason)?;
        let key = reg::get_officer_key(&self.store, &org.id, &kid)
            .await
            .map_err(internal)?
            .ok_or_else(|| {
                Status::not_found(format!("key {kid} of {} is not registered", org.id))
            })?;
        if key.revoked_at.is_some() {
            return Err(precondition(
                "ALREADY_REVOKED",
                &format!("officer_key:{}/{kid}", org.id),
                "already revoked",
            ));
        }
        let now = to_micros(self.clock.now());
        let details = serde_json::json!({"reason": reason});
        let mut tx = self.store.begin().await.map_err(internal)?;
        let _ = {
            let tx = &mut tx;
            reg::revoke_officer_key(tx, &org.id, &kid, now)
                .await
                .map_err(internal)
        }?;
        self.finish(
            tx,
            &caller,
            "registry.officer_key.revoke",
            format!("officer_key:{}/{kid}", org.id),
            details,
        )
        .await?;
        Ok(Response::new(officer_key_to_pb(&OfficerKeyRow {
            revoked_at: Some(now),
            ..key
        })))
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
        let rows = reg::list_officer_keys(&self.store, &org.id, &after, size)
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
        let org = self
            .addressed_organisation(&caller, "organisation_id", &req.organisation_id)
            .await?;
        if !org.roles().iter().any(|r| r.signs_documents()) {
            return Err(precondition(
                "NOT_A_REGULATOR",
                &format!("organisation:{}", org.id),
                "only regulators sign notices (Art. 8) and the institution its bulletins \
                 (2009 reporting measures Art. 19)",
            ));
        }
        let cert = self.organisation_certificate(&org, &req.certificate_pem)?;
        if !crate::pki::signing::is_ed25519(&cert.der) {
            return Err(invalid(
                "certificate_pem",
                "a notice-signing certificate carries an Ed25519 key",
            ));
        }
        let now = self.clock.now();
        let row = reg::SigningKeyRow {
            key_id: crate::pki::signing::key_id(&cert.der),
            org_id: org.id.clone(),
            certificate_pem: req.certificate_pem.trim().to_owned(),
            valid_from: to_micros(cert.not_before),
            valid_until: to_micros(cert.not_after),
            registered_at: to_micros(now),
            retired_at: None,
        };
        let mut tx = self.store.begin().await.map_err(internal)?;
        reg::insert_signing_key(&mut tx, &row).await.map_err(|e| {
            if is_unique_violation(&e) {
                Status::already_exists(format!("signing key {} is already registered", row.key_id))
            } else {
                internal(e)
            }
        })?;
        let details =
            serde_json::json!({"key_id": row.key_id, "not_after": cert.not_after.to_rfc3339()});
        self.finish(
            tx,
            &caller,
            "registry.signing_key.register",
            format!("organisation:{}", org.id),
            details,
        )
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
        let rows =
            reg::list_signing_keys(&self.store, org.as_ref().map(|o| o.as_str()), &after, size)
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
