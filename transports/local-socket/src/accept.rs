//! The connect step: accept until a peer presents the token.

use std::io;
use std::time::Duration;

use async_trait::async_trait;
use bulkhead::transport::{ChildPipes, Connect, Connection, TransportError};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::StreamCommon;
use interprocess::local_socket::traits::tokio::Listener as _;

use crate::half::halves;
use crate::listener::Bound;
use crate::platform;
use crate::token::{Rejection, Token};

/// How long a peer has, after it connected, to present its token. The real
/// child writes it right after connecting.
pub const PRESENT_TIMEOUT: Duration = Duration::from_secs(2);

/// Peers that have connected but not presented a token yet, at most. Beyond
/// that, new connections are refused at once.
pub const MAX_PENDING: usize = 64;

/// Waits for the child on a bound listener.
pub(crate) struct AcceptChild {
    pub(crate) bound: Bound,
    pub(crate) token: Token,
    /// Admit peers of any process of this user, not only the child's group.
    pub(crate) any_process: bool,
}

#[async_trait]
impl Connect for AcceptChild {
    async fn connect(
        self: Box<Self>,
        pipes: &mut ChildPipes,
    ) -> Result<Connection, TransportError> {
        let Self {
            bound,
            token,
            any_process,
        } = *self;
        let child = if any_process { None } else { pipes.pid };
        let stream = accept_child(&bound, &token, child).await?;
        // The name has served its purpose: close the listener and remove
        // its file now, so nothing is left whatever becomes of the child.
        drop(bound);
        let (reader, writer) = halves(stream);
        Ok(Connection::new(reader, writer))
    }
}

/// Accepts connections until one presents `token`. A peer that cannot be
/// the child (another user, another process) is closed at once, before
/// anything is read from it; the others are checked concurrently, so that
/// a peer that presents nothing cannot hold the child up.
async fn accept_child(
    bound: &Bound,
    token: &Token,
    child: Option<u32>,
) -> Result<Stream, TransportError> {
    let mut pending = FuturesUnordered::new();
    let mut foreign = Foreign::default();
    loop {
        tokio::select! {
            accepted = bound.listener.accept() => match accepted {
                Ok(stream) => match platform::check_peer(&stream, child) {
                    Err(rejection) => foreign.refused(bound, &rejection),
                    Ok(()) if pending.len() < MAX_PENDING => pending.push(check(stream, token)),
                    Ok(()) => refuse(bound, &stream, &Rejection::Crowded(MAX_PENDING)),
                },
                Err(err) if transient(&err) => {
                    tracing::warn!(address = %bound.address, error = %err, "a connection to the local socket failed");
                }
                Err(source) => {
                    return Err(TransportError::Io {
                        what: "accepting on the local socket",
                        source,
                    });
                }
            },
            Some((stream, checked)) = pending.next(), if !pending.is_empty() => match checked {
                Ok(()) => {
                    foreign.report(bound);
                    return Ok(stream);
                }
                Err(rejection) => refuse(bound, &stream, &rejection),
            },
        }
    }
}

/// Reads and checks a peer's token, giving up after [`PRESENT_TIMEOUT`].
async fn check(mut stream: Stream, token: &Token) -> (Stream, Result<(), Rejection>) {
    let checked = tokio::time::timeout(PRESENT_TIMEOUT, token.check(&mut stream))
        .await
        .unwrap_or(Err(Rejection::Silent(PRESENT_TIMEOUT)));
    (stream, checked)
}

/// Logs a refused peer; the caller drops its connection.
fn refuse(bound: &Bound, stream: &Stream, rejection: &Rejection) {
    let pid = stream.peer_creds().ok().and_then(|creds| creds.pid());
    tracing::warn!(
        address = %bound.address,
        peer_pid = ?pid,
        "refused a connection to the local socket: {rejection}"
    );
}

/// Connections from processes that cannot be the child, counted so that a
/// flood of them is logged once rather than once each.
#[derive(Debug, Default)]
struct Foreign {
    count: u64,
}

impl Foreign {
    fn refused(&mut self, bound: &Bound, rejection: &Rejection) {
        if self.count == 0 {
            tracing::warn!(address = %bound.address, "refused a connection to the local socket: {rejection}");
        } else {
            tracing::debug!(address = %bound.address, "refused a connection to the local socket: {rejection}");
        }
        self.count += 1;
    }

    fn report(&self, bound: &Bound) {
        if self.count > 1 {
            tracing::warn!(address = %bound.address, refused = self.count, "the child connected after other processes tried to");
        }
    }
}

/// Errors that end one connection attempt, not the listener.
fn transient(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::Interrupted
    )
}
