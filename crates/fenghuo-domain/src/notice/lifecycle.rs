//! A notice's lifecycle as a state machine (Art. 8–10, 2009 mechanism Art. 9).
//!
//! A notice's state is derived from what has been recorded of it: receipt, per target a
//! result, a verification, a revocation and a lifting, and for an addressee off the
//! platform the offline notification. [`NoticeFacts::transition`] is the one place that
//! decides whether an event may be recorded in the state the notice is in; the disposal
//! workflows apply every event through it before they write, and store the state it gives.

use super::{NoticeKind, NoticeState, TargetFacts, must_report_lifting, state};

/// What is recorded of one notice, as the lifecycle reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeFacts {
    pub kind: NoticeKind,
    /// Whether the addressee is a unit on the platform (else: notified offline, Art. 8(3)).
    pub on_platform: bool,
    pub received: bool,
    pub notified_offline: bool,
    pub measure_type: i32,
    pub targets: Vec<TargetRecord>,
}

/// What is recorded of one target of a disposal notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRecord {
    pub target_id: String,
    pub reported: bool,
    pub verified: bool,
    /// The revocation notice that withdrew the measure on this target (Art. 10).
    pub revoked_by: Option<String>,
    pub lifted: bool,
}

/// Something that happens to a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeEvent<'a> {
    /// The addressee acknowledges receipt (送达).
    Receive,
    /// The addressee reports a result for a target (Art. 9; 2009 mechanism Art. 9(2)).
    ReportResult { target_id: &'a str },
    /// The identifying institution verifies a reported result (Art. 9).
    Verify { target_id: &'a str },
    /// The regulator revokes the measure on a target (Art. 10).
    Revoke {
        target_id: &'a str,
        revocation_id: &'a str,
    },
    /// The addressee reports a revoked measure lifted (Art. 10).
    Lift { target_id: &'a str },
    /// The regulator records that it told an addressee off the platform (Art. 8(3)).
    NotifyOffline,
}

/// Why an event cannot be recorded in the notice's current state: one variant per rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("results are reported on disposal notices only")]
    ResultsOnDisposalOnly,
    #[error("acknowledge receipt (送达) before reporting results (AcknowledgeReceipt)")]
    ReceiptFirst,
    #[error("not a target of this notice")]
    NotATarget { target_id: String },
    #[error("revoked by notice {by}: report it lifted instead (ReportLifted)")]
    TargetRevoked { target_id: String, by: String },
    #[error("the addressee has not reported a result to verify yet")]
    NoResult { target_id: String },
    #[error("only a disposal notice can be revoked")]
    RevokeDisposalOnly,
    #[error("already revoked by notice {by}")]
    AlreadyRevoked { target_id: String, by: String },
    #[error("only revoked Art. 8(1) and 8(4) measures are reported lifted")]
    NothingToLift,
    #[error("this target is still in force: only a revoked measure is lifted")]
    NotRevoked { target_id: String },
    #[error(
        "only an informational notice (Art. 8(3), public security) to an addressee off the platform is notified offline"
    )]
    NotOffline,
    #[error("the addressee off the platform has been notified already")]
    AlreadyNotifiedOffline,
}

impl NoticeFacts {
    /// The state these facts give.
    pub fn state(&self) -> NoticeState {
        let targets: Vec<TargetFacts> = self
            .targets
            .iter()
            .map(|t| TargetFacts {
                reported: t.reported,
                verified: t.verified,
                revoked: t.revoked_by.is_some(),
                lifted: t.lifted,
            })
            .collect();
        state(
            self.kind,
            self.on_platform,
            self.received,
            self.notified_offline,
            self.measure_type,
            &targets,
        )
    }

    /// The record of the target `target_id`, if it is one of this notice's.
    pub fn target(&self, target_id: &str) -> Option<&TargetRecord> {
        self.targets.iter().find(|t| t.target_id == target_id)
    }

    /// The targets whose measure is in force (not revoked).
    pub fn in_force(&self) -> impl Iterator<Item = &TargetRecord> {
        self.targets.iter().filter(|t| t.revoked_by.is_none())
    }

    /// The revoked targets not yet reported lifted.
    pub fn awaiting_lift(&self) -> impl Iterator<Item = &TargetRecord> {
        self.targets
            .iter()
            .filter(|t| t.revoked_by.is_some() && !t.lifted)
    }

