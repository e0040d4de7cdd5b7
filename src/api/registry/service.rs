//! The RegistryService handlers: each checks its request in itself and calls the workflow.

use tonic::{Request, Response, Status};

use super::view::{certificate_to_pb, officer_key_to_pb, officer_to_pb, signing_key_to_pb};
use super::{
    RegistryApi, organisation_id, organisation_to_pb, parse_name, required_reason, role_from_pb,
};
use crate::api::{internal, invalid, next_page_token, page};
use crate::auth::Caller;
use crate::domain::organisation::{
    OrganisationId, Province, organisation_name, roles_fit_province,
};
use crate::pb;
use crate::pb::registry_service_server::RegistryService;
use crate::registry::credentials::NewOfficerKey;
use crate::registry::organisations::{NewOrganisation, listing_province};
use crate::store::registry::{self as reg, OrganisationFilter};

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
        let contacts = crate::api::contacts::contacts_from_pb(&roles, &req.contacts)?;
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
