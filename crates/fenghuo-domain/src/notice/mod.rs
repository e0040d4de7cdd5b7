//! Disposal notices (Art. 8–9, 12): the rules that do not need a database.
//!
//! A notice's body is signed and immutable; its progress (receipt, results,
//! verification, revocation, lifting) is derived from facts recorded later.

pub mod lifecycle;

use chrono::{DateTime, Utc};

use super::organisation::Role;
use super::policy::{DeadlinePolicy, Document, Level, Step, TimeLimit, TimerKey};

/// The kind of a notice, as numbered in the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    Disposal = 1,
    Informational = 2,
    Revocation = 3,
}

/// A stored notice kind the contract does not define.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a notice kind")]
pub struct UnknownNoticeKind(pub i64);

impl TryFrom<i64> for NoticeKind {
    type Error = UnknownNoticeKind;

    fn try_from(n: i64) -> Result<Self, Self::Error> {
        match n {
            1 => Ok(NoticeKind::Disposal),
            2 => Ok(NoticeKind::Informational),
            3 => Ok(NoticeKind::Revocation),
            other => Err(UnknownNoticeKind(other)),
        }
    }
}

/// Progress of a notice, as numbered in the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeState {
    Issued = 1,
    AwaitingOfflineNotification = 2,
    NotifiedOffline = 3,
    Received = 4,
    ResultsReported = 5,
    Verified = 6,
    Revoked = 7,
    Lifted = 8,
}

/// What is known of one target of a disposal notice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetFacts {
    pub reported: bool,
    pub verified: bool,
    pub revoked: bool,
    pub lifted: bool,
}

/// The roles that can carry out a measure type (Art. 8), and how the rule reads; `None`:
/// any unit (8(3) rectification and 8(4) other measures name no provider).
pub fn addressee_roles(measure_type: i32) -> Option<(&'static [Role], &'static str)> {
    match measure_type {
        1 => Some((
            &[
                Role::BasicTelecom,
                Role::InternetEnterprise,
                Role::DomainRegistry,
                Role::DomainRegistrar,
            ],
            "Art. 8(1): stopping service or blocking is ordered to a basic telecom enterprise, internet enterprise, domain registry or registrar",
        )),
        2 => Some((
            &[Role::BasicTelecom, Role::InternetEnterprise],
            "Art. 8(2): malware is removed by the provider of the network, system or site (a basic telecom or internet enterprise)",
        )),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rule}; {addressee} is {roles}")]
pub struct AddresseeRoleError {
    pub rule: &'static str,
    pub addressee: String,
    pub roles: String,
}

/// Whether `addressee` with `roles` can carry out a measure of `measure_type`.
///
/// # Errors
/// [`AddresseeRoleError`] naming the rule of [`addressee_roles`].
pub fn check_addressee(
    measure_type: i32,
    addressee: &str,
    roles: &[Role],
) -> Result<(), AddresseeRoleError> {
    match addressee_roles(measure_type) {
        Some((fit, rule)) if !roles.iter().any(|r| fit.contains(r)) => Err(AddresseeRoleError {
            rule,
            addressee: addressee.to_owned(),
            roles: super::routing::role_list(roles),
        }),
        _ => Ok(()),
    }
}

/// Art. 10: a revoked 8(1) or 8(4) measure must be reported lifted; 8(2) and
/// 8(3) (removal, rectification) have nothing to lift.
pub fn must_report_lifting(measure_type: i32) -> bool {
    measure_type == 1 || measure_type == 4
}

/// The state shown for a notice, from its recorded facts.
pub fn state(
    kind: NoticeKind,
    on_platform: bool,
    received: bool,
    notified_offline: bool,
    measure_type: i32,
    targets: &[TargetFacts],
) -> NoticeState {
    if !on_platform {
        return if notified_offline {
            NoticeState::NotifiedOffline
        } else {
            NoticeState::AwaitingOfflineNotification
        };
    }
    if kind != NoticeKind::Disposal || targets.is_empty() {
        return if received {
            NoticeState::Received
        } else {
            NoticeState::Issued
        };
    }
    if targets.iter().all(|t| t.revoked) {
        let lifted = !must_report_lifting(measure_type) || targets.iter().all(|t| t.lifted);
        return if lifted {
            NoticeState::Lifted
        } else {
            NoticeState::Revoked
        };
    }
    let in_force = || targets.iter().filter(|t| !t.revoked);
    if !received {
        NoticeState::Issued
    } else if in_force().all(|t| t.verified) {
        NoticeState::Verified
    } else if in_force().all(|t| t.reported) {
        NoticeState::ResultsReported
    } else {
        NoticeState::Received
    }
}

/// The article a measure type stands on, when the decision names none.
pub fn default_legal_basis(measure_type: i32) -> &'static str {
    match measure_type {
        1 => {
            "Art. 8(1) of the Public Internet Cybersecurity Threat Monitoring and Disposal Measures (2017)"
        }
        2 => {
            "Art. 8(2) of the Public Internet Cybersecurity Threat Monitoring and Disposal Measures (2017)"
        }
        3 => {
            "Art. 8(3) of the Public Internet Cybersecurity Threat Monitoring and Disposal Measures (2017)"
        }
        _ => {
            "Art. 8(4) of the Public Internet Cybersecurity Threat Monitoring and Disposal Measures (2017)"
        }
    }
}

