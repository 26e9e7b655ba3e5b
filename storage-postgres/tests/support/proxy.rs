//! A TCP proxy in front of the test server that can cut the network the way a
//! partition does: every socket stays open, nothing gets through in either direction,
//! and what was sent meanwhile arrives once it heals (TCP retransmits it).
//!
//! - [`PartitionProxy::start`]: listens on `127.0.0.1:0` and relays each accepted
//!   connection to the server the test URL names; [`PartitionProxy::url`] is the test
//!   URL pointed at the proxy.
//! - [`PartitionProxy::partition`] and [`PartitionProxy::heal`]: stop and resume
//!   relaying. While partitioned, each direction of each connection holds the chunk it
//!   has read (further bytes wait in the kernel's buffers), new connections are
//!   accepted and held the same way, and no socket is closed, not even one whose peer
//!   hung up.
//! - [`PartitionProxy::partition_after_next_request`]: the partition starts right
//!   after the next statement reaches the server, so its answer never comes back.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sqlx::postgres::PgConnectOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;

/// The state of the link between the clients and the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Up,
    /// Up until the next client-to-server chunk that runs a statement has been
    /// forwarded, then down.
    DownAfterNextRequest,
    Down,
}

impl Link {
    fn relays(self) -> bool {
        self != Link::Down
    }
}

/// What both directions of every connection share.
struct Shared {
    link: watch::Sender<Link>,
    /// When the link last went down.
    down_since: Mutex<Option<Instant>>,
    /// Bytes read from the server while the link was down (held, not yet delivered).
    held_from_server: AtomicU64,
    /// Bytes read from the clients while the link was down.
    held_from_clients: AtomicU64,
    tasks: Mutex<Vec<AbortHandle>>,
}

impl Shared {
    /// Notes that the link goes down now.
    fn go_down(&self) {
        *self.down_since.lock().expect("not poisoned") = Some(Instant::now());
    }

    fn down_since(&self) -> Option<Instant> {
        *self.down_since.lock().expect("not poisoned")
    }
}

/// A proxy to the test server whose link can be partitioned and healed; dropping it
/// closes every connection through it.
pub(crate) struct PartitionProxy {
    url: String,
    shared: Arc<Shared>,
}

impl PartitionProxy {
    /// A proxy relaying to the server `url` names (a TCP host, not a Unix socket).
    pub(crate) async fn start(url: &str) -> Self {
        let options = PgConnectOptions::from_str(url).expect("the test URL parses");
        let host = options.get_host().to_owned();
        assert!(
            !host.starts_with('/'),
            "the partition proxy needs a TCP server, not the Unix socket {host}"
        );
        let upstream = format!("{host}:{}", options.get_port());
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the proxy binds a local port");
        let local = listener.local_addr().expect("a bound address");
        let shared = Arc::new(Shared {
            link: watch::Sender::new(Link::Up),
            down_since: Mutex::new(None),
            held_from_server: AtomicU64::new(0),
            held_from_clients: AtomicU64::new(0),
            tasks: Mutex::new(Vec::new()),
        });
        let accepting = tokio::spawn(accept(listener, upstream, Arc::clone(&shared)));
        shared
            .tasks
            .lock()
            .expect("not poisoned")
            .push(accepting.abort_handle());
        Self {
            url: with_address(url, local),
            shared,
        }
    }

    /// The test URL with the proxy's address in place of the server's.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Stops relaying now, in both directions, on every connection; returns when.
    pub(crate) fn partition(&self) -> Instant {
        self.shared.go_down();
        self.shared.link.send_replace(Link::Down);
        self.shared.down_since().expect("just went down")
    }

    /// Stops relaying right after the next chunk a client sends that runs a statement
    /// (an `Execute` or a simple `Query` message) has been forwarded to the server:
    /// the statement runs, its answer is held. Pings of pooled connections (a bare
    /// `Sync`) and the preparing of a statement (`Parse`, `Describe`) go through
    /// before it, as they change nothing on the server.
    pub(crate) fn partition_after_next_request(&self) {
        self.shared.link.send_replace(Link::DownAfterNextRequest);
    }

    /// Waits until the link is down (for [`PartitionProxy::partition_after_next_request`]);
    /// returns when it went down.
    pub(crate) async fn partitioned(&self) -> Instant {
        let mut link = self.shared.link.subscribe();
        link.wait_for(|link| *link == Link::Down)
            .await
            .expect("the proxy owns the sender");
        self.shared.down_since().expect("the link is down")
    }

    /// Resumes relaying; what was held is delivered first, in order.
    pub(crate) fn heal(&self) {
        self.shared.link.send_replace(Link::Up);
    }

    /// Bytes the server sent that were held by a partition so far.
    pub(crate) fn held_from_server(&self) -> u64 {
        self.shared.held_from_server.load(Ordering::SeqCst)
    }

    /// Bytes the clients sent that were held by a partition so far.
    pub(crate) fn held_from_clients(&self) -> u64 {
        self.shared.held_from_clients.load(Ordering::SeqCst)
    }
}

