//! STIX 2.1 in and out: one mapping, both directions (docs/stix.md is its table).
//!
//! Pure but for [`service`]: JSON values in, contract messages out and back; no I/O, no
//! tonic, no sqlx. [`service`] holds the import and export workflows every edge calls.
//! [`export`] turns a visible sighting into the STIX objects that describe it;
//! [`import`] turns a bundle into the `SubmitThreatRequest`s the ordinary intake
//! validates, plus an answer for every object that is not a report.
//!
//! Ids are UUIDv5: fenghuo's objects under [`NAMESPACE`], cyber-observables under the
//! namespace the STIX 2.1 specification gives for them (section 2.9), so an export is
//! the same every time and an observable has the id any other producer would give it.

pub mod export;
pub mod import;
pub mod measures;
mod pattern;
pub mod service;

use chrono::{DateTime, SecondsFormat, Utc};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::domain::threat::Tlp;
use crate::pb;

/// fenghuo's UUIDv5 namespace for STIX ids (itself uuid5(URL, "urn:fenghuo:stix")).
pub const NAMESPACE: Uuid = Uuid::from_u128(0x330be356_f46f_5bd6_b413_46b902eaac28);
/// The namespace of SCO ids, STIX 2.1 section 2.9.
pub const SCO_NAMESPACE: Uuid = Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7);
/// The fenghuo extension: properties on sightings, and the `fenghuo-other-threat` SDO.
pub const EXTENSION_ID: &str = "extension-definition--231cbc98-c9e7-5787-a75f-0fecc33e2c3d";
/// The platform, as the creator of the extension definition.
pub const PLATFORM_IDENTITY: &str = "identity--5e2d3be0-4bc7-5b52-8636-146d6d2a91cd";
/// The SDO for Art. 2(5) "other" threats (STIX has no such object).
pub const OTHER_THREAT_TYPE: &str = "fenghuo-other-threat";
/// The TLP 2.0 extension of the OASIS common objects (cti-stix-common-objects).
pub const TLP2_EXTENSION_ID: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";
/// The marking an import gives a report whose object carries none.
pub const DEFAULT_TLP: Tlp = Tlp::Amber;

/// TLP 2.0 marking definitions as published by OASIS (cti-stix-common-objects,
/// extension-definition-specifications/tlp-2.0): (level, id, name, tlp_2_0 value).
const TLP2: [(Tlp, &str, &str, &str); 5] = [
    (
        Tlp::Clear,
        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        "TLP:CLEAR",
        "clear",
    ),
    (
        Tlp::Green,
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        "TLP:GREEN",
        "green",
    ),
    (
        Tlp::Amber,
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        "TLP:AMBER",
        "amber",
    ),
    (
        Tlp::AmberStrict,
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        "TLP:AMBER+STRICT",
        "amber+strict",
    ),
    (
        Tlp::Red,
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        "TLP:RED",
        "red",
    ),
];

/// TLP 1.0 markings predefined by STIX 2.1 (section 7.2.1.4); imports map them too.
const TLP1: [(Tlp, &str); 4] = [
    (
        Tlp::Clear,
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    ),
    (
        Tlp::Green,
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    ),
    (
        Tlp::Amber,
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    ),
    (
        Tlp::Red,
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
    ),
];

/// The TLP 2.0 marking-definition id of a level.
pub fn tlp_marking_id(tlp: Tlp) -> &'static str {
    TLP2.iter()
        .find(|(t, ..)| *t == tlp)
        .map(|e| e.1)
        .unwrap_or(TLP2[4].1)
}

/// The published marking-definition object of a TLP 2.0 level.
pub fn tlp_marking(tlp: Tlp) -> Value {
    let (_, id, name, value) = TLP2.iter().find(|(t, ..)| *t == tlp).unwrap_or(&TLP2[4]);
    json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": id,
        "created": "2022-10-01T00:00:00.000Z",
        "name": name,
        "extensions": {
            TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": value}
        }
    })
}

/// The level of a marking id that is one of the published TLP 1.0 or 2.0 markings.
pub fn tlp_of_marking_id(id: &str) -> Option<Tlp> {
    TLP2.iter()
        .map(|(t, i, ..)| (*t, *i))
        .chain(TLP1)
        .find(|(_, i)| *i == id)
        .map(|(t, _)| t)
}

/// The level a TLP name names: "amber+strict", "TLP:WHITE", "tlp:clear"...
pub fn tlp_of_name(name: &str) -> Option<Tlp> {
    let n = name.trim().to_ascii_lowercase();
    match n.strip_prefix("tlp:").unwrap_or(&n) {
        "clear" | "white" => Some(Tlp::Clear),
        "green" => Some(Tlp::Green),
        "amber" => Some(Tlp::Amber),
        "amber+strict" => Some(Tlp::AmberStrict),
        "red" => Some(Tlp::Red),
        _ => None,
    }
}

pub fn tlp_name(tlp: Tlp) -> &'static str {
    TLP2.iter()
        .find(|(t, ..)| *t == tlp)
        .map(|e| e.2)
        .unwrap_or("TLP:RED")
}