/// The policy level of an event grade (1 particularly serious … 4 general).
pub fn grade_level(grade: i64) -> Level {
    match grade {
        1 => Level::ParticularlySerious,
        2 => Level::Serious,
        3 => Level::Major,
        _ => Level::General,
    }
}

/// Default time limits of a disposal, from the deadline policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisposalLimits {
    /// To act and report (2009 mechanism Art. 9(2) "feedback"): 4 h for major
    /// and above, 5 working days for general events.
    pub disposal: TimeLimit,
    /// To acknowledge receipt (送达).
    pub receipt: TimeLimit,
    /// For the identifying institution to verify (2009 mechanism Art. 9(3)).
    pub verification: TimeLimit,
}

impl DisposalLimits {
    pub fn from_policy(
        policy: &DeadlinePolicy,
        province: &str,
        grade: i64,
        emergency: bool,
    ) -> DisposalLimits {
        let level = grade_level(grade);
        let key = |step| TimerKey::new(Document::Mechanism2009, level, step);
        let fallback = if level == Level::General {
            TimeLimit::WorkingDays(5)
        } else {
            TimeLimit::Hours(4)
        };
        DisposalLimits {
            disposal: policy
                .limit(province, key(Step::Feedback))
                .unwrap_or(fallback),
            receipt: policy
                .receipt_limit(province, level, emergency)
                .unwrap_or(TimeLimit::Hours(1)),
            verification: policy
                .limit(province, key(Step::Verification))
                .unwrap_or(fallback),
        }
    }
}

/// Receipt is due by the policy time and never after the deadline (issue 5).
pub fn receipt_due(receipt_by_policy: DateTime<Utc>, deadline: DateTime<Utc>) -> DateTime<Utc> {
    receipt_by_policy.min(deadline)
}

/// A duty missed at its due instant, recorded by its timer (Art. 12 records); numbered as the
/// contract's `NonComplianceKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissedDuty {
    /// The addressee did not acknowledge receipt: a delivery figure.
    Receipt = 1,
    /// A target's result was not reported (Art. 9).
    Result = 2,
    /// A revoked target was not reported lifted (Art. 10).
    Lift = 3,
    /// The identifying institution did not verify a reported result (2009 mechanism Art. 9(3)).
    Verification = 4,
    /// The issuer did not record telling an off-platform addressee (Art. 8(3); 2009 mechanism
    /// Art. 17).
    OfflineNotification = 5,
}

impl MissedDuty {
    pub const ALL: [MissedDuty; 5] = [
        MissedDuty::Receipt,
        MissedDuty::Result,
        MissedDuty::Lift,
        MissedDuty::Verification,
        MissedDuty::OfflineNotification,
    ];

    pub const fn as_i64(self) -> i64 {
        self as i64
    }

    pub fn from_i64(n: i64) -> Option<MissedDuty> {
        MissedDuty::ALL.into_iter().find(|d| d.as_i64() == n)
    }

    /// The kind of the durable timer that records this duty missed.
    pub const fn timer(self) -> &'static str {
        match self {
            MissedDuty::Receipt => "notice.receipt_due",
            MissedDuty::Result => "notice.result_due",
            MissedDuty::Lift => "notice.lift_due",
            MissedDuty::Verification => "notice.verification_due",
            MissedDuty::OfflineNotification => "notice.offline_notification_due",
        }
    }

    /// Art. 12 binds the units ordered to act: a missing result (Art. 9) or lift (Art. 10) is
    /// a breach an enforcement may cite; a missing receipt is a delivery figure (the Measures
    /// set no receipt duty), a missing verification the institution's KPI and a missing
    /// offline notification the issuing regulator's own duty.
    pub const fn is_art12_breach(self) -> bool {
        matches!(self, MissedDuty::Result | MissedDuty::Lift)
    }
}

/// Whether a stored non-compliance kind is an Art. 12 breach ([`MissedDuty::is_art12_breach`]).
pub fn is_art12_breach(non_compliance_kind: i64) -> bool {
    MissedDuty::from_i64(non_compliance_kind).is_some_and(MissedDuty::is_art12_breach)
}

/// Whether a duty met at `met` (or still open) was met on time for `due`.
pub fn on_time(met: Option<DateTime<Utc>>, due: DateTime<Utc>) -> bool {
    met.is_some_and(|m| m < due)
}

