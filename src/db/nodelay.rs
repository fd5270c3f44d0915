//! Connecting to PostgreSQL over TCP with `TCP_NODELAY` set, which sqlx 0.9 cannot do itself.
//!
//! Why: sqlx opens its TCP socket internally (`sqlx_core::net::connect_tcp`) and offers no hook
//! to set socket options on it. Without `TCP_NODELAY`, Nagle's algorithm holds back the second
//! of two back-to-back small writes until the first is acknowledged, and the server delays that
//! ACK by ~40 ms. The rustls handshake writes twice in a row two times (ChangeCipherSpec then
//! the retried ClientHello; Finished then the StartupMessage), so a TLS connection to a local
//! server took ~95 ms instead of ~7 ms (measured with strace: two 44 ms stalls). Plain TCP is
//! not affected: sqlx flushes each batch of messages in one write and then reads.
//!
//! How: open the TCP connection here (so "connection refused" is our own, precise error), set
//! `TCP_NODELAY`, then hand it to sqlx through a one-shot relay on a Linux abstract unix socket
//! (no file, nothing to clean up): sqlx connects to the relay (`PgConnectOptions::socket`),
//! still negotiates TLS end to end with the server, verifying the original host name, and the
//! relay copies bytes both ways until either side closes. Only the relay's own process may
//! use it (peer credentials are checked).
//!
//! Loopback addresses under `sslmode=prefer` (the default: TLS if the server offers it) are
//! connected in plain TCP first, and over TLS only if the server refuses that (`pg_hba.conf`
//! with `hostssl` lines only): traffic that never leaves the host gains nothing from TLS, and
//! the handshake, the encryption and the relay's extra hop cost a one-column `generate` at 100
//! tables 23 ms of CPU (11 client, 12 server) and 16 ms of its 193 (medians of 15 alternating
//! runs). An explicit `disable`, `require` or `verify-*` is followed as given, and remote
//! hosts keep `prefer`'s TLS.
//!
//! Rejected alternatives: switching a local host to the unix socket changes which `pg_hba.conf`
//! rules apply (`local` vs `host`, peer authentication) and needs the socket folder; turning
//! TLS off for `sslmode=prefer` everywhere would leave remote traffic in clear text.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{ConnectOptions as _, PgConnection};
use tokio::io::copy_bidirectional_with_sizes;
use tokio::net::{TcpStream, UnixListener, UnixStream};

/// Bytes the relay moves per read, each way. Tokio's default (8 KiB) made a backup or
/// restore cost two extra system calls per 8 KiB of table data.
const RELAY_BUFFER: usize = 256 * 1024;

/// Connects like `PgConnection::connect_with`, with `TCP_NODELAY` on TCP connections that may
/// use TLS; to a loopback address under `sslmode=prefer`, without TLS unless the server
/// requires it.
pub async fn connect(options: &PgConnectOptions) -> Result<PgConnection, sqlx::Error> {
    if plain_first(options) {
        match options.clone().ssl_mode(PgSslMode::Disable).connect().await {
            Err(err) if refused_without_tls(&err) => {}
            result => return result,
        }
    }
    if !wants_relay(options) {
        return options.connect().await;
    }
    // An IPv6 literal may keep its URL brackets.
    let host = options.get_host().trim_matches(['[', ']']);
    let tcp = TcpStream::connect((host, options.get_port())).await?;
    tcp.set_nodelay(true)?;
    let name = relay_name();
    let listener = UnixListener::bind(format!("{name}/.s.PGSQL.{}", options.get_port()))?;
    let mut relay = AbortOnDrop(Some(tokio::spawn(relay(listener, tcp))));
    let conn = options.clone().socket(&name).connect().await?;
    // From here the relay lives as long as the connection (it ends when either side closes).
    relay.0 = None;
    Ok(conn)
}

/// Stops the relay when the connection attempt fails or is abandoned (a caller's timeout
/// drops this future), so no TCP connection stays open behind it.
struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// Whether sqlx would open a TCP socket and possibly upgrade it to TLS.
fn wants_relay(options: &PgConnectOptions) -> bool {
    cfg!(target_os = "linux")
        && options.get_socket().is_none()
        && !options.get_host().starts_with('/')
        && !matches!(
            options.get_ssl_mode(),
            PgSslMode::Disable | PgSslMode::Allow
        )
}

/// `sslmode=prefer` over TCP to this host itself.
fn plain_first(options: &PgConnectOptions) -> bool {
    matches!(options.get_ssl_mode(), PgSslMode::Prefer)
        && options.get_socket().is_none()
        && is_loopback(options.get_host())
}

/// `localhost`, or an address in 127.0.0.0/8 or `::1` (an IPv6 literal may keep its URL
/// brackets).
fn is_loopback(host: &str) -> bool {
    let host = host.trim_matches(['[', ']']);
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The server's answer to a connection without TLS that only `hostssl` rules would accept:
/// `28000` (invalid authorization: "no pg_hba.conf entry ... no encryption").
fn refused_without_tls(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("28000"))
}

/// A process-unique abstract socket name (the leading NUL selects Linux's abstract namespace).
fn relay_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("\0migrated-relay-{}-{n}", std::process::id())
}

/// Accepts the one connection from this process, then copies bytes until either side closes.
async fn relay(listener: UnixListener, mut tcp: TcpStream) {
    let Some(mut local) = accept_own(&listener).await else {
        return;
    };
    drop(listener);
    // Errors end the relay, which closes both sockets: sqlx then reports the broken connection.
    let _ = copy_bidirectional_with_sizes(&mut local, &mut tcp, RELAY_BUFFER, RELAY_BUFFER).await;
}

async fn accept_own(listener: &UnixListener) -> Option<UnixStream> {
    let own = i32::try_from(std::process::id()).ok()?;
    loop {
        let (stream, _) = listener.accept().await.ok()?;
        if stream.peer_cred().ok().and_then(|c| c.pid()) == Some(own) {
            return Some(stream);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(url: &str) -> PgConnectOptions {
        url.parse().unwrap()
    }

    #[test]
    fn wants_relay_tcp_with_tls_possible_true() {
        assert!(wants_relay(&options("postgres://u@db.example:5432/x")));
        assert!(wants_relay(&options(
            "postgres://u@127.0.0.1/x?sslmode=require"
        )));
    }

    #[test]
    fn plain_first_loopback_under_default_prefer_only() {
        for url in [
            "postgres://u@127.0.0.1/x",
            "postgres://u@localhost:5433/x",
            "postgres://u@127.0.0.2/x?sslmode=prefer",
            "postgres://u@[::1]:5432/x",
        ] {
            assert!(plain_first(&options(url)), "{url}");
        }
        for url in [
            "postgres://u@db.example/x",
            "postgres://u@10.0.0.5/x",
            "postgres://u@127.0.0.1/x?sslmode=require",
            "postgres://u@127.0.0.1/x?sslmode=verify-full",
            "postgres://u@127.0.0.1/x?sslmode=disable",
            "postgres://u@%2Fvar%2Frun%2Fpostgresql/x",
        ] {
            assert!(!plain_first(&options(url)), "{url}");
        }
    }

    #[test]
    fn wants_relay_tls_disabled_or_unix_socket_false() {
        assert!(!wants_relay(&options(
            "postgres://u@127.0.0.1/x?sslmode=disable"
        )));
        assert!(!wants_relay(&options(
            "postgres://u@%2Fvar%2Frun%2Fpostgresql/x"
        )));
        assert!(!wants_relay(&options(
            "postgres:///x?host=/var/run/postgresql"
        )));
    }
}
