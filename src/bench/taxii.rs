//! `fenghuo bench taxii`: TAXII 2.1 ingest and paged reads on the production path: an
//! in-process server with `taxii_listen`, one HTTPS/1.1 connection with a dev-PKI client
//! certificate, POSTs of envelopes to the submissions collection (each acknowledged with a
//! status only after commit), then the whole feed read back in pages of 1,000; then medallion
//! and OpenTAXII on the same envelopes when installed (`taxii_compare`).

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use prost::Message;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};

use super::taxii_compare::{self, CompareWith, Figures};
use super::{COMMIT, Scratch, item, percentile};
use crate::app::Application;
use crate::config::Settings;
use crate::domain::clock::SystemClock;
use crate::pki::DevPki;
use crate::taxii::http::TAXII_MEDIA_TYPE;
use crate::taxii::objects::MAX_LIMIT;
use crate::taxii::routes::{FEED_COLLECTION, SUBMISSIONS_COLLECTION};

/// What to run.
#[derive(Debug, Clone)]
pub struct TaxiiBench {
    /// STIX objects to POST (whole reports: the last envelope may run a few over).
    pub objects: usize,
    /// Objects per POSTed envelope.
    pub envelope: usize,
    /// A PostgreSQL server; a scratch database is created and dropped.
    pub database_url: Option<String>,
    /// medallion and OpenTAXII beside fenghuo, on the same envelopes.
    pub compare: CompareWith,
    /// GETs of objects/{id}/ to time after the paged read.
    pub by_id: usize,
}

/// One HTTPS/1.1 connection with a client certificate.
struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    authority: String,
}

impl Connection {
    async fn open(
        addr: std::net::SocketAddr,
        client_dir: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let read =
            |f: &str| std::fs::read(client_dir.join(f)).with_context(|| format!("reading {f}"));
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_slice_iter(&read("ca.crt")?) {
            roots.add(ca?)?;
        }
        let chain =
            CertificateDer::pem_slice_iter(&read("client.crt")?).collect::<Result<Vec<_>, _>>()?;
        let key = PrivateKeyDer::from_pem_slice(&read("client.key")?)?;
        let mut config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("localhost")?, tcp)
            .await?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        Ok(Connection {
            sender,
            authority: format!("localhost:{}", addr.port()),
        })
    }

    async fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.authority)
            .header("accept", TAXII_MEDIA_TYPE);
        if method == "POST" {
            request = request.header("content-type", TAXII_MEDIA_TYPE);
        }
        self.sender.ready().await?;
        let response = self
            .sender
            .send_request(request.body(Full::new(Bytes::from(body)))?)
            .await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }
}

/// The bench's reports as STIX (fenghuo's own export of them, as another fenghuo platform
/// would send): envelopes of about `size` objects, each report whole in one envelope.
fn envelopes(objects: usize, size: usize) -> Vec<Vec<Value>> {
    let discovered = prost_types::Timestamp {
        seconds: chrono::Utc::now().timestamp() - 3600,
        nanos: 0,
    };
    let (mut out, mut group, mut total, mut i) = (Vec::new(), Vec::new(), 0usize, 0u64);
    let mut flush = |group: &mut Vec<(crate::pb::Sighting, crate::pb::Threat)>| -> usize {
        let bundle = crate::stix::export::bundle(group);
        let objects = bundle["objects"].as_array().cloned().unwrap_or_default();
        let n = objects.len();
        out.push(objects);
        group.clear();
        n
    };
    let mut in_group = 0usize;
    while total + in_group < objects {
        // Distinct reports: the bench ingest's mix without its duplicates (no merges).
        let request = item(i + i / 4, discovered);
        let report = request
            .report
            .map(|r| crate::pb::ThreatReport::decode(r.encode_to_vec().as_slice()))
            .transpose()
            .ok()
            .flatten();
        let sighting = crate::pb::Sighting {
            id: uuid::Uuid::new_v4().to_string(),
            threat_id: uuid::Uuid::new_v4().to_string(),
            reporter_organisation_id: "bench-peer".into(),
            received_at: Some(discovered),
            report,
            ..Default::default()
        };
        let threat = crate::pb::Threat {
            category: 1,
            status: 1,
            ..Default::default()
        };
        // Its own objects and its observable; the envelope adds markings and identities.
        in_group += crate::stix::export::sighting_objects(&sighting, &threat).len() + 1;
        group.push((sighting, threat));
        if in_group >= size {
            total += flush(&mut group);
            in_group = 0;
        }
        i += 1;
    }
    if !group.is_empty() {
        flush(&mut group);
    }
    out
}

