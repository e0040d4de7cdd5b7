//! The plain HTTP/1.1 client with basic auth the compared servers are posted to and read
//! back with.

use std::time::{Duration, Instant};

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};

use super::{ReadBack, read_pages};
use crate::taxii::http::TAXII_MEDIA_TYPE;

/// POSTs every envelope, each answered with a complete status; returns the time taken.
pub(super) async fn post(
    conn: &mut Connection,
    path: &str,
    envelopes: &[Vec<Value>],
) -> anyhow::Result<Duration> {
    let bodies: Vec<Vec<u8>> = envelopes
        .iter()
        .map(|objects| json!({ "objects": objects }).to_string().into_bytes())
        .collect();
    let start = Instant::now();
    for body in bodies {
        let (status, answer) = conn.call("POST", path, body).await?;
        anyhow::ensure!(status == 202, "POST answered {status}: {answer}");
        // medallion answers an object it already holds (a repeated marking or identity) as a
        // failure: its rule, not an error of the run.
        anyhow::ensure!(answer["status"] == "complete", "POST status {answer}");
    }
    Ok(start.elapsed())
}

/// Reads a compared server's whole collection.
pub(super) async fn read_back(conn: &mut Connection, path: &str) -> anyhow::Result<ReadBack> {
    read_pages(
        path,
        async |p: &str| conn.call("GET", p, Vec::new()).await,
        |_| {},
    )
    .await
}

/// One plain HTTP/1.1 connection with basic auth, opened again when the server closes it
/// (werkzeug does after a response without a length).
pub(super) struct Connection {
    port: u16,
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    authority: String,
    authorization: String,
}

impl Connection {
    pub(super) async fn open(port: u16, user: &str, password: &str) -> anyhow::Result<Self> {
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        Ok(Connection {
            port,
            sender: Self::handshake(port).await?,
            authority: format!("127.0.0.1:{port}"),
            authorization: format!("Basic {credentials}"),
        })
    }

    async fn handshake(
        port: u16,
    ) -> anyhow::Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        tcp.set_nodelay(true)?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await?;
        tokio::spawn(conn);
        Ok(sender)
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
            .header("authorization", &self.authorization)
            .header("accept", TAXII_MEDIA_TYPE);
        if method == "POST" {
            request = request
                .header("content-type", TAXII_MEDIA_TYPE)
                .header("content-length", body.len());
        }
        if self.sender.ready().await.is_err() {
            self.sender = Self::handshake(self.port).await?;
        }
        let response = self
            .sender
            .send_request(request.body(Full::new(Bytes::from(body)))?)
            .await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            Value::String(String::from_utf8_lossy(&bytes).chars().take(300).collect())
        });
        Ok((status, value))
    }
}
