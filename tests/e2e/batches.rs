//! `SubmitThreatBatches`: the bulk intake stream with several items per message (issue #13 §2,
//! for clients that pay per message), acknowledged item by item like `SubmitThreatStream`.

use std::collections::HashMap;
use std::time::Duration;

use fenghuo_client::pb;
use tokio_stream::StreamExt;

use crate::on_both_backends;
use crate::support::{Backend, spawn_app};
use crate::threats::{ip, report};

on_both_backends!(
    every_item_of_every_batch_is_acknowledged_once_and_a_resent_batch_replays_its_acks,
);

async fn every_item_of_every_batch_is_acknowledged_once_and_a_resent_batch_replays_its_acks(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let vendor = app.client("vendor-bj").await;
    let item = |i: u32| {
        // Every hundredth item is refused (a private address), every fifth repeats the one before.
        let value = match i {
            i if i % 100 == 7 => "10.9.9.9".to_owned(),
            i if i % 5 == 4 => format!("45.35.{}.{}", (i - 1) / 250, (i - 1) % 250),
            i => format!("45.35.{}.{}", i / 250, i % 250),
        };
        pb::SubmitThreatRequest {
            submission_id: format!("batch-{i}"),
            report: Some(report(&app, pb::Tlp::Green, ip(&value))),
        }
    };
    let batches: Vec<pb::SubmitThreatBatch> = (0..3)
        .map(|b| pb::SubmitThreatBatch {
            items: (b * 500..(b + 1) * 500).map(item).collect(),
        })
        // An empty batch is ignored.
        .chain([pb::SubmitThreatBatch::default()])
        .collect();
    let first = batches[0].clone();
    let by_id = submit(&vendor, batches).await;
    assert_eq!(by_id.len(), 1500);
    let count = |outcome: pb::SubmissionOutcome| {
        by_id
            .values()
            .filter(|a| a.outcome == outcome as i32)
            .count()
    };
    assert_eq!(count(pb::SubmissionOutcome::Refused), 15);
    assert_eq!(count(pb::SubmissionOutcome::Merged), 300);
    let refused = by_id["batch-7"].refusal.as_ref().unwrap();
    assert_eq!(refused.field, "report.malicious_resource.value");

    // Resending a batch (after a disconnect, say) stores nothing twice.
    let again = submit(&vendor, vec![first]).await;
    assert_eq!(again.len(), 500);
    for (id, ack) in &again {
        if ack.outcome != pb::SubmissionOutcome::Refused as i32 {
            assert!(ack.replayed, "{id} was stored again");
            assert_eq!(ack.threat_id, by_id[id].threat_id);
        }
    }
    app.stop().await;
}

/// Every ack of the stream by submission id, failing on a second ack for one item.
async fn submit(
    client: &fenghuo_client::Client,
    batches: Vec<pb::SubmitThreatBatch>,
) -> HashMap<String, pb::SubmissionAck> {
    let mut answers = client
        .threats()
        .submit_threat_batches(tokio_stream::iter(batches))
        .await
        .unwrap()
        .into_inner();
    let mut by_id = HashMap::new();
    while let Some(answer) = tokio::time::timeout(Duration::from_secs(60), answers.next())
        .await
        .expect("acks within 60 s")
    {
        for ack in answer.unwrap().acks {
            let id = ack.submission_id.clone();
            assert!(by_id.insert(id, ack).is_none(), "two acks for one item");
        }
    }
    by_id
}
