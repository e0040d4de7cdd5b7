//! Standing to appeal (Art. 10 "相关组织或个人"): whoever holds the resource a measure acts
//! on, by the holder entries of the ownership registry.

use crate::domain::routing::RoutingTable;
use crate::pb::MeasureTargetKind as K;
use crate::store::{Store, ownership};

/// The organisation's holder entries of the ownership registry, as a table (one owner, so
/// its longest match is a containment test).
pub async fn own_table(store: &Store, org: &str) -> Result<RoutingTable, sqlx::Error> {
    let rows = ownership::holdings(store, Some(org)).await?;
    Ok(RoutingTable::build(
        rows.iter()
            .filter_map(crate::ownership::entry)
            .collect::<Vec<_>>(),
    ))
}

/// Whether a target (kind, value) lies in resources `org` holds (Art. 10 standing).
pub async fn registered_to(
    store: &Store,
    org: &str,
    kind: i64,
    value: &str,
) -> Result<bool, sqlx::Error> {
    let table = own_table(store, org).await?;
    let routed = match K::try_from(kind as i32).unwrap_or(K::Unspecified) {
        K::Ip => value.parse().ok().and_then(|ip| table.route_ip(ip)),
        K::Domain => table.route_domain(value),
        K::Url => table.route_url(value),
        K::EmailAccount => table.route_email(value),
        K::PhoneNumber => table.route_phone(value),
        _ => None,
    };
    Ok(routed.is_some_and(|r| r.owner == org))
}
