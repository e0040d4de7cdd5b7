//! Art. 8 measures and what they act on, parsed once: a measure that exists has a known type,
//! 1 to [`MAX_TARGETS`] normalised targets, and only targets its paragraph allows.

use super::threat::indicator::{self, IndicatorError};

/// Targets per measure: a notice stays readable and its signature cheap to check.
pub const MAX_TARGETS: usize = 1000;

/// The paragraphs of Art. 8, numbered as in the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeasureType {
    /// 8(1): stop service for, or block, a resource. The only appealable type (Art. 10).
    StopServiceOrBlock = 1,
    /// 8(2): remove malware spreading from a network, system or site.
    RemoveMalware = 2,
    /// 8(3): rectify a vulnerability, backdoor or compromised service.
    Rectify = 3,
    /// 8(4): other necessary technical measures.
    Other = 4,
}

impl MeasureType {
    pub fn from_i32(n: i32) -> Option<MeasureType> {
        match n {
            1 => Some(MeasureType::StopServiceOrBlock),
            2 => Some(MeasureType::RemoveMalware),
            3 => Some(MeasureType::Rectify),
            4 => Some(MeasureType::Other),
            _ => None,
        }
    }
}

/// What a measure acts on, numbered as in the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Ip = 1,
    BroadbandAccount = 2,
    Domain = 3,
    Url = 4,
    EmailAccount = 5,
    PhoneNumber = 6,
    /// A network, system or site named in words (8(2)-(4)).
    System = 7,
}

impl TargetKind {
    pub fn from_i32(n: i32) -> Option<TargetKind> {
        match n {
            1 => Some(TargetKind::Ip),
            2 => Some(TargetKind::BroadbandAccount),
            3 => Some(TargetKind::Domain),
            4 => Some(TargetKind::Url),
            5 => Some(TargetKind::EmailAccount),
            6 => Some(TargetKind::PhoneNumber),
            7 => Some(TargetKind::System),
            _ => None,
        }
    }
}

/// One normalised target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasureTarget {
    kind: TargetKind,
    value: String,
}

impl MeasureTarget {
    pub fn kind(&self) -> TargetKind {
        self.kind
    }

    pub fn value(&self) -> &str {
        &self.value
    }
}

/// A measure with its targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measure {
    measure_type: MeasureType,
    targets: Vec<MeasureTarget>,
}

/// Why a measure is refused; [`MeasureError::field`] names the part of the measure at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeasureError {
    #[error("one of the measures of Art. 8(1)-(4)")]
    UnknownType,
    #[error("required")]
    TargetKindRequired { index: usize },
    #[error("{source}")]
    BadValue {
        index: usize,
        source: IndicatorError,
    },
    #[error("1 to 300 characters")]
    FreeTextLength { index: usize },
    #[error(
        "Art. 8(1) acts on an IP, broadband account, domain, URL, e-mail account or phone number"
    )]
    SystemUnderStopService { index: usize },
    #[error("a broadband account is blocked under Art. 8(1) only")]
    BroadbandOutsideStopService { index: usize },
    #[error("a measure names at least one target")]
    NoTargets,
    #[error("at most {MAX_TARGETS} targets per measure")]
    TooManyTargets,
}

impl MeasureError {
    /// The field at fault, relative to the measure (`targets[2].value`).
    pub fn field(&self) -> String {
        match self {
            MeasureError::UnknownType => "measure_type".into(),
            MeasureError::TargetKindRequired { index } => format!("targets[{index}].kind"),
            MeasureError::BadValue { index, .. }
            | MeasureError::FreeTextLength { index }
            | MeasureError::SystemUnderStopService { index }
            | MeasureError::BroadbandOutsideStopService { index } => {
                format!("targets[{index}].value")
            }
            MeasureError::NoTargets | MeasureError::TooManyTargets => "targets".into(),
        }
    }
}