/// Art. 8(3): which informational addressees a protected system requires
/// (1 superior authority, 2 cyberspace administration, 3 competent department).
pub fn required_informational_kinds(protected_kind: i32) -> &'static [i32] {
    match protected_kind {
        1 | 2 => &[1, 2],
        3 => &[3],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_missed_results_and_lifts_are_art12_breaches_and_each_duty_has_its_own_timer() {
        let breaches: Vec<MissedDuty> = MissedDuty::ALL
            .into_iter()
            .filter(|d| d.is_art12_breach())
            .collect();
        assert_eq!(breaches, [MissedDuty::Result, MissedDuty::Lift]);
        assert!(is_art12_breach(2) && is_art12_breach(3));
        assert!(!is_art12_breach(1) && !is_art12_breach(4) && !is_art12_breach(0));
        let mut timers: Vec<&str> = MissedDuty::ALL.iter().map(|d| d.timer()).collect();
        timers.sort_unstable();
        timers.dedup();
        assert_eq!(timers.len(), MissedDuty::ALL.len());
        for d in MissedDuty::ALL {
            assert_eq!(MissedDuty::from_i64(d.as_i64()), Some(d));
        }
    }

    fn t(reported: bool, verified: bool, revoked: bool, lifted: bool) -> TargetFacts {
        TargetFacts {
            reported,
            verified,
            revoked,
            lifted,
        }
    }

    #[test]
    fn each_measure_type_accepts_only_addressees_that_can_carry_it_out() {
        assert!(check_addressee(1, "registrar-bj", &[Role::DomainRegistrar]).is_ok());
        let err = check_addressee(1, "party-gd", &[Role::AffectedParty]).unwrap_err();
        assert!(err.to_string().contains("Art. 8(1)"), "{err}");
        assert!(check_addressee(2, "registrar-bj", &[Role::DomainRegistrar]).is_err());
        assert!(check_addressee(2, "ie-gd", &[Role::InternetEnterprise]).is_ok());
        assert!(check_addressee(3, "party-gd", &[Role::AffectedParty]).is_ok());
    }

    #[test]
    fn a_disposal_notice_moves_through_receipt_results_and_verification() {
        let s = |received, targets: &[TargetFacts]| {
            state(NoticeKind::Disposal, true, received, false, 1, targets)
        };
        let fresh = [t(false, false, false, false); 2];
        assert_eq!(s(false, &fresh), NoticeState::Issued);
        assert_eq!(s(true, &fresh), NoticeState::Received);
        let one = [t(true, false, false, false), t(false, false, false, false)];
        assert_eq!(s(true, &one), NoticeState::Received);
        let both = [t(true, false, false, false); 2];
        assert_eq!(s(true, &both), NoticeState::ResultsReported);
        let verified = [t(true, true, false, false), t(false, false, true, false)];
        assert_eq!(s(true, &verified), NoticeState::Verified);
    }

    #[test]
    fn revocation_of_every_target_needs_lifting_only_for_blocking_and_other_measures() {
        let revoked = [t(true, false, true, false)];
        assert_eq!(
            state(NoticeKind::Disposal, true, true, false, 1, &revoked),
            NoticeState::Revoked
        );
        assert_eq!(
            state(NoticeKind::Disposal, true, true, false, 2, &revoked),
            NoticeState::Lifted
        );
        let lifted = [t(true, false, true, true)];
        assert_eq!(
            state(NoticeKind::Disposal, true, true, false, 4, &lifted),
            NoticeState::Lifted
        );
    }

    #[test]
    fn informational_notices_off_the_platform_wait_for_an_offline_record() {
        assert_eq!(
            state(NoticeKind::Informational, false, false, false, 3, &[]),
            NoticeState::AwaitingOfflineNotification
        );
        assert_eq!(
            state(NoticeKind::Informational, false, false, true, 3, &[]),
            NoticeState::NotifiedOffline
        );
        assert_eq!(
            state(NoticeKind::Informational, true, true, false, 3, &[]),
            NoticeState::Received
        );
    }

    #[test]
    fn limits_follow_the_grade_and_the_emergency_flag() {
        let p = DeadlinePolicy::shipped();
        let serious = DisposalLimits::from_policy(&p, "440000", 2, false);
        assert_eq!(serious.disposal, TimeLimit::Hours(4));
        assert_eq!(serious.receipt, TimeLimit::Hours(1));
        assert_eq!(serious.verification, TimeLimit::Hours(2));
        let general = DisposalLimits::from_policy(&p, "440000", 4, false);
        assert_eq!(general.disposal, TimeLimit::WorkingDays(5));
        assert_eq!(general.receipt, TimeLimit::WorkingDays(1));
        let emergency = DisposalLimits::from_policy(&p, "440000", 4, true);
        assert_eq!(emergency.receipt, TimeLimit::Hours(1));
    }

    #[test]
    fn receipt_is_never_due_after_the_deadline_and_on_time_means_before_due() {
        let now = Utc::now();
        let deadline = now + chrono::Duration::minutes(30);
        assert_eq!(
            receipt_due(now + chrono::Duration::hours(1), deadline),
            deadline
        );
        assert!(on_time(Some(now), deadline));
        assert!(!on_time(Some(deadline), deadline));
        assert!(!on_time(None, deadline));
    }
}