    /// Art. 10: only a disposal notice's measure is revoked.
    ///
    /// # Errors
    /// [`TransitionError::RevokeDisposalOnly`].
    pub fn may_revoke(&self) -> Result<(), TransitionError> {
        if self.kind == NoticeKind::Disposal {
            Ok(())
        } else {
            Err(TransitionError::RevokeDisposalOnly)
        }
    }

    /// Art. 10: only a revoked 8(1) or 8(4) measure is reported lifted.
    ///
    /// # Errors
    /// [`TransitionError::NothingToLift`].
    pub fn may_lift(&self) -> Result<(), TransitionError> {
        if must_report_lifting(self.measure_type) {
            Ok(())
        } else {
            Err(TransitionError::NothingToLift)
        }
    }

    fn target_mut(&mut self, target_id: &str) -> Result<&mut TargetRecord, TransitionError> {
        self.targets
            .iter_mut()
            .find(|t| t.target_id == target_id)
            .ok_or_else(|| TransitionError::NotATarget {
                target_id: target_id.to_owned(),
            })
    }

    /// Records `event` if the rules allow it in the current state, and returns the new state.
    /// Recording again what is recorded already (a second receipt, a new result for a
    /// reported target, a lifted target lifted again) keeps the state.
    ///
    /// # Errors
    /// [`TransitionError`] naming the rule the event breaks; the facts are then unchanged.
    pub fn transition(&mut self, event: NoticeEvent<'_>) -> Result<NoticeState, TransitionError> {
        match event {
            NoticeEvent::Receive => self.received = true,
            NoticeEvent::ReportResult { target_id } => {
                if self.kind != NoticeKind::Disposal {
                    return Err(TransitionError::ResultsOnDisposalOnly);
                }
                if !self.received {
                    return Err(TransitionError::ReceiptFirst);
                }
                let t = self.target_mut(target_id)?;
                if let Some(by) = &t.revoked_by {
                    return Err(TransitionError::TargetRevoked {
                        target_id: target_id.to_owned(),
                        by: by.clone(),
                    });
                }
                t.reported = true;
            }
            NoticeEvent::Verify { target_id } => {
                let t = self.target_mut(target_id)?;
                if !t.reported {
                    return Err(TransitionError::NoResult {
                        target_id: target_id.to_owned(),
                    });
                }
                t.verified = true;
            }
            NoticeEvent::Revoke {
                target_id,
                revocation_id,
            } => {
                self.may_revoke()?;
                let t = self.target_mut(target_id)?;
                if let Some(by) = &t.revoked_by {
                    return Err(TransitionError::AlreadyRevoked {
                        target_id: target_id.to_owned(),
                        by: by.clone(),
                    });
                }
                t.revoked_by = Some(revocation_id.to_owned());
            }
            NoticeEvent::Lift { target_id } => {
                self.may_lift()?;
                let t = self.target_mut(target_id)?;
                if t.revoked_by.is_none() {
                    return Err(TransitionError::NotRevoked {
                        target_id: target_id.to_owned(),
                    });
                }
                t.lifted = true;
            }
            NoticeEvent::NotifyOffline => {
                if self.kind != NoticeKind::Informational || self.on_platform {
                    return Err(TransitionError::NotOffline);
                }
                if self.notified_offline {
                    return Err(TransitionError::AlreadyNotifiedOffline);
                }
                self.notified_offline = true;
            }
        }
        Ok(self.state())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disposal(measure_type: i32, targets: &[&str]) -> NoticeFacts {
        NoticeFacts {
            kind: NoticeKind::Disposal,
            on_platform: true,
            received: false,
            notified_offline: false,
            measure_type,
            targets: targets
                .iter()
                .map(|id| TargetRecord {
                    target_id: (*id).to_owned(),
                    reported: false,
                    verified: false,
                    revoked_by: None,
                    lifted: false,
                })
                .collect(),
        }
    }

    #[test]
    fn a_blocking_notice_goes_from_issue_through_results_and_verification() {
        use NoticeEvent::*;
        let mut n = disposal(1, &["a", "b"]);
        assert_eq!(n.state(), NoticeState::Issued);
        assert_eq!(
            n.transition(ReportResult { target_id: "a" }),
            Err(TransitionError::ReceiptFirst)
        );
        assert_eq!(n.transition(Receive), Ok(NoticeState::Received));
        assert_eq!(n.transition(Receive), Ok(NoticeState::Received));
        assert_eq!(
            n.transition(Verify { target_id: "a" }),
            Err(TransitionError::NoResult {
                target_id: "a".into()
            })
        );
        assert_eq!(
            n.transition(ReportResult { target_id: "a" }),
            Ok(NoticeState::Received)
        );
        assert_eq!(
            n.transition(ReportResult { target_id: "b" }),
            Ok(NoticeState::ResultsReported)
        );
        assert_eq!(
            n.transition(ReportResult { target_id: "c" }),
            Err(TransitionError::NotATarget {
                target_id: "c".into()
            })
        );
        assert_eq!(
            n.transition(Verify { target_id: "a" }),
            Ok(NoticeState::ResultsReported)
        );
        assert_eq!(
            n.transition(Verify { target_id: "b" }),
            Ok(NoticeState::Verified)
        );
    }

    #[test]
    fn a_revoked_blocking_is_lifted_target_by_target_and_takes_no_more_results() {
        use NoticeEvent::*;
        let mut n = disposal(1, &["a", "b"]);
        n.transition(Receive).expect("receipt");
        assert_eq!(
            n.transition(Lift { target_id: "a" }),
            Err(TransitionError::NotRevoked {
                target_id: "a".into()
            })
        );
        let revoke = |target_id| Revoke {
            target_id,
            revocation_id: "r1",
        };
        assert_eq!(n.transition(revoke("a")), Ok(NoticeState::Received));
        assert_eq!(
            n.transition(revoke("a")),
            Err(TransitionError::AlreadyRevoked {
                target_id: "a".into(),
                by: "r1".into()
            })
        );
        assert_eq!(
            n.transition(ReportResult { target_id: "a" }),
            Err(TransitionError::TargetRevoked {
                target_id: "a".into(),
                by: "r1".into()
            })
        );
        assert_eq!(n.transition(revoke("b")), Ok(NoticeState::Revoked));
        assert_eq!(
            n.transition(Lift { target_id: "a" }),
            Ok(NoticeState::Revoked)
        );
        assert_eq!(
            n.transition(Lift { target_id: "b" }),
            Ok(NoticeState::Lifted)
        );
    }

    #[test]
    fn removal_and_rectification_have_nothing_to_lift_and_only_disposal_notices_are_revoked() {
        use NoticeEvent::*;
        let mut removal = disposal(2, &["a"]);
        removal
            .transition(Revoke {
                target_id: "a",
                revocation_id: "r",
            })
            .expect("a removal can be revoked");
        assert_eq!(removal.state(), NoticeState::Lifted);
        assert_eq!(
            removal.transition(Lift { target_id: "a" }),
            Err(TransitionError::NothingToLift)
        );
        let mut revocation = NoticeFacts {
            kind: NoticeKind::Revocation,
            ..disposal(1, &[])
        };
        assert_eq!(
            revocation.transition(Revoke {
                target_id: "a",
                revocation_id: "r"
            }),
            Err(TransitionError::RevokeDisposalOnly)
        );
        assert_eq!(
            revocation.transition(ReportResult { target_id: "a" }),
            Err(TransitionError::ResultsOnDisposalOnly)
        );
    }

    #[test]
    fn only_an_informational_notice_off_the_platform_is_notified_offline_and_only_once() {
        let mut off = NoticeFacts {
            kind: NoticeKind::Informational,
            on_platform: false,
            ..disposal(3, &[])
        };
        assert_eq!(off.state(), NoticeState::AwaitingOfflineNotification);
        assert_eq!(
            off.transition(NoticeEvent::NotifyOffline),
            Ok(NoticeState::NotifiedOffline)
        );
        assert_eq!(
            off.transition(NoticeEvent::NotifyOffline),
            Err(TransitionError::AlreadyNotifiedOffline)
        );
        let mut on = NoticeFacts {
            on_platform: true,
            notified_offline: false,
            ..off.clone()
        };
        assert_eq!(
            on.transition(NoticeEvent::NotifyOffline),
            Err(TransitionError::NotOffline)
        );
        let mut ordered = disposal(1, &["a"]);
        ordered.on_platform = false;
        assert_eq!(
            ordered.transition(NoticeEvent::NotifyOffline),
            Err(TransitionError::NotOffline)
        );
    }
}