impl Measure {
    /// Parses a measure as the contract numbers it: each target's value is normalised as at
    /// intake. Art. 8(1) acts on resources only; broadband accounts only under 8(1).
    ///
    /// # Errors
    /// The first [`MeasureError`] found, in field order.
    pub fn parse<'a>(
        measure_type: i32,
        targets: impl IntoIterator<Item = (i32, &'a str)>,
    ) -> Result<Measure, MeasureError> {
        let measure_type = MeasureType::from_i32(measure_type).ok_or(MeasureError::UnknownType)?;
        let stop_service = measure_type == MeasureType::StopServiceOrBlock;
        let mut parsed = Vec::new();
        for (index, (kind, raw)) in targets.into_iter().enumerate() {
            let kind =
                TargetKind::from_i32(kind).ok_or(MeasureError::TargetKindRequired { index })?;
            let bad = |source| MeasureError::BadValue { index, source };
            let value = match kind {
                TargetKind::Ip => indicator::ip(raw).map_err(bad)?,
                TargetKind::Domain => indicator::domain(raw).map_err(bad)?,
                TargetKind::Url => indicator::url(raw).map_err(bad)?,
                TargetKind::EmailAccount => indicator::email(raw).map_err(bad)?,
                TargetKind::PhoneNumber => indicator::phone(raw).map_err(bad)?,
                TargetKind::BroadbandAccount | TargetKind::System => {
                    let v = raw.trim();
                    if v.is_empty() || v.chars().count() > 300 {
                        return Err(MeasureError::FreeTextLength { index });
                    }
                    v.to_owned()
                }
            };
            if stop_service && kind == TargetKind::System {
                return Err(MeasureError::SystemUnderStopService { index });
            }
            if !stop_service && kind == TargetKind::BroadbandAccount {
                return Err(MeasureError::BroadbandOutsideStopService { index });
            }
            parsed.push(MeasureTarget { kind, value });
        }
        if parsed.is_empty() {
            return Err(MeasureError::NoTargets);
        }
        if parsed.len() > MAX_TARGETS {
            return Err(MeasureError::TooManyTargets);
        }
        Ok(Measure {
            measure_type,
            targets: parsed,
        })
    }

    pub fn measure_type(&self) -> MeasureType {
        self.measure_type
    }

    pub fn targets(&self) -> &[MeasureTarget] {
        &self.targets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_service_measure_normalises_its_resources() {
        let m = Measure::parse(
            1,
            [(1, " 198.51.99.1 "), (3, "Example.COM"), (2, " acct-7 ")],
        )
        .expect("a valid 8(1) measure");
        assert_eq!(m.measure_type(), MeasureType::StopServiceOrBlock);
        let values: Vec<&str> = m.targets().iter().map(MeasureTarget::value).collect();
        assert_eq!(values, ["198.51.99.1", "example.com", "acct-7"]);
    }

    #[test]
    fn a_system_is_not_a_target_of_article_8_1() {
        let e = Measure::parse(1, [(1, "198.51.99.1"), (7, "the mail system")]).unwrap_err();
        assert_eq!(e, MeasureError::SystemUnderStopService { index: 1 });
        assert_eq!(e.field(), "targets[1].value");
    }

    #[test]
    fn a_broadband_account_is_blocked_under_article_8_1_only() {
        let e = Measure::parse(3, [(2, "acct-7")]).unwrap_err();
        assert_eq!(e, MeasureError::BroadbandOutsideStopService { index: 0 });
        assert!(Measure::parse(3, [(7, "the mail system")]).is_ok());
    }

    #[test]
    fn an_unknown_type_or_kind_and_an_empty_or_oversized_list_are_refused() {
        assert_eq!(
            Measure::parse(0, [(1, "198.51.99.1")]),
            Err(MeasureError::UnknownType)
        );
        assert_eq!(
            Measure::parse(5, [(1, "198.51.99.1")]),
            Err(MeasureError::UnknownType)
        );
        assert_eq!(
            Measure::parse(1, [(0, "198.51.99.1")]).unwrap_err().field(),
            "targets[0].kind"
        );
        assert_eq!(Measure::parse(1, []), Err(MeasureError::NoTargets));
        let many: Vec<String> = (0..=MAX_TARGETS)
            .map(|i| format!("11.{}.{}.1", i / 256, i % 256))
            .collect();
        assert_eq!(
            Measure::parse(1, many.iter().map(|v| (1, v.as_str()))),
            Err(MeasureError::TooManyTargets)
        );
    }

    #[test]
    fn a_malformed_resource_names_its_target() {
        let e = Measure::parse(1, [(1, "198.51.99.1"), (1, "not an ip")]).unwrap_err();
        assert!(
            matches!(e, MeasureError::BadValue { index: 1, .. }),
            "{e:?}"
        );
        assert_eq!(e.field(), "targets[1].value");
    }
}
