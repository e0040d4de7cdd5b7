//! Which measures lie on a resource (Art. 10 `ListMeasuresAgainst`), and whether
//! an organisation holds a resource (its standing to appeal).

use std::net::IpAddr;

use ipnet::IpNet;
use tonic::Status;

use super::{AppealApi, calendar_refusal};
use crate::api::calendar::date_to_pb;
use crate::api::disposal::view as notice_view;
use crate::api::{internal, invalid, next_page_token, page};
use crate::appeals::standing::{own_table, registered_to};
use crate::appeals::window;
use crate::auth::Caller;
use crate::auth::policy::Scope;
use crate::domain::organisation::Role;
use crate::domain::threat::indicator;
use crate::pb;
use crate::store::notices::{self, TargetRow};
use crate::store::{Store, appeals};

/// Candidates read per look-up; a resource with more measures than this is paged
/// over the newest.
const MAX_CANDIDATES: u32 = 10_000;

use pb::MeasureTargetKind as K;

/// The resource asked about, normalised.
enum Resource {
    Net(IpNet),
    Domain(String),
    Exact(i64, String),
}

fn resource(t: Option<&pb::MeasureTarget>) -> Result<Resource, Status> {
    let t = t.ok_or_else(|| invalid("resource", "required"))?;
    let field = "resource.value";
    let bad = |e: indicator::IndicatorError| invalid(field, e.to_string());
    Ok(match K::try_from(t.kind).unwrap_or(K::Unspecified) {
        K::Unspecified => return Err(invalid("resource.kind", "required")),
        K::Ip => match t.value.trim().parse::<IpNet>() {
            Ok(net) => Resource::Net(net.trunc()),
            Err(_) => {
                let ip: IpAddr = indicator::ip(&t.value)
                    .map_err(bad)?
                    .parse()
                    .map_err(|_| invalid(field, "an IP address or CIDR prefix"))?;
                Resource::Net(IpNet::from(ip))
            }
        },
        K::Domain => Resource::Domain(indicator::domain(&t.value).map_err(bad)?),
        K::Url => Resource::Exact(K::Url as i64, indicator::url(&t.value).map_err(bad)?),
        K::EmailAccount => Resource::Exact(
            K::EmailAccount as i64,
            indicator::email(&t.value).map_err(bad)?,
        ),
        K::PhoneNumber => Resource::Exact(
            K::PhoneNumber as i64,
            indicator::phone(&t.value).map_err(bad)?,
        ),
        k => {
            let v = t.value.trim();
            if v.is_empty() {
                return Err(invalid(field, "required"));
            }
            Resource::Exact(k as i64, v.to_owned())
        }
    })
}

fn within_domain(host: &str, domain: &str) -> bool {
    host == domain || host.ends_with(&format!(".{domain}"))
}

/// Whether a stored target lies on the resource.
fn matches(r: &Resource, t: &TargetRow) -> bool {
    let host = || {
        if t.kind == K::Url as i64 {
            indicator::url_host(&t.value)
        } else {
            None
        }
    };
    match r {
        Resource::Net(net) => {
            let ip = if t.kind == K::Ip as i64 {
                t.value.parse::<IpAddr>().ok()
            } else {
                host().and_then(|h| h.trim_matches(['[', ']']).parse().ok())
            };
            ip.is_some_and(|ip| net.contains(&ip))
        }
        Resource::Domain(d) => match t.kind {
            k if k == K::Domain as i64 => within_domain(&t.value, d),
            k if k == K::Url as i64 => host().is_some_and(|h| within_domain(&h, d)),
            k if k == K::EmailAccount as i64 => t
                .value
                .rsplit_once('@')
                .is_some_and(|(_, h)| within_domain(h, d)),
            _ => false,
        },
        Resource::Exact(kind, value) => t.kind == *kind && &t.value == value,
    }
}

fn candidate_kinds(r: &Resource) -> Vec<i64> {
    match r {
        Resource::Net(_) => vec![K::Ip as i64, K::Url as i64],
        Resource::Domain(_) => vec![K::Domain as i64, K::Url as i64, K::EmailAccount as i64],
        Resource::Exact(k, _) => vec![*k],
    }
}

/// Whether the whole resource lies in resources registered to `org`.
async fn resource_registered_to(
    store: &Store,
    org: &str,
    r: &Resource,
) -> Result<bool, sqlx::Error> {
    let table = own_table(store, org).await?;
    let mine = |route: Option<crate::domain::routing::Route>| route.is_some_and(|x| x.owner == org);
    Ok(match r {
        Resource::Net(net) => {
            mine(table.route_ip(net.network())) && mine(table.route_ip(net.broadcast()))
        }
        Resource::Domain(d) => mine(table.route_domain(d)),
        Resource::Exact(kind, value) => registered_to(store, org, *kind, value).await?,
    })
}

