//! The Rust client's resuming streams (`fenghuo_client::resume`, issue #13 §2): across a
//! server restart and a cut connection, every item arrives once, in the server's order; an
//! answer (a bad cursor) ends the subscription at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fenghuo_client::pb::{self, MeasureTargetKind as K};
use fenghuo_client::resume::{Backoff, Cursored, Subscription};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tonic::Code;

use crate::disposal::{confirmed_threat, decision, measure, target};
use crate::on_both_backends;
use crate::support::{Backend, spawn_app};
use crate::threats::{ip, report};

on_both_backends!(
    the_feed_and_the_notice_stream_resume_across_a_server_restart_losing_and_repeating_nothing,
    the_audit_follow_resumes_after_a_cut_connection_with_every_record_once,
    a_bad_cursor_ends_the_subscription_with_invalid_argument_without_a_retry,
);

/// Quick retries: the tests wait for the server, not for the policy.
const QUICK: Backoff = Backoff {
    initial: Duration::from_millis(10),
    max: Duration::from_millis(200),
    retry_for: Some(Duration::from_secs(60)),
};

/// The next item, failing the test (not hanging it) when none comes.
async fn next<T: Cursored + Send + 'static>(s: &mut Subscription<T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), s.next())
        .await
        .expect("an item within 30 s")
        .expect("the subscription goes on")
        .expect("no permanent error")
}

async fn issue_notice(app: &crate::support::TestApp, request_id: &str, threat: &str) -> String {
    app.officer("miit")
        .await
        .disposal()
        .issue_decision(decision(
            request_id,
            threat,
            vec![measure(
                pb::MeasureType::StopServiceOrBlock,
                vec![target(K::Ip, "58.60.1.1")],
            )],
        ))
        .await
        .expect("decision issued")
        .into_inner()
        .notices[0]
        .notice_id
        .clone()
}

async fn the_feed_and_the_notice_stream_resume_across_a_server_restart_losing_and_repeating_nothing(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    let vendor = app.client("vendor-bj").await.unit();
    for i in 0..3 {
        let r = report(&app, pb::Tlp::Green, ip(&format!("45.33.50.{i}")));
        vendor.submit(&format!("before-{i}"), r).await.unwrap();
    }
    let first_notice = issue_notice(&app, "resume-0", &threat).await;

    let reader = app.client("registrar-bj").await;
    let mut feed = reader
        .follow_feed(pb::SubscribeFeedRequest::default())
        .with_backoff(QUICK);
    let telecom = app.client("telecom-gd").await;
    let mut notices = telecom.follow_notices(None).with_backoff(QUICK);
    let mut events = vec![next(&mut feed).await, next(&mut feed).await];
    let mut delivered = vec![next(&mut notices).await.notice.unwrap().notice_id];
    assert_eq!(delivered, std::slice::from_ref(&first_notice));

    // The server goes away with both streams open, and comes back on the same database.
    let app = app.stopped().await.restart_on_the_same_port().await;
    let vendor = app.client("vendor-bj").await.unit();
    let mut last = String::new();
    for i in 0..3 {
        let r = report(&app, pb::Tlp::Green, ip(&format!("45.33.51.{i}")));
        last = vendor
            .submit(&format!("after-{i}"), r)
            .await
            .unwrap()
            .threat_id;
    }
    let second_notice = issue_notice(&app, "resume-1", &threat).await;
    let third_notice = issue_notice(&app, "resume-2", &threat).await;

    while events.last().unwrap().threat_id != last {
        events.push(next(&mut feed).await);
    }
    for _ in 0..2 {
        delivered.push(next(&mut notices).await.notice.unwrap().notice_id);
    }
    assert!(feed.reconnects() >= 1 && notices.reconnects() >= 1);
    assert_eq!(delivered, [first_notice, second_notice, third_notice]);

    // What an uninterrupted reader of the restarted server sees, up to the same event.
    let mut truth = Vec::new();
    let mut plain = reader
        .threats()
        .subscribe_feed(pb::SubscribeFeedRequest::default())
        .await
        .unwrap()
        .into_inner();
    while truth
        .last()
        .is_none_or(|e: &pb::FeedEvent| e.threat_id != last)
    {
        let e = tokio::time::timeout(Duration::from_secs(30), plain.next())
            .await
            .expect("an event within 30 s")
            .expect("the feed goes on")
            .expect("no error");
        if !matches!(e.event, Some(pb::feed_event::Event::Heartbeat(_))) {
            truth.push(e);
        }
    }
    // Events carry the threat as it is when read: compare positions and subjects.
    let seen = |events: &[pb::FeedEvent]| -> Vec<(String, String)> {
        events
            .iter()
            .map(|e| (e.cursor.clone(), e.threat_id.clone()))
            .collect()
    };
    assert_eq!(
        seen(&events),
        seen(&truth),
        "every event once, in order, across the restart"
    );
    assert_eq!(feed.cursor(), truth.last().unwrap().cursor);
    drop((feed, notices, plain));
    app.stop().await;
}