impl Drop for PartitionProxy {
    fn drop(&mut self) {
        for task in self
            .shared
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
    }
}

/// `url` with its `host:port` replaced by `address`.
fn with_address(url: &str, address: SocketAddr) -> String {
    let start = url.find("://").expect("the URL has a scheme") + 3;
    let rest = &url[start..];
    let authority_len = rest.find(['/', '?']).unwrap_or(rest.len());
    let host_start = rest[..authority_len].rfind('@').map_or(0, |at| at + 1);
    format!(
        "{}{}{}",
        &url[..start + host_start],
        address,
        &rest[authority_len..]
    )
}

async fn accept(listener: TcpListener, upstream: String, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let Ok(server) = TcpStream::connect(&upstream).await else {
            // The client sees its connection close, as it would without the proxy.
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (client_read, client_write) = client.into_split();
        let (server_read, server_write) = server.into_split();
        let up = tokio::spawn(pump(
            client_read,
            server_write,
            Arc::clone(&shared),
            Direction::ToServer,
        ));
        let down = tokio::spawn(pump(
            server_read,
            client_write,
            Arc::clone(&shared),
            Direction::ToClient,
        ));
        let mut tasks = shared.tasks.lock().expect("not poisoned");
        tasks.push(up.abort_handle());
        tasks.push(down.abort_handle());
    }
}

/// Whether `chunk`, read from a client, holds an `Execute` (extended protocol) or a
/// `Query` (simple protocol) message: each message is a type byte and a big-endian
/// length that counts itself but not the type byte. A startup or SSL request (no
/// type byte) does not parse as one.
fn runs_a_statement(chunk: &[u8]) -> bool {
    let mut rest = chunk;
    while let [kind, a, b, c, d, ..] = *rest {
        if kind == b'E' || kind == b'Q' {
            return true;
        }
        let len = usize::try_from(u32::from_be_bytes([a, b, c, d])).expect("u32 fits usize");
        let Some(next) = rest.get(1 + len..) else {
            return false;
        };
        if len < 4 {
            return false;
        }
        rest = next;
    }
    false
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    ToServer,
    ToClient,
}

/// Relays `from` to `to`, holding each chunk (and the end of the stream) while the
/// link is down.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    shared: Arc<Shared>,
    way: Direction,
) {
    let mut link = shared.link.subscribe();
    let mut buf = vec![0_u8; 64 * 1024];
    loop {
        let n = from.read(&mut buf).await.unwrap_or(0);
        let chunk = &buf[..n];
        // The armed partition starts as this request goes through: whatever any
        // connection reads from now on is held, its answer included.
        let last_before_partition = way == Direction::ToServer
            && runs_a_statement(chunk)
            && shared.link.send_if_modified(|link| {
                let armed = *link == Link::DownAfterNextRequest;
                if armed {
                    shared.go_down();
                    *link = Link::Down;
                }
                armed
            });
        if !last_before_partition && !link.borrow_and_update().relays() {
            let held = match way {
                Direction::ToServer => &shared.held_from_clients,
                Direction::ToClient => &shared.held_from_server,
            };
            held.fetch_add(
                u64::try_from(n).expect("a chunk fits u64"),
                Ordering::SeqCst,
            );
            if link.wait_for(|link| link.relays()).await.is_err() {
                return;
            }
        }
        if n == 0 {
            let _ = to.shutdown().await;
            return;
        }
        if to.write_all(chunk).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let len = u32::try_from(body.len() + 4).unwrap();
        let mut message = vec![kind];
        message.extend(len.to_be_bytes());
        message.extend(body);
        message
    }

    #[test]
    fn only_an_execute_or_a_query_counts_as_running_a_statement() {
        let ping = message(b'S', b"");
        let prepare = [
            message(b'P', b"\0UPDATE t\0\0\0"),
            message(b'D', b"S\0"),
            ping.clone(),
        ]
        .concat();
        let execute = [
            message(b'B', b"\0\0\0\0\0\0"),
            message(b'E', b"\0\0\0\0\0"),
            ping.clone(),
        ]
        .concat();
        let query = message(b'Q', b"SELECT 1\0");
        let startup = [0, 0, 0, 8, 4, 210, 22, 47].to_vec();

        let runs =
            [&ping, &prepare, &execute, &query, &startup].map(|chunk| runs_a_statement(chunk));

        assert_eq!(runs, [false, false, true, true, false]);
    }

    #[test]
    fn the_proxy_url_keeps_everything_but_the_address() {
        let proxy: SocketAddr = "127.0.0.1:6000".parse().unwrap();

        let urls = [
            "postgres://postgres@127.0.0.1:5432/test",
            "postgres://u:p@db.internal/app?sslmode=disable",
            "postgresql://localhost:5432",
        ];

        assert_eq!(
            urls.map(|url| with_address(url, proxy)),
            [
                "postgres://postgres@127.0.0.1:6000/test",
                "postgres://u:p@127.0.0.1:6000/app?sslmode=disable",
                "postgresql://127.0.0.1:6000",
            ]
        );
    }
}
