//! Compliance accounting is pure enough to test here.

use super::*;

#[test]
fn reports_are_on_time_or_late_never_missing() {
    let c = report_counts((3, 1));
    assert_eq!((c.due, c.on_time, c.late, c.missing), (3, 2, 1, 0));
    assert_eq!(report_counts((0, 0)).on_time_rate, 1.0);
}

#[test]
fn duties_count_on_time_late_and_missing_but_not_pending() {
    let d = |due_at, met_at| DutyRow {
        org_id: "u".into(),
        due_at,
        met_at,
        not_disposed: 0,
    };
    let not_disposed = DutyRow {
        not_disposed: 1,
        ..d(10, Some(5))
    };
    let rows = [
        d(10, Some(5)),
        d(10, Some(10)),
        d(10, None),
        d(100, None),
        not_disposed,
    ];
    let c = counts(&rows.iter().collect::<Vec<_>>(), 50);
    assert_eq!(
        (c.due, c.on_time, c.late, c.missing, c.not_disposed),
        (4, 1, 1, 1, 1)
    );
    assert!((c.on_time_rate - 1.0 / 4.0).abs() < 1e-9);
    assert_eq!(counts(&[], 0).on_time_rate, 1.0);
    assert!(crate::domain::notice::on_time(
        Some(crate::domain::clock::from_micros(5)),
        crate::domain::clock::from_micros(10)
    ));
}