/// A fenghuo-derived STIX id: `<type>--uuid5(NAMESPACE, "<what>:<fenghuo id>")`.
pub fn derived_id(stix_type: &str, what: &str, fenghuo_id: &str) -> String {
    let u = Uuid::new_v5(&NAMESPACE, format!("{what}:{fenghuo_id}").as_bytes());
    format!("{stix_type}--{u}")
}

/// The key TAXII's object-id index keeps for a STIX id: the first 8 bytes of its UUID, big
/// endian. None for a string that is not `type--uuid`, which no stored object has.
pub fn object_key(id: &str) -> Option<i64> {
    let (_, uuid) = id.split_once("--")?;
    let uuid = Uuid::parse_str(uuid).ok()?;
    let bytes: [u8; 8] = uuid.as_bytes()[..8].try_into().ok()?;
    Some(i64::from_be_bytes(bytes))
}

/// An SCO id as STIX 2.1 section 2.9 derives it from the id-contributing properties.
pub fn sco_id(stix_type: &str, contributing: &Value) -> String {
    let canonical = canonical_json(contributing);
    format!(
        "{stix_type}--{}",
        Uuid::new_v5(&SCO_NAMESPACE, canonical.as_bytes())
    )
}

/// RFC 8785 for the values SCO ids use (strings and objects of them): keys sorted, no spaces.
fn canonical_json(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", Value::String((*k).clone()), canonical_json(&m[*k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        other => other.to_string(),
    }
}

/// A STIX timestamp: UTC, microseconds (fenghuo's precision), `Z`.
pub fn stix_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn parse_stix_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub fn from_timestamp(ts: &prost_types::Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).unwrap_or(0)).unwrap_or_default()
}

pub fn to_timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

fn descriptor(full_name: &str) -> Option<MessageDescriptor> {
    static POOL: std::sync::OnceLock<Option<DescriptorPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(pb::FILE_DESCRIPTOR_SET).ok())
        .as_ref()?
        .get_message_by_name(full_name)
}

/// A report in the protobuf JSON mapping with the proto's field names: how the
/// extension carries everything STIX has no property for, losslessly.
pub fn report_to_json(report: &pb::ThreatReport) -> Value {
    message_to_json("fenghuo.v1.ThreatReport", &report.encode_to_vec())
}

/// Any encoded message of the contract in the protobuf JSON mapping with the proto's field
/// names; Null when it does not decode.
pub fn message_to_json(full_name: &str, encoded: &[u8]) -> Value {
    let Some(desc) = descriptor(full_name) else {
        return Value::Null;
    };
    let Ok(msg) = DynamicMessage::decode(desc, encoded) else {
        return Value::Null;
    };
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .stringify_64_bit_integers(false);
    msg.serialize_with_options(serde_json::value::Serializer, &options)
        .unwrap_or(Value::Null)
}

/// The inverse of [`report_to_json`]; the error says what does not fit the contract.
pub fn report_from_json(v: &Value) -> Result<pb::ThreatReport, String> {
    let bytes = message_from_json("fenghuo.v1.ThreatReport", v)?;
    pb::ThreatReport::decode(bytes.as_slice()).map_err(|e| e.to_string())
}

/// Any message of the contract (e.g. "fenghuo.v1.StixImportDefaults") from the protobuf
/// JSON mapping, encoded; the error names what does not fit.
pub fn message_from_json(full_name: &str, v: &Value) -> Result<Vec<u8>, String> {
    let desc = descriptor(full_name).ok_or("the contract's descriptors are unavailable")?;
    let msg = DynamicMessage::deserialize(desc, v.clone()).map_err(|e| e.to_string())?;
    Ok(msg.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sco_ids_follow_the_specification_namespace() {
        // uuid5(00abedb4-..., '{"value":"198.51.100.7"}'), computed independently.
        assert_eq!(
            sco_id("ipv4-addr", &json!({"value": "198.51.100.7"})),
            "ipv4-addr--12592121-be4c-5a93-a813-5a5af16e50db"
        );
    }

    #[test]
    fn every_tlp_level_maps_to_its_published_marking_and_back() {
        for t in [
            Tlp::Clear,
            Tlp::Green,
            Tlp::Amber,
            Tlp::AmberStrict,
            Tlp::Red,
        ] {
            assert_eq!(tlp_of_marking_id(tlp_marking_id(t)), Some(t));
            assert_eq!(tlp_of_name(tlp_name(t)), Some(t));
        }
        assert_eq!(
            tlp_of_marking_id("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"),
            Some(Tlp::Clear)
        );
    }

    #[test]
    fn a_report_survives_its_json_form() {
        let report = pb::ThreatReport {
            tlp: 2,
            kind: 1,
            follows_up_threat_id: "abc".into(),
            category: Some(pb::threat_report::Category::MaliciousProgram(
                pb::MaliciousProgram {
                    sha256: "ab".repeat(32),
                    size_bytes: u64::MAX,
                    ..Default::default()
                },
            )),
            ..Default::default()
        };
        let back = report_from_json(&report_to_json(&report)).unwrap();
        assert_eq!(back, report);
    }
}

#[cfg(test)]
mod mapping_tests;
