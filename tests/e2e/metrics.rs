//! The Prometheus endpoint: scraped before and after a lifecycle over mTLS, its counters move
//! by exactly what the calls did, and its gauges show the shared state.

use std::collections::HashMap;
use std::sync::Arc;

use fenghuo_client::pb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::StreamExt;
use tonic::Code;

use crate::disposal::{confirmed_threat, decision, measure, target};
use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app_configured};
use crate::threats::{ip, report};

/// One plain HTTP/1.1 request; returns (status, body).
async fn http_get(app: &TestApp, method: &str, path: &str) -> (u16, String) {
    let addr = app
        .application()
        .metrics_addr()
        .expect("metrics_listen is set");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        format!("{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut raw = String::new();
    tcp.read_to_string(&mut raw).await.unwrap();
    let status = raw[9..12].parse().unwrap();
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap();
    (status, body)
}

/// `name{labels}` → value, labels in the exporter's order.
async fn scrape(app: &TestApp) -> HashMap<String, f64> {
    let (status, body) = http_get(app, "GET", "/metrics").await;
    assert_eq!(status, 200, "{body}");
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_owned(), value.parse().unwrap())
        })
        .collect()
}

/// The sum over the series of `name` whose labels include every `k="v"` given.
fn sum(m: &HashMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    m.iter()
        .filter(|(series, _)| {
            let (n, l) = series.split_once('{').unwrap_or((series, ""));
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|(_, v)| v)
        .sum()
}

on_both_backends!(
    a_scrape_after_a_lifecycle_counts_each_call_by_code_and_each_stream_message,
    the_feed_lag_shows_an_unread_feed_behind_the_head_and_falls_to_zero_once_it_is_read,
);

async fn a_scrape_after_a_lifecycle_counts_each_call_by_code_and_each_stream_message(
    backend: Backend,
) {
    let Some(app) = spawn_app_configured(
        backend,
        Default::default(),
        Arc::new(|s| s.metrics_listen = Some("127.0.0.1:0".parse().unwrap())),
    )
    .await
    else {
        return;
    };
    let before = scrape(&app).await;
    let delta = |after: &HashMap<String, f64>, name: &str, labels: &[(&str, &str)]| {
        sum(after, name, labels) - sum(&before, name, labels)
    };

    // A confirmed threat, one notice, one refused decision.
    let threat = confirmed_threat(&app, pb::EventGrade::Major).await;
    let issue = decision(
        &uuid::Uuid::new_v4().to_string(),
        &threat,
        vec![measure(
            pb::MeasureType::StopServiceOrBlock,
            vec![target(pb::MeasureTargetKind::Ip, "58.60.1.1")],
        )],
    );
    let refused = app
        .officer("vendor-bj")
        .await
        .disposal()
        .issue_decision(issue.clone())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused}");
    app.officer("miit")
        .await
        .disposal()
        .issue_decision(issue)
        .await
        .unwrap();

    // Three reports over one stream: three messages in, three acknowledgements out.
    let requests: Vec<_> = (0..3)
        .map(|i| pb::SubmitThreatRequest {
            submission_id: format!("metrics-{i}"),
            report: Some(report(&app, pb::Tlp::Green, ip(&format!("45.71.0.{i}")))),
        })
        .collect();
    let acks: Vec<_> = app
        .client("vendor-bj")
        .await
        .unit()
        .submit_stream(tokio_stream::iter(requests))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(acks.len(), 3);

    let after = scrape(&app).await;
    let issue_decision = [
        ("grpc_service", "fenghuo.v1.DisposalService"),
        ("grpc_method", "IssueDecision"),
        ("grpc_type", "unary"),
    ];
    assert_eq!(
        delta(&after, "grpc_server_started_total", &issue_decision),
        2.0
    );
    let with_code = |code| {
        let mut l = issue_decision.to_vec();
        l.push(("grpc_code", code));
        delta(&after, "grpc_server_handled_total", &l)
    };
    assert_eq!(with_code("OK"), 1.0);
    assert_eq!(
        with_code("PermissionDenied"),
        1.0,
        "a call refused by authorization is counted with its code"
    );
    assert_eq!(
        delta(
            &after,
            "grpc_server_handling_seconds_count",
            &issue_decision
        ),
        2.0
    );
    let stream = [
        ("grpc_method", "SubmitThreatStream"),
        ("grpc_type", "bidi_stream"),
    ];
    assert_eq!(
        delta(&after, "grpc_server_msg_received_total", &stream),
        3.0
    );
    assert_eq!(delta(&after, "grpc_server_msg_sent_total", &stream), 3.0);
    let mut ok_stream = stream.to_vec();
    ok_stream.push(("grpc_code", "OK"));
    assert_eq!(delta(&after, "grpc_server_handled_total", &ok_stream), 1.0);
    assert_eq!(
        delta(
            &after,
            "fenghuo_threats_ingested_total",
            &[("outcome", "new_threat")]
        ),
        4.0,
        "the confirmed threat's report and the three streamed ones"
    );

    // Gauges read the shared state.
    assert_eq!(sum(&after, "fenghuo_notices", &[]), 1.0);
    assert!(sum(&after, "fenghuo_audit_chain_length", &[]) > 0.0);
    assert!(
        sum(&after, "fenghuo_timers_open", &[]) >= 1.0,
        "the notice's deadlines"
    );
    assert_eq!(sum(&after, "fenghuo_appeals_open", &[]), 0.0);
    assert!(
        after.keys().any(|k| k.starts_with(
            "fenghuo_non_compliance_open{kind=\"NON_COMPLIANCE_KIND_MISSING_RESULT\"}"
        )),
        "every kind has a series, zero included"
    );

    // Every series the shipped Grafana dashboard queries exists.
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/grafana-dashboard.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let scraped: std::collections::HashSet<&str> =
        after.keys().map(|k| k.split('{').next().unwrap()).collect();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let names: Vec<&str> = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("grpc_server_") || w.starts_with("fenghuo_"))
                .collect();
            assert!(!names.is_empty(), "{expr}");
            for name in names {
                assert!(
                    scraped.contains(name),
                    "the dashboard queries {name}, never exported"
                );
            }
        }
    }

    // Nothing else is served there.
    assert_eq!(http_get(&app, "GET", "/").await.0, 404);
    assert_eq!(http_get(&app, "POST", "/metrics").await.0, 405);
}