pub async fn measures_against(
    api: &AppealApi,
    caller: &Caller,
    req: pb::ListMeasuresAgainstRequest,
) -> Result<pb::ListMeasuresAgainstResponse, Status> {
    let (size, after) = page(req.page.as_ref())?;
    let after: Option<(i64, i64)> = match after.as_str() {
        "" => None,
        t => Some(
            t.split_once(':')
                .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                .ok_or_else(|| invalid("page.page_token", "not a token this server issued"))?,
        ),
    };
    let r = resource(req.resource.as_ref())?;
    let store = api.store();
    let affected_party = caller.roles.contains(&Role::AffectedParty);
    let (addressee, province) = match caller.scope {
        Scope::Allow => (None, None),
        Scope::OwnProvince => (None, Some(caller.province.as_str())),
        // A holder of the whole resource, whatever its role, sees every measure on it (Art. 10).
        _ if resource_registered_to(store, &caller.organisation_id, &r)
            .await
            .map_err(internal)? =>
        {
            (None, None)
        }
        _ if affected_party => {
            return Err(Status::permission_denied(format!(
                "{} may look up only resources it holds (RegistryService.ImportOwnershipEntries, relation HOLDER)",
                caller.organisation_id
            )));
        }
        _ => (Some(caller.organisation_id.as_str()), None),
    };
    let candidates = notices::disposal_targets_of_kinds(
        store,
        &candidate_kinds(&r),
        addressee,
        province,
        MAX_CANDIDATES,
    )
    .await
    .map_err(internal)?;
    let matched: Vec<TargetRow> = candidates
        .into_iter()
        .filter(|t| matches(&r, t))
        .filter(|t| req.include_inactive || t.revocation_notice_id.is_none())
        .collect();
    let mut ids: Vec<String> = matched.iter().map(|t| t.notice_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let notices = notices::notices_by_id(store, &ids)
        .await
        .map_err(internal)?;
    let by_id: std::collections::HashMap<&str, &notices::NoticeRow> =
        notices.iter().map(|n| (n.id.as_str(), n)).collect();
    let open: Vec<_> = appeals::on_notices(store, &ids)
        .await
        .map_err(internal)?
        .into_iter()
        .filter(|a| a.state.is_open() && a.filer == caller.organisation_id)
        .collect();
    let mut tx = store.begin().await.map_err(internal)?;
    let calendar = crate::store::calendar::effective(&mut tx)
        .await
        .map_err(internal)?;
    drop(tx);
    let mut rows: Vec<((i64, i64), pb::MeasureOnResource)> = Vec::new();
    for t in &matched {
        let Some(n) = by_id.get(t.notice_id.as_str()) else {
            continue;
        };
        let key = (n.position, t.ordinal);
        // Newest first: positions descending, targets in order.
        if let Some((p, o)) = after
            && !(key.0 < p || (key.0 == p && key.1 > o))
        {
            continue;
        }
        let body = notice_view::body(n)?;
        let appealable = n.measure_type == pb::MeasureType::StopServiceOrBlock as i64;
        let w = if appealable {
            Some(
                window(&calendar, n, t)
                    .map_err(|e| calendar_refusal(&format!("target:{}", t.target_id), e))?,
            )
        } else {
            None
        };
        let standing = match (&t.revocation_notice_id, t.lifted_at) {
            (None, _) => pb::MeasureStanding::InForce,
            (Some(_), None) => pb::MeasureStanding::Revoked,
            (Some(_), Some(_)) => pb::MeasureStanding::Lifted,
        };
        rows.push((
            key,
            pb::MeasureOnResource {
                notice_id: n.id.clone(),
                target: body
                    .targets
                    .iter()
                    .find(|x| x.target_id == t.target_id)
                    .cloned(),
                measure_type: n.measure_type as i32,
                issuer_organisation_id: n.issuer.clone(),
                issued_at: Some(crate::api::timestamp(n.issued_at)),
                legal_basis: body.legal_basis.clone(),
                appealable,
                standing: standing as i32,
                appeal_window_closes_on: w.map(|w| date_to_pb(w.closes_on)),
                appeal_window_provisional: w.is_some_and(|w| w.provisional),
                open_appeal_id: open
                    .iter()
                    .find(|a| a.notice_id == n.id && a.target_id == t.target_id)
                    .map(|a| a.id.clone())
                    .unwrap_or_default(),
            },
        ));
    }
    rows.sort_by(|a, b| b.0.0.cmp(&a.0.0).then(a.0.1.cmp(&b.0.1)));
    rows.truncate(size as usize);
    let last = rows.last().map(|(k, _)| format!("{}:{}", k.0, k.1));
    Ok(pb::ListMeasuresAgainstResponse {
        next_page_token: next_page_token(rows.len(), size, last.as_deref()),
        measures: rows.into_iter().map(|(_, m)| m).collect(),
    })
}
