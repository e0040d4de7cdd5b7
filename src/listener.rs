//! The accept loop in front of the gRPC server. tonic's own TLS accept bounds nothing: a client
//! that connects and sends nothing held a task and a descriptor forever, and on EMFILE the loop
//! retried at once, at full CPU. Here every connection holds one of a fixed number of slots, its
//! TLS handshake has a deadline, the oldest unfinished handshake gives way when the slots run
//! out, and running out of descriptors backs off instead of spinning.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::AbortHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{Connected, TcpConnectInfo, TlsConnectInfo};

use crate::config::ConnectionLimits;

/// Descriptors kept back from the connection cap for the database pool, files and the log.
const RESERVED_DESCRIPTORS: u64 = 256;
/// The first and the longest wait after an accept failed for want of descriptors or memory.
const MIN_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The server's rustls configuration: its certificate, client certificates required from the
/// platform CA, HTTP/2 by ALPN (what tonic's `ServerTlsConfig` built).
///
/// # Errors
/// When a PEM does not parse or the key does not match the certificate.
pub fn server_tls(ca: &str, cert: &str, key: &str) -> anyhow::Result<TlsAcceptor> {
    let mut config = server_config(ca, cert, key)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The rustls configuration of [`server_tls`] for a side listener speaking other protocols
/// (TAXII over HTTP/1.1): the same certificate and the same client-certificate verification.
///
/// # Errors
/// As [`server_tls`].
pub fn server_tls_for(
    ca: &str,
    cert: &str,
    key: &str,
    alpn: &[&[u8]],
) -> anyhow::Result<TlsAcceptor> {
    let mut config = server_config(ca, cert, key)?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn server_config(ca: &str, cert: &str, key: &str) -> anyhow::Result<rustls::ServerConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots
            .add(ca.context("reading the CA certificate")?)
            .context("adding the CA certificate")?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder(roots.into())
        .build()
        .context("building the client-certificate verifier")?;
    let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .context("reading the server certificate")?;
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).context("reading the server key")?;
    rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .context("the server key does not match its certificate")
}

/// Raises the soft descriptor limit to the hard one, where allowed, and returns the soft limit
/// in force (None where the platform has none).
pub fn raise_descriptor_limit() -> Option<u64> {
    let Ok((soft, hard)) = rlimit::Resource::NOFILE.get() else {
        return None;
    };
    match rlimit::increase_nofile_limit(hard) {
        Ok(now) => {
            if now > soft {
                tracing::info!(from = soft, to = now, "raised the open-file limit");
            }
            Some(now)
        }
        Err(e) => {
            tracing::warn!(soft, hard, error = %e, "could not raise the open-file limit");
            Some(soft)
        }
    }
}

/// The connection cap in force: the configured one, lowered to what the descriptor limit can
/// hold, so that the cap and not EMFILE is what a flood meets.
pub fn effective_cap(configured: usize, descriptor_limit: Option<u64>) -> usize {
    let Some(limit) = descriptor_limit else {
        return configured;
    };
    let room = usize::try_from(limit.saturating_sub(RESERVED_DESCRIPTORS))
        .unwrap_or(usize::MAX)
        .max(1);
    if room < configured {
        tracing::warn!(
            configured,
            cap = room,
            descriptor_limit = limit,
            "the open-file limit is below connections.max; serving at most {room} connections"
        );
        room
    } else {
        configured
    }
}

/// A TLS connection that has completed its handshake, holding its slot until it closes.
pub struct Admitted {
    stream: TlsStream<TcpStream>,
    _slot: OwnedSemaphorePermit,
}

impl Connected for Admitted {
    /// The same connect info as tonic's own TLS gives: the auth layer reads the peer
    /// certificates from it.
    type ConnectInfo = TlsConnectInfo<TcpConnectInfo>;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for Admitted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Admitted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// What the accept loop needs of a listener (a trait so the EMFILE back-off is testable).
pub trait Accept: Send + 'static {
    fn accept(&mut self) -> impl Future<Output = io::Result<TcpStream>> + Send;
}