/// Scrapes until `check` holds (the gauges are the process's, shared with other tests' servers).
async fn scrape_until(app: &TestApp, what: &str, check: impl Fn(&HashMap<String, f64>) -> bool) {
    tokio::time::timeout(std::time::Duration::from_secs(90), async {
        loop {
            if check(&scrape(app).await) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("never scraped: {what}"));
}

async fn the_feed_lag_shows_an_unread_feed_behind_the_head_and_falls_to_zero_once_it_is_read(
    backend: Backend,
) {
    // Well beyond what a 64 KiB window and the transport's chunk let through.
    const N: usize = 400;
    let Some(app) = spawn_app_configured(
        backend,
        Default::default(),
        Arc::new(|s| {
            s.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
            // Not dropped while the test looks at it, however slow the machine.
            s.streams.slow_reader_stall = std::time::Duration::from_secs(3600);
        }),
    )
    .await
    else {
        return;
    };
    let narrow = app.narrow_channel("miit").await;
    let mut feed = pb::threat_service_client::ThreatServiceClient::new(narrow)
        .subscribe_feed(pb::SubscribeFeedRequest::default())
        .await
        .unwrap()
        .into_inner();
    let requests: Vec<_> = (0..N)
        .map(|i| pb::SubmitThreatRequest {
            submission_id: format!("lag-{i}"),
            report: Some(report(
                &app,
                pb::Tlp::Green,
                ip(&format!("45.74.{}.{}", i / 250, i % 250 + 1)),
            )),
        })
        .collect();
    let acks: Vec<_> = app
        .client("vendor-bj")
        .await
        .unit()
        .submit_stream(tokio_stream::iter(requests))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(acks.len(), N);

    let lag = |m: &HashMap<String, f64>| sum(m, "fenghuo_feed_lag_events", &[("quantile", "1")]);
    let lag_seconds =
        |m: &HashMap<String, f64>| sum(m, "fenghuo_feed_lag_seconds", &[("quantile", "1")]);
    // The events it has not taken were committed an hour ago on the server's clock.
    app.clock.advance(chrono::Duration::hours(1));
    scrape_until(&app, "one feed, far behind", |m| {
        sum(m, "fenghuo_feed_subscriptions", &[]) == 1.0
            && lag(m) > 10.0
            && lag_seconds(m) >= 3600.0
    })
    .await;
    let mut received = 0;
    while received < N {
        if let Some(pb::feed_event::Event::NewThreat(_)) = feed.next().await.unwrap().unwrap().event
        {
            received += 1;
        }
    }
    scrape_until(&app, "one feed, caught up", |m| {
        sum(m, "fenghuo_feed_subscriptions", &[]) == 1.0 && lag(m) == 0.0 && lag_seconds(m) == 0.0
    })
    .await;
    drop(feed);
    scrape_until(&app, "no feed", |m| {
        sum(m, "fenghuo_feed_subscriptions", &[]) == 0.0
    })
    .await;
}
