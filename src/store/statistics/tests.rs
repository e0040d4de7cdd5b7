use super::*;
use crate::statistics::facts::dim;
use crate::statistics::rollup::cover;
use crate::store::Store;
use chrono::Datelike;
use chrono::NaiveDate;

async fn store(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    Store::connect(&url).await.expect("a SQLite store")
}

/// Commits one batch of `ports` (each a new threat) on `day`, as the intake does.
async fn batch(store: &Store, day: NaiveDate, ports: &[&str]) {
    let mut tally = Tally::new(day);
    let scopes = [NATIONAL.to_owned(), organisation_scope("vendor-bj")];
    for port in ports {
        tally.add(&scopes, dim::TOTAL, "", true);
        tally.add(&scopes, dim::CONTROL_PORT, port, true);
    }
    let mut tx = store.begin().await.unwrap();
    tally.commit(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
}

async fn count(store: &Store, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// (threats of `dim`/`item`) over `from..=to` for `scope`, as a statistics read sees it.
async fn read(store: &Store, scope: &str, from: NaiveDate, to: NaiveDate) -> Vec<(String, i64)> {
    let mut snapshot = store.read_snapshot().await.unwrap();
    let rolled = rolled_through(&mut snapshot).await.unwrap();
    let pending = pending(&mut snapshot, scope, day_key(from), day_key(to))
        .await
        .unwrap();
    let mut rows: Vec<(String, i64)> = sums(
        &mut snapshot,
        store.dialect(),
        scope,
        &cover(from, to, rolled),
        &pending,
    )
    .await
    .unwrap()
    .into_iter()
    .map(|r| (format!("{}/{}", r.dim, r.item), r.threats))
    .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn a_batch_counts_once_whether_pending_or_folded_and_a_rolled_day_reaches_the_roll_ups() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let d = NaiveDate::from_ymd_opt(2026, 11, 4).unwrap();
    let next = d.succ_opt().unwrap();
    batch(&store, d, &["TCP/80", "TCP/80", "UDP/53"]).await;
    batch(&store, d, &["TCP/80"]).await;
    batch(&store, next, &["TCP/443"]).await;
    // Nothing folded yet: the figures come from the pending batches alone.
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stat_counters").await, 0);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stat_pending").await, 3);
    let want = vec![
        ("port/TCP/443".to_owned(), 1),
        ("port/TCP/80".to_owned(), 3),
        ("port/UDP/53".to_owned(), 1),
        ("total/".to_owned(), 5),
    ];
    assert_eq!(read(&store, NATIONAL, d, next).await, want);
    assert_eq!(
        read(&store, NATIONAL, next, next).await[0],
        ("port/TCP/443".to_owned(), 1)
    );
    let daily_total = |rows: Vec<DayRow>| -> Vec<(i64, i64)> {
        let mut v: Vec<(i64, i64)> = rows.into_iter().map(|r| (r.day, r.threats)).collect();
        v.sort();
        v
    };
    let mut snapshot = store.read_snapshot().await.unwrap();
    let period = (day_key(d), day_key(next));
    let waiting = pending(&mut snapshot, NATIONAL, period.0, period.1)
        .await
        .unwrap();
    let before = daily(&mut snapshot, NATIONAL, &[dim::TOTAL], period, &waiting)
        .await
        .unwrap();
    drop(snapshot);
    assert_eq!(daily_total(before), [(day_key(d), 4), (day_key(next), 1)]);

    // Folded: the same figures, from the counters, one row per key and day.
    assert_eq!(fold(&store).await.unwrap(), 3);
    assert_eq!(fold(&store).await.unwrap(), 0);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stat_pending").await, 0);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM stat_counters WHERE scope = '*'"
        )
        .await,
        5,
        "total and two ports on the first day, total and one port on the next"
    );
    assert_eq!(read(&store, NATIONAL, d, next).await, want);
    assert_eq!(
        read(&store, &organisation_scope("vendor-bj"), d, next).await,
        want
    );

    // A day already rolled into weeks and months: its late batch reaches the roll-ups
    // when folded, and a period read from them counts it once.
    assert!(roll_up(&store, next).await.unwrap() >= 2);
    batch(&store, d, &["TCP/80"]).await;
    let month = (
        d.with_day(1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
    );
    let before = read(&store, NATIONAL, month.0, month.1).await;
    assert_eq!(fold(&store).await.unwrap(), 1);
    let after = read(&store, NATIONAL, month.0, month.1).await;
    assert_eq!(before, after);
    assert_eq!(after.last(), Some(&("total/".to_owned(), 6)));
    let (month_total,): (i64,) = sqlx::query_as(
        "SELECT threats FROM stat_rollups WHERE scope = '*' AND span = 'M' AND start = $1 \
         AND dim = 'total' AND item = ''",
    )
    .bind(day_key(month.0))
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(month_total, 6);
}