impl Accept for TcpListener {
    async fn accept(&mut self) -> io::Result<TcpStream> {
        TcpListener::accept(self).await.map(|(stream, _)| stream)
    }
}

/// Starts the accept loop on `listener`; the stream yields connections whose TLS handshake
/// completed. Dropping the stream (tonic does at shutdown) stops the loop, closes the listening
/// socket and abandons the handshakes under way.
pub fn incoming(
    listener: impl Accept,
    tls: TlsAcceptor,
    limits: ConnectionLimits,
    cap: usize,
) -> ReceiverStream<Result<Admitted, Infallible>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(accept_loop(listener, tls, limits, cap, tx));
    ReceiverStream::new(rx)
}

type Sender = mpsc::Sender<Result<Admitted, Infallible>>;

async fn accept_loop(
    mut listener: impl Accept,
    tls: TlsAcceptor,
    limits: ConnectionLimits,
    cap: usize,
    tx: Sender,
) {
    let slots = Arc::new(Semaphore::new(cap));
    let handshakes = Handshakes::default();
    let mut backoff = MIN_BACKOFF;
    loop {
        let accepted = tokio::select! {
            _ = tx.closed() => break,
            accepted = listener.accept() => accepted,
        };
        let tcp = match accepted {
            Ok(tcp) => {
                backoff = MIN_BACKOFF;
                tcp
            }
            Err(e) => {
                match AcceptFailure::of(&e) {
                    // The peer gave up before we took its connection; the next one is waiting.
                    AcceptFailure::ThatConnection => continue,
                    AcceptFailure::OutOfResources => {
                        // A descriptor comes back when a half-open handshake goes.
                        let evicted = handshakes.evict_oldest();
                        tracing::warn!(error = %e, evicted, wait_ms = backoff.as_millis() as u64, "out of descriptors accepting a connection; backing off");
                    }
                    AcceptFailure::Other => {
                        tracing::warn!(error = %e, wait_ms = backoff.as_millis() as u64, "accepting a connection failed; backing off");
                    }
                }
                tokio::select! {
                    _ = tx.closed() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                // At the cap: an unfinished handshake is cheaper to lose than a newcomer.
                // With none, wait for any connection to close.
                if handshakes.evict_oldest() {
                    tracing::debug!("connection cap reached; dropped the oldest handshake");
                } else {
                    tracing::debug!("connection cap reached; waiting for a connection to close");
                }
                tokio::select! {
                    _ = tx.closed() => break,
                    slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                }
            }
        };
        configure(&tcp, &limits);
        handshakes.start(tls.clone(), tcp, slot, limits.handshake_timeout, tx.clone());
    }
    handshakes.abandon_all();
}

/// Nagle off (a unary answer's last frames otherwise waited for the client's delayed ACK) and
/// TCP keepalive, so a vanished peer's descriptor comes back even if HTTP/2 never notices.
fn configure(tcp: &TcpStream, limits: &ConnectionLimits) {
    let _ = tcp.set_nodelay(true);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(limits.keepalive_interval)
        .with_interval(limits.keepalive_timeout);
    let _ = socket2::SockRef::from(tcp).set_tcp_keepalive(&keepalive);
}

#[derive(Debug, PartialEq, Eq)]
enum AcceptFailure {
    ThatConnection,
    OutOfResources,
    Other,
}

impl AcceptFailure {
    fn of(e: &io::Error) -> Self {
        #[cfg(unix)]
        if let Some(code) = e.raw_os_error()
            && [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM].contains(&code)
        {
            return AcceptFailure::OutOfResources;
        }
        match e.kind() {
            io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock => AcceptFailure::ThatConnection,
            _ => AcceptFailure::Other,
        }
    }
}

/// The handshakes under way, oldest first, so that the oldest can be dropped.
#[derive(Clone, Default)]
struct Handshakes {
    inner: Arc<Mutex<HandshakesInner>>,
}

#[derive(Default)]
struct HandshakesInner {
    next: u64,
    running: BTreeMap<u64, AbortHandle>,
}

impl Handshakes {
    fn start(
        &self,
        tls: TlsAcceptor,
        tcp: TcpStream,
        slot: OwnedSemaphorePermit,
        timeout: Duration,
        tx: Sender,
    ) {
        // Held across the spawn, so the task's own removal comes after the insertion.
        let mut inner = self.inner.lock().expect("not poisoned");
        let id = inner.next;
        inner.next += 1;
        let done = Done {
            handshakes: self.clone(),
            id,
        };
        let task = tokio::spawn(async move {
            let _done = done;
            let peer = tcp.peer_addr().ok();
            match tokio::time::timeout(timeout, tls.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    let _ = tx
                        .send(Ok(Admitted {
                            stream,
                            _slot: slot,
                        }))
                        .await;
                }
                Ok(Err(e)) => tracing::debug!(?peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(?peer, "TLS handshake timed out"),
            }
        });
        inner.running.insert(id, task.abort_handle());
    }

    /// Drops the oldest handshake under way; false when there is none.
    fn evict_oldest(&self) -> bool {
        let oldest = self.inner.lock().expect("not poisoned").running.pop_first();
        match oldest {
            Some((_, task)) => {
                task.abort();
                true
            }
            None => false,
        }
    }

    fn abandon_all(&self) {
        let running = std::mem::take(&mut self.inner.lock().expect("not poisoned").running);
        for task in running.into_values() {
            task.abort();
        }
    }
}

/// Removes a handshake from [`Handshakes`] however its task ends (done, timed out, aborted).
struct Done {
    handshakes: Handshakes,
    id: u64,
}

impl Drop for Done {
    fn drop(&mut self) {
        if let Ok(mut inner) = self.handshakes.inner.lock() {
            inner.running.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A listener out of descriptors: every accept fails with EMFILE.
    struct Exhausted(Arc<AtomicUsize>);

    impl Accept for Exhausted {
        async fn accept(&mut self) -> io::Result<TcpStream> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(io::Error::from_raw_os_error(libc::EMFILE))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn out_of_descriptors_the_accept_loop_backs_off_instead_of_spinning() {
        crate::app::install_crypto_provider();
        let calls = Arc::new(AtomicUsize::new(0));
        let pki = tempfile::tempdir().unwrap();
        let dev = crate::pki::DevPki::new(pki.path());
        dev.ensure().unwrap();
        let read = |p: std::path::PathBuf| std::fs::read_to_string(p).unwrap();
        let tls = server_tls(
            &read(dev.ca_cert()),
            &read(dev.server_cert()),
            &read(dev.server_key()),
        )
        .unwrap();
        let stream = incoming(
            Exhausted(calls.clone()),
            tls,
            ConnectionLimits::default(),
            10,
        );
        tokio::time::sleep(Duration::from_secs(10)).await;
        // 10 ms doubling to 1 s: about 16 attempts in 10 s, not millions.
        let n = calls.load(Ordering::SeqCst);
        assert!((5..=30).contains(&n), "{n} accept attempts in 10 s");
        drop(stream);
    }

    #[test]
    fn emfile_and_enfile_are_out_of_resources_and_an_aborted_connection_is_skipped() {
        let of = |code| AcceptFailure::of(&io::Error::from_raw_os_error(code));
        assert_eq!(of(libc::EMFILE), AcceptFailure::OutOfResources);
        assert_eq!(of(libc::ENFILE), AcceptFailure::OutOfResources);
        assert_eq!(of(libc::ECONNABORTED), AcceptFailure::ThatConnection);
        assert_eq!(of(libc::EINVAL), AcceptFailure::Other);
    }

    #[test]
    fn the_cap_leaves_room_for_the_database_under_a_low_descriptor_limit() {
        assert_eq!(effective_cap(10_000, Some(1_024)), 768);
        assert_eq!(effective_cap(100, Some(1_024)), 100);
        assert_eq!(effective_cap(10_000, None), 10_000);
    }
}
