//! RegistryService, protection marks (Art. 8(3); 2009 mechanism Art. 9(4), 19): which
//! organisations are protected systems and who is told of measures on their resources.

use tonic::Status;

use super::registry::{RegistryApi, organisation_to_pb};
use super::{internal, invalid, optional_timestamp};
use crate::auth::Caller;
use crate::domain::protection::{
    InformedKind, InformedParty, MarkError, ProtectedKind, ProtectionMark,
};
use crate::pb;
use crate::registry::marks::MarkRefused;

pub fn mark_to_pb(m: ProtectionMark) -> pb::ProtectionMark {
    pb::ProtectionMark {
        kind: m.kind as i32,
        sector: m.sector.unwrap_or(0),
        system_name: m.system_name,
        informed: m.informed.into_iter().map(party_to_pb).collect(),
        marked_at: optional_timestamp(Some(m.marked_at)),
        marked_by: m.marked_by,
    }
}

pub fn party_to_pb(p: InformedParty) -> pb::InformationalAddressee {
    pb::InformationalAddressee {
        kind: p.kind as i32,
        organisation_id: p.organisation_id,
        name: p.name,
        contact: p.contact,
    }
}

/// The pieces of a mark as given, each checked on its own; `marked_*` are filled by the caller.
fn mark_from_pb(m: &pb::ProtectionMark) -> Result<ProtectionMark, Status> {
    let kind = ProtectedKind::from_i32(m.kind).ok_or_else(|| {
        invalid(
            "mark.kind",
            "party or government organ, critical information infrastructure, or important information system (Art. 8(3))",
        )
    })?;
    let short = |field: &str, v: &str, max: usize| -> Result<String, Status> {
        let v = v.trim();
        if v.chars().count() > max {
            return Err(invalid(field, format!("at most {max} characters")));
        }
        Ok(v.to_owned())
    };
    let mut informed = Vec::with_capacity(m.informed.len());
    for (i, p) in m.informed.iter().enumerate() {
        let f = |x: &str| format!("mark.informed[{i}].{x}");
        let kind = InformedKind::from_i32(p.kind).ok_or_else(|| {
            invalid(
                &f("kind"),
                "SUPERIOR_AUTHORITY, CYBERSPACE_ADMINISTRATION or COMPETENT_DEPARTMENT",
            )
        })?;
        informed.push(InformedParty {
            kind,
            organisation_id: p.organisation_id.trim().to_owned(),
            name: short(&f("name"), &p.name, 300)?,
            contact: short(&f("contact"), &p.contact, 300)?,
        });
    }
    Ok(ProtectionMark {
        kind,
        sector: (m.sector != 0).then_some(m.sector),
        system_name: short("mark.system_name", &m.system_name, 300)?,
        informed,
        marked_at: 0,
        marked_by: String::new(),
    })
}

impl From<MarkRefused> for Status {
    fn from(e: MarkRefused) -> Status {
        match e {
            MarkRefused::UnknownInformed { index, .. } => invalid(
                &format!("mark.informed[{index}].organisation_id"),
                e.to_string(),
            ),
            MarkRefused::Storage(s) => internal(s),
        }
    }
}

impl RegistryApi {
    pub(super) async fn set_protection_mark(
        &self,
        caller: &Caller,
        req: pb::SetProtectionMarkRequest,
    ) -> Result<pb::Organisation, Status> {
        let org = self
            .addressed_organisation(caller, "organisation_id", &req.organisation_id)
            .await?;
        let mark = match &req.mark {
            None => None,
            Some(m) => {
                let mark = mark_from_pb(m)?;
                mark.check().map_err(|e| match e {
                    MarkError::SectorRequired
                    | MarkError::SectorNotAllowed
                    | MarkError::UnknownSector => invalid("mark.sector", e.to_string()),
                    MarkError::NameRequired { index } => {
                        invalid(&format!("mark.informed[{index}].name"), e.to_string())
                    }
                    MarkError::MissingInformed(_) => invalid("mark.informed", e.to_string()),
                })?;
                Some(mark)
            }
        };
        let org = self.workflow.set_protection_mark(caller, org, mark).await?;
        Ok(organisation_to_pb(&org))
    }
}