/// A TCP relay whose open connections can be cut, as a failing network does.
struct Relay {
    addr: std::net::SocketAddr,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Relay {
    async fn to(upstream: std::net::SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let open = connections.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut downstream, _)) = listener.accept().await {
                let relay = tokio::spawn(async move {
                    if let Ok(mut up) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut downstream, &mut up).await;
                    }
                });
                open.lock().unwrap().push(relay);
            }
        });
        Relay {
            addr,
            connections,
            accept,
        }
    }

    /// Drops every open connection (both sockets close); new ones are relayed again.
    fn cut(&self) {
        for relay in self.connections.lock().unwrap().drain(..) {
            relay.abort();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

async fn the_audit_follow_resumes_after_a_cut_connection_with_every_record_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let relay = Relay::to(app.application().local_addr()).await;
    let through_relay = fenghuo_client::Client::connect(
        &format!("https://127.0.0.1:{}", relay.addr.port()),
        &app.client_pki("miit"),
    )
    .await
    .unwrap();
    let mut audit = through_relay.follow_audit(0).with_backoff(QUICK);
    let first = next(&mut audit).await;
    assert_eq!(first.seq, 1);

    relay.cut();
    // Records committed while the connection is down arrive after the resume.
    app.add_organisation("isp-resume", pb::Role::BasicTelecom, "440000", "")
        .await;
    let newest = app
        .client("miit")
        .await
        .regulator()
        .audit_of("organisation:isp-resume")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.seq)
        .max()
        .expect("the new organisation is audited");
    let mut seqs = vec![first.seq];
    while *seqs.last().unwrap() < newest {
        seqs.push(next(&mut audit).await.seq);
    }
    assert!(audit.reconnects() >= 1, "the cut broke the stream");
    assert_eq!(
        seqs,
        (1..=newest).collect::<Vec<_>>(),
        "every record once, in order"
    );
    assert_eq!(audit.cursor(), newest.to_string());
    drop((audit, relay));
    app.stop().await;
}

async fn a_bad_cursor_ends_the_subscription_with_invalid_argument_without_a_retry(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let reader = app.client("registrar-bj").await;
    let mut feed = reader
        .follow_feed(pb::SubscribeFeedRequest {
            cursor: "not-a-cursor".into(),
            ..Default::default()
        })
        .with_backoff(QUICK);
    let error = feed.next().await.expect("an answer").unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument, "{error}");
    assert!(feed.next().await.is_none(), "the subscription has ended");
    assert_eq!(feed.reconnects(), 0);

    let mut notices = app
        .client("telecom-gd")
        .await
        .follow_notices(Some("not-a-cursor"))
        .with_backoff(QUICK);
    let error = notices.next().await.expect("an answer").unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument, "{error}");
    assert!(notices.next().await.is_none());
    drop((feed, notices));
    app.stop().await;
}
