//! The country-range dataset (`fenghuo geo load`): versions, ranges, and the look-up the
//! intake's statistics make for a control server's IP.

use std::net::IpAddr;

use super::bulk::{self, SqlValue};
use super::{Store, Tx};

/// The dataset version in force, if any was loaded.
pub(super) async fn version(tx: &mut Tx) -> Result<Option<i64>, sqlx::Error> {
    let (v,): (Option<i64>,) = sqlx::query_as("SELECT MAX(version) FROM geo_datasets")
        .fetch_one(&mut **tx)
        .await?;
    Ok(v)
}

/// An address as stored in `geo_ranges`: 32 hex digits, IPv4 mapped into IPv6.
pub fn ip_key(ip: IpAddr) -> String {
    let v6 = match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    format!("{:032x}", u128::from(v6))
}

pub(super) async fn country_in(
    tx: &mut Tx,
    version: i64,
    ip: &str,
) -> Result<Option<String>, sqlx::Error> {
    let Ok(addr) = ip.parse::<IpAddr>() else {
        return Ok(None);
    };
    let key = ip_key(addr);
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT end_ip, country FROM geo_ranges WHERE version = $1 AND start_ip <= $2 \
         ORDER BY start_ip DESC LIMIT 1",
    )
    .bind(version)
    .bind(&key)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.filter(|(end, _)| *end >= key).map(|(_, c)| c))
}

/// A loaded country-range dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeoLoaded {
    pub version: i64,
    pub ranges: usize,
}

/// Stores `ranges` (start, end, country) as the new version in force, replacing the
/// previous ranges, with its audit record.
pub async fn load_geo(
    store: &Store,
    file_name: &str,
    sha256: &str,
    ranges: &[(IpAddr, IpAddr, String)],
    at: i64,
    actor: &super::audit::Actor,
) -> Result<GeoLoaded, sqlx::Error> {
    let mut tx = store.begin().await?;
    let version = version(&mut tx).await?.unwrap_or(0) + 1;
    sqlx::query("DELETE FROM geo_ranges")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO geo_datasets (version, file_name, sha256, ranges, loaded_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(version)
    .bind(file_name)
    .bind(sha256)
    .bind(ranges.len() as i64)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    let rows: Vec<Vec<SqlValue>> = ranges
        .iter()
        .map(|(s, e, c)| {
            vec![
                SqlValue::Int(version),
                SqlValue::Text(ip_key(*s)),
                SqlValue::Text(ip_key(*e)),
                SqlValue::Text(c.clone()),
            ]
        })
        .collect();
    bulk::insert(
        &mut tx,
        store.dialect(),
        "geo_ranges",
        &["version", "start_ip", "end_ip", "country"],
        rows,
    )
    .await?;
    super::audit::append_many(
        &mut tx,
        store.dialect(),
        crate::domain::clock::from_micros(at),
        &[super::audit::AuditEntry {
            actor: actor.clone(),
            action: "geo.load".into(),
            subject: format!("geo_dataset:{version}"),
            details: serde_json::json!({
                "file_name": file_name,
                "sha256": sha256,
                "ranges": ranges.len(),
            }),
        }],
    )
    .await?;
    tx.commit().await?;
    Ok(GeoLoaded {
        version,
        ranges: ranges.len(),
    })
}
