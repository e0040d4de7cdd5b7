//! The limits of `[streams]`, `[limits]` and `[connections]`: their defaults and bounds.

use std::time::Duration;

use anyhow::Context;

use super::{ConnectionsFileConfig, LimitsFileConfig, StreamsFileConfig};

/// What one organisation's server streams (feeds, notice deliveries, appeal watches, audit
/// follows) may hold: a stream whose reader stops would otherwise keep its next batch in
/// memory for as long as the connection lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// A stream whose client has taken nothing for this long while the server waits to send
    /// ends with RESOURCE_EXHAUSTED naming the last cursor delivered.
    pub slow_reader_stall: Duration,
    /// Open streams of each kind per organisation on one server (intake streams included).
    pub max_per_organisation: usize,
    /// Items a server stream makes ahead of what HTTP/2 flow control lets it send.
    pub buffer: usize,
    /// Feed events a subscription reads and prepares at once: held in memory until its
    /// reader has taken them, so a stalled feed holds at most this many.
    pub feed_page: u32,
    /// Items an intake stream (`SubmitThreatStream`, `SubmitThreatBatches`) may have read
    /// but not yet seen acknowledged; at the bound the server stops reading it, and HTTP/2
    /// flow control holds the client back.
    pub max_unacknowledged: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            slow_reader_stall: Duration::from_secs(30),
            max_per_organisation: 32,
            buffer: 16,
            feed_page: 100,
            max_unacknowledged: 4096,
        }
    }
}

/// What one gRPC message and one HTTP/2 stream or connection may make the server hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageLimits {
    /// The largest gRPC message the server decodes or encodes; a larger one is OUT_OF_RANGE
    /// before its body is read.
    pub max_message_bytes: usize,
    /// What a client may send on one stream before the server has read it (HTTP/2 window).
    pub http2_stream_window: u32,
    /// What a client may send on one connection, all streams together, before the server
    /// has read it.
    pub http2_connection_window: u32,
}

impl Default for MessageLimits {
    fn default() -> Self {
        MessageLimits {
            max_message_bytes: 8 * 1024 * 1024,
            http2_stream_window: 256 * 1024,
            http2_connection_window: 1024 * 1024,
        }
    }
}

impl MessageLimits {
    pub(super) fn from_file(file: Option<LimitsFileConfig>) -> anyhow::Result<Self> {
        let d = MessageLimits::default();
        let Some(f) = file else { return Ok(d) };
        let limits = MessageLimits {
            max_message_bytes: f.max_message_bytes.unwrap_or(d.max_message_bytes),
            http2_stream_window: f.http2_stream_window.unwrap_or(d.http2_stream_window),
            http2_connection_window: f
                .http2_connection_window
                .unwrap_or(d.http2_connection_window),
        };
        // Below these a report or a frame no longer fits (HTTP/2's smallest window, RFC 9113 6.9.2).
        anyhow::ensure!(
            limits.max_message_bytes >= 64 * 1024,
            "limits.max_message_bytes must be at least 65536"
        );
        for (key, v) in [
            ("http2_stream_window", limits.http2_stream_window),
            ("http2_connection_window", limits.http2_connection_window),
        ] {
            anyhow::ensure!(
                (65_535..=(1 << 31) - 1).contains(&v),
                "limits.{key} must lie between 65535 and 2147483647 (HTTP/2 windows)"
            );
        }
        Ok(limits)
    }
}

impl StreamLimits {
    pub(super) fn from_file(file: Option<StreamsFileConfig>) -> anyhow::Result<Self> {
        let d = StreamLimits::default();
        let Some(f) = file else { return Ok(d) };
        let slow_reader_stall = match f.slow_reader_stall {
            None => d.slow_reader_stall,
            Some(raw) => parse_duration(&raw).with_context(|| {
                format!("streams.slow_reader_stall {raw:?} is not a positive duration (e.g. 30s)")
            })?,
        };
        let limits = StreamLimits {
            slow_reader_stall,
            max_per_organisation: f.max_per_organisation.unwrap_or(d.max_per_organisation),
            buffer: f.buffer.unwrap_or(d.buffer),
            feed_page: f.feed_page.unwrap_or(d.feed_page),
            max_unacknowledged: f.max_unacknowledged.unwrap_or(d.max_unacknowledged),
        };
        for (key, v) in [
            ("max_per_organisation", limits.max_per_organisation),
            ("buffer", limits.buffer),
            ("feed_page", limits.feed_page as usize),
            ("max_unacknowledged", limits.max_unacknowledged),
        ] {
            anyhow::ensure!(v >= 1, "streams.{key} must be at least 1");
        }
        // A semaphore's permits are u32 and one item per permit.
        anyhow::ensure!(
            limits.max_unacknowledged <= 1 << 20,
            "streams.max_unacknowledged must be at most 1048576"
        );
        Ok(limits)
    }
}

/// What a connection may hold before and after its TLS handshake: without these, 1,124 silent
/// TCP connections used up a 1,024-descriptor process and locked every client out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A client that has not completed its TLS handshake by then is disconnected.
    pub handshake_timeout: Duration,
    /// Open connections, established or handshaking. At the cap the oldest unfinished
    /// handshake gives way to a newcomer; with none left, newcomers wait in the backlog.
    pub max_connections: usize,
    /// Idle time before an HTTP/2 PING (and a TCP keepalive probe) checks the peer is there.
    pub keepalive_interval: Duration,
    /// How long an unanswered PING keeps the connection open.
    pub keepalive_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            handshake_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
        }
    }
}

impl ConnectionLimits {
    pub(super) fn from_file(file: Option<ConnectionsFileConfig>) -> anyhow::Result<Self> {
        let d = ConnectionLimits::default();
        let Some(f) = file else { return Ok(d) };
        let duration = |key: &str, raw: Option<String>, default: Duration| match raw {
            None => Ok(default),
            Some(raw) => parse_duration(&raw).with_context(|| {
                format!(
                    "connections.{key} {raw:?} is not a positive duration (e.g. 300ms, 10s, 2m)"
                )
            }),
        };
        let max_connections = f.max.unwrap_or(d.max_connections);
        anyhow::ensure!(max_connections >= 1, "connections.max must be at least 1");
        Ok(ConnectionLimits {
            handshake_timeout: duration(
                "handshake_timeout",
                f.handshake_timeout,
                d.handshake_timeout,
            )?,
            max_connections,
            keepalive_interval: duration(
                "keepalive_interval",
                f.keepalive_interval,
                d.keepalive_interval,
            )?,
            keepalive_timeout: duration(
                "keepalive_timeout",
                f.keepalive_timeout,
                d.keepalive_timeout,
            )?,
        })
    }
}

/// `300ms`, `10s`, `2m`: a whole number and a unit, more than zero.
fn parse_duration(raw: &str) -> anyhow::Result<Duration> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let n: u64 = number.parse()?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        other => anyhow::bail!("unknown unit {other:?}"),
    };
    anyhow::ensure!(!d.is_zero(), "must be more than zero");
    Ok(d)
}