pub async fn taxii(opts: TaxiiBench) -> anyhow::Result<String> {
    anyhow::ensure!(opts.objects >= 1, "--objects must be at least 1");
    anyhow::ensure!(
        opts.envelope >= 10,
        "--envelope must be at least 10 objects"
    );
    let dir = tempfile::tempdir()?;
    let scratch = Scratch::new(opts.database_url.as_deref(), dir.path()).await?;
    let envelopes = envelopes(opts.objects, opts.envelope);
    let result = run(
        &opts,
        &envelopes,
        dir.path(),
        &scratch.url,
        scratch.backend(),
    )
    .await;
    scratch.drop_database().await;
    let (line, fenghuo) = result?;
    let others = taxii_compare::compare(&opts.compare, &envelopes, &fenghuo).await;
    Ok(format!("{line}{others}"))
}

async fn run(
    opts: &TaxiiBench,
    envelopes: &[Vec<Value>],
    dir: &std::path::Path,
    url: &str,
    backend: &str,
) -> anyhow::Result<(String, Figures)> {
    let data_dir = dir.join("data");
    let mut settings = Settings::development(&data_dir, url);
    settings.taxii_listen = Some("127.0.0.1:0".parse()?);
    let app = Application::build(settings, Arc::new(SystemClock)).await?;
    let addr = app.taxii_addr().context("the TAXII listener")?;
    let client_dir = DevPki::new(&data_dir).client_dir("vendor-bj");
    let result = measure(opts, envelopes, addr, &client_dir, backend).await;
    app.stop().await?;
    result
}

async fn measure(
    opts: &TaxiiBench,
    envelopes: &[Vec<Value>],
    addr: std::net::SocketAddr,
    client_dir: &std::path::Path,
    backend: &str,
) -> anyhow::Result<(String, Figures)> {
    let bodies: Vec<Vec<u8>> = envelopes
        .iter()
        .map(|objects| json!({ "objects": objects }).to_string().into_bytes())
        .collect();
    let posted: usize = envelopes.iter().map(Vec::len).sum();
    let mut conn = Connection::open(addr, client_dir).await?;

    let post_path = format!("/api/collections/{SUBMISSIONS_COLLECTION}/objects/");
    let start = Instant::now();
    let mut reports = 0u64;
    for body in bodies {
        let (status, answer) = conn.call("POST", &post_path, body).await?;
        anyhow::ensure!(status == 202, "POST answered {status}: {answer}");
        anyhow::ensure!(
            answer["failure_count"] == 0,
            "objects refused: {}",
            answer["failures"]
        );
        reports += answer["successes"]
            .as_array()
            .map(|s| {
                s.iter()
                    .filter(|e| {
                        e["message"]
                            .as_str()
                            .is_some_and(|m| m.starts_with("stored"))
                    })
                    .count() as u64
            })
            .unwrap_or(0);
    }
    let ingest = start.elapsed();

    let mut ids: Vec<Value> = Vec::new();
    let taxii_compare::ReadBack {
        objects: read,
        pages,
        elapsed: reading,
        mut full_pages,
    } = taxii_compare::read_pages(
        &format!("/api/collections/{FEED_COLLECTION}/objects/"),
        async |p: &str| conn.call("GET", p, Vec::new()).await,
        |o| ids.push(o["id"].clone()),
    )
    .await?;
    full_pages.sort_unstable();
    let by_id = by_id(&mut conn, &ids, opts.by_id).await?;
    let figures = Figures::new(posted, ingest, read, reading, &full_pages);
    let line = format!(
        "taxii: POST {:.0} objects/s ({posted} objects, {reports} reports, {} envelopes of ~{}; one HTTPS/1.1 connection, \
         each answered after commit); paged GET {:.0} objects/s ({read} objects, {pages} pages of {MAX_LIMIT}); \
         a {MAX_LIMIT}-object page p50 {:.1} ms, p99 {:.1} ms; {by_id}; {backend}; commit {COMMIT}",
        posted as f64 / ingest.as_secs_f64(),
        envelopes.len(),
        opts.envelope,
        read as f64 / reading.as_secs_f64(),
        percentile(&full_pages, 0.50),
        percentile(&full_pages, 0.99),
    );
    Ok((line, figures))
}

/// `count` GETs of objects/{id}/ on ids spread evenly over the collection's order; their
/// latency, each answered 200 with its object.
async fn by_id(conn: &mut Connection, ids: &[Value], count: usize) -> anyhow::Result<String> {
    if count == 0 || ids.is_empty() {
        return Ok("GET objects/{id}/ not timed".into());
    }
    let mut times = Vec::with_capacity(count);
    for i in 0..count {
        let id = ids[i * ids.len() / count].as_str().unwrap_or_default();
        let path = format!("/api/collections/{FEED_COLLECTION}/objects/{id}/");
        let asked = Instant::now();
        let (status, page) = conn.call("GET", &path, Vec::new()).await?;
        times.push(asked.elapsed().as_micros() as u64);
        anyhow::ensure!(
            status == 200 && page["objects"][0]["id"] == id,
            "GET {path} answered {status}: {page}"
        );
    }
    times.sort_unstable();
    Ok(format!(
        "GET objects/{{id}}/ p50 {:.1} ms, p99 {:.1} ms ({count} ids of {})",
        percentile(&times, 0.50),
        percentile(&times, 0.99),
        ids.len()
    ))
}
