//! Bounded memory under hostile clients (issue #17 §4): the configured message size, the cap
//! on one organisation's intake streams, and the unacknowledged items an intake stream may
//! hold before the server stops reading it. (Feed buffers and slow readers: slow_readers.rs.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fenghuo::config::Settings;
use fenghuo::timers::TimerHandlers;
use fenghuo_client::pb;
use tokio_stream::StreamExt;
use tonic::Code;

use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app_configured};
use crate::threats::{ip, report};

/// Generous: these tests wait for conditions, never for speed.
const PATIENCE: Duration = Duration::from_secs(90);
const MAX_MESSAGE: usize = 64 * 1024;
const CAP: usize = 2;
const UNACKED: usize = 8;

async fn spawn(backend: Backend) -> Option<TestApp> {
    spawn_app_configured(
        backend,
        TimerHandlers::new(),
        Arc::new(|s: &mut Settings| {
            s.limits.max_message_bytes = MAX_MESSAGE;
            s.limits.http2_stream_window = 65_535;
            s.streams.max_per_organisation = CAP;
            s.streams.max_unacknowledged = UNACKED;
        }),
    )
    .await
}

fn request(app: &TestApp, i: usize) -> pb::SubmitThreatRequest {
    pb::SubmitThreatRequest {
        submission_id: format!("limits-{i}"),
        report: Some(report(
            app,
            pb::Tlp::Green,
            ip(&format!("45.72.{}.{}", i / 250 % 250, i % 250 + 1)),
        )),
    }
}

/// A report whose encoded size exceeds the configured message size.
fn oversized(app: &TestApp) -> pb::SubmitThreatRequest {
    let mut r = request(app, 0);
    if let Some(pb::threat_report::Information::Event(e)) =
        r.report.as_mut().unwrap().information.as_mut()
    {
        e.other = "x".repeat(MAX_MESSAGE + 1);
    }
    r
}

on_both_backends!(
    a_message_over_the_configured_size_is_out_of_range_naming_the_limit,
    an_organisation_holds_at_most_its_cap_of_open_intake_streams,
    an_intake_stream_whose_acknowledgements_are_not_read_is_no_longer_read_past_its_unacknowledged_bound,
);

async fn a_message_over_the_configured_size_is_out_of_range_naming_the_limit(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let vendor = app.client("vendor-bj").await;
    let err = vendor
        .threats()
        .submit_threat(oversized(&app))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err}");
    assert!(
        err.message()
            .contains(&format!("the limit is: {MAX_MESSAGE} bytes")),
        "{err}"
    );
    // On a stream: what came before is acknowledged, then the stream ends naming the item.
    let batches = vec![
        pb::SubmitThreatBatch {
            items: vec![request(&app, 1)],
        },
        pb::SubmitThreatBatch {
            items: vec![oversized(&app)],
        },
    ];
    let mut acks = vendor
        .threats()
        .submit_threat_batches(tokio_stream::iter(batches))
        .await
        .unwrap()
        .into_inner();
    let first = acks.next().await.unwrap().unwrap();
    assert_eq!(first.acks.len(), 1);
    assert_eq!(
        first.acks[0].outcome,
        pb::SubmissionOutcome::Accepted as i32
    );
    let err = acks.next().await.unwrap().unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err}");
    assert!(
        err.message()
            .contains("item 2 of the stream could not be read")
            && err
                .message()
                .contains(&format!("the limit is: {MAX_MESSAGE} bytes")),
        "{err}"
    );
}

async fn an_organisation_holds_at_most_its_cap_of_open_intake_streams(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let vendor = app.client("vendor-bj").await;
    // Request streams kept open: the calls stay open until their senders are dropped.
    let mut open = Vec::new();
    for _ in 0..CAP {
        let (tx, rx) = tokio::sync::mpsc::channel::<pb::SubmitThreatRequest>(1);
        let acks = vendor
            .threats()
            .submit_threat_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        open.push((tx, acks));
    }
    let err = vendor
        .threats()
        .submit_threat_batches(tokio_stream::pending::<pb::SubmitThreatBatch>())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err}");
    assert!(
        err.message().contains(&format!(
            "vendor-bj already holds {CAP} open intake streams"
        )),
        "{err}"
    );
    // Another organisation is not held back by this one.
    let (_cncert_tx, rx) = tokio::sync::mpsc::channel::<pb::SubmitThreatRequest>(1);
    app.client("cncert")
        .await
        .threats()
        .submit_threat_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap();
    // A stream that ends frees its place.
    let (tx, mut acks) = open.pop().unwrap();
    tx.send(request(&app, 1)).await.unwrap();
    drop(tx);
    assert!(acks.next().await.unwrap().is_ok());
    assert!(acks.next().await.is_none());
    tokio::time::timeout(PATIENCE, async {
        loop {
            match vendor
                .threats()
                .submit_threat_stream(tokio_stream::iter(vec![request(&app, 2)]))
                .await
            {
                Ok(_) => return,
                Err(e) if e.code() == Code::ResourceExhausted => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await
    .expect("the ended stream frees its place");
}

async fn an_intake_stream_whose_acknowledgements_are_not_read_is_no_longer_read_past_its_unacknowledged_bound(
    backend: Backend,
) {
    // Far more than the bound and every window on the way could hold.
    const OFFERED: usize = 100_000;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let pulled = Arc::new(AtomicUsize::new(0));
    let counted = pulled.clone();
    let template = request(&app, 0);
    let requests = tokio_stream::iter(0..OFFERED).map(move |i| {
        counted.fetch_add(1, Ordering::SeqCst);
        let mut r = template.clone();
        r.submission_id = format!("limits-{i}");
        if let Some(pb::threat_report::Category::MaliciousResource(m)) =
            r.report.as_mut().unwrap().category.as_mut()
        {
            m.value = format!("45.73.{}.{}", i / 250 % 250, i % 250 + 1);
        }
        r
    });
    let mut acks =
        pb::threat_service_client::ThreatServiceClient::new(app.narrow_channel("vendor-bj").await)
            .submit_threat_stream(requests)
            .await
            .unwrap()
            .into_inner();
    // The client is held back once the server stops reading: the count settles.
    let settled = tokio::time::timeout(PATIENCE, async {
        let mut last = (0, 0);
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = pulled.load(Ordering::SeqCst);
            last = if now == last.0 {
                (now, last.1 + 1)
            } else {
                (now, 0)
            };
            if now > 0 && last.1 >= 10 {
                return now;
            }
        }
    })
    .await
    .expect("the client is held back");
    // The bound (8), the server's queues and both 64 KiB windows: 1,568 here; with the
    // default bound of 4,096 it would be over 5,000.
    assert!(
        settled < 4_000,
        "{settled} items read without their acks being read"
    );
    // Reading the acknowledgements lets the client go on; every read item is stored once.
    let mut seen = std::collections::HashSet::new();
    tokio::time::timeout(PATIENCE, async {
        while seen.len() < settled + 1_000 {
            let ack = acks.next().await.unwrap().unwrap();
            assert_eq!(
                ack.outcome,
                pb::SubmissionOutcome::Accepted as i32,
                "{ack:?}"
            );
            assert!(seen.insert(ack.submission_id.clone()), "{ack:?} twice");
        }
    })
    .await
    .expect("acknowledgements flow once read");
    assert!(pulled.load(Ordering::SeqCst) > settled);
}
