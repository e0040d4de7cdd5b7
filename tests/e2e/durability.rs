//! Nothing acknowledged is lost: the real binary is killed with SIGKILL in the
//! middle of a 100,000-item stream and restarted.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fenghuo_client::{Client, pb};
use tokio_stream::StreamExt;

const ITEMS: u32 = 100_000;

/// Starts `fenghuo serve` on a free port; returns the process and its endpoint.
fn serve(data_dir: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fenghuo"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env_remove("FENGHUO_DATABASE_URL")
        .env_remove("FENGHUO_CONFIG")
        .env("FENGHUO_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .expect("fenghuo starts");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let endpoint = loop {
        let line = lines
            .next()
            .expect("the server prints its address")
            .unwrap();
        if let Some(rest) = line.strip_prefix("fenghuo listening on ") {
            break format!("https://{}", rest.split_whitespace().next().unwrap());
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, endpoint)
}

/// The same items every time: a resend must carry the same content.
fn requests(
    discovered: prost_types::Timestamp,
) -> impl tokio_stream::Stream<Item = pb::SubmitThreatRequest> {
    tokio_stream::iter((0..ITEMS).map(move |i| {
        // One in five repeats an indicator: merged sightings go through the same path.
        let n = if i % 5 == 4 { i - 1 } else { i };
        pb::SubmitThreatRequest {
            submission_id: format!("kill-{i}"),
            report: Some(pb::ThreatReport {
                discovered_at: Some(discovered),
                tlp: pb::Tlp::Green as i32,
                kind: pb::SubmissionKind::AboutOthers as i32,
                information: Some(pb::threat_report::Information::Event(
                    pb::EventInformation {
                        grade: pb::EventGrade::General as i32,
                        affected_unit: "Example Hosting Ltd".into(),
                        occurred_at: Some(discovered),
                        brief_course: "Seen by a sensor".into(),
                        estimated_harm_and_impact: "unknown".into(),
                        measures_taken: "none".into(),
                        other: String::new(),
                    },
                )),
                category: Some(pb::threat_report::Category::MaliciousResource(
                    pb::MaliciousResource {
                        kind: pb::MaliciousResourceKind::Ip as i32,
                        value: format!("45.{}.{}.{}", 60 + n / 62_500, (n / 250) % 250, n % 250),
                        ..Default::default()
                    },
                )),
                ..Default::default()
            }),
        }
    }))
}

async fn stored_submissions(data_dir: &Path) -> Vec<String> {
    let url = format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("fenghuo.db").display()
    );
    let store = fenghuo::store::Store::connect(&url).await.unwrap();
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT submission_id FROM sightings WHERE reporter_org = 'vendor-bj'")
            .fetch_all(store.pool())
            .await
            .unwrap();
    store.close().await;
    rows.into_iter().map(|(s,)| s).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_item_survives_sigkill_and_none_is_stored_twice() {
    let discovered = prost_types::Timestamp {
        seconds: chrono::Utc::now().timestamp() - 3600,
        nanos: 0,
    };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let (mut server, endpoint) = serve(&data_dir);
    let pki = data_dir.join("pki/clients/vendor-bj");

    let client = Client::connect_dir(&endpoint, &pki).await.unwrap();
    let mut acks = client
        .threats()
        .submit_threat_stream(requests(discovered))
        .await
        .unwrap()
        .into_inner();
    let mut acked = Vec::new();
    let mut killed = false;
    while let Ok(Some(Ok(ack))) = tokio::time::timeout(Duration::from_secs(60), acks.next()).await {
        assert_ne!(
            ack.outcome,
            pb::SubmissionOutcome::Refused as i32,
            "{ack:?}"
        );
        acked.push(ack.submission_id);
        if !killed && acked.len() >= 20_000 {
            server.kill().expect("SIGKILL");
            killed = true;
        }
    }
    assert!(killed);
    server.wait().unwrap();
    assert!(
        acked.len() < ITEMS as usize,
        "the kill came after the whole stream was acknowledged"
    );

    // Every acknowledged item is on disk, each once.
    let stored = stored_submissions(&data_dir).await;
    let stored_set: HashSet<&String> = stored.iter().collect();
    assert_eq!(
        stored_set.len(),
        stored.len(),
        "a submission was stored twice"
    );
    let missing: Vec<_> = acked
        .iter()
        .filter(|id| !stored_set.contains(id))
        .take(5)
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but lost: {missing:?} ({} acked)",
        acked.len()
    );

    // After a restart the unit resends everything; nothing is stored twice.
    let (mut server, endpoint) = serve(&data_dir);
    let client = Client::connect_dir(&endpoint, &pki).await.unwrap();
    let mut acks = client
        .threats()
        .submit_threat_stream(requests(discovered))
        .await
        .unwrap()
        .into_inner();
    let mut replayed = 0;
    let mut total = 0;
    while let Some(ack) = tokio::time::timeout(Duration::from_secs(120), acks.next())
        .await
        .unwrap()
    {
        let ack = ack.unwrap();
        assert_ne!(
            ack.outcome,
            pb::SubmissionOutcome::Refused as i32,
            "{ack:?}"
        );
        total += 1;
        replayed += usize::from(ack.replayed);
    }
    assert_eq!(total, ITEMS as usize);
    assert!(
        replayed >= acked.len(),
        "{replayed} replayed, {} acknowledged before the kill",
        acked.len()
    );
    server.kill().unwrap();
    server.wait().unwrap();
    let stored = stored_submissions(&data_dir).await;
    assert_eq!(stored.len(), ITEMS as usize);
    assert_eq!(stored.iter().collect::<HashSet<_>>().len(), ITEMS as usize);
}
