//! The one-time token a child presents first on its connection.
//!
//! Format (see [`TOKEN`](crate::env::TOKEN)): the token's length as a 4-byte
//! big-endian unsigned integer, then its ASCII bytes. The parent answers
//! nothing; it either goes on with the protocol or closes the connection.

use std::fmt;
use std::io;
use std::time::Duration;

use subtle::ConstantTimeEq;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Random bytes in a token: 256 bits, 64 hex digits.
const TOKEN_BYTES: usize = 32;

/// Random bytes in a socket name: 128 bits, 32 hex digits.
pub(crate) const NAME_BYTES: usize = 16;

/// A fresh secret for one child.
pub(crate) struct Token(String);

impl Token {
    /// A new token from the operating system's random source.
    pub(crate) fn generate() -> io::Result<Self> {
        random_hex(TOKEN_BYTES).map(Self)
    }

    /// The token, as the child gets it in its environment.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// Reads a peer's first bytes and checks that they present this token.
    /// Reads nothing past the token, so the protocol starts right after it.
    pub(crate) async fn check(&self, peer: &mut (impl AsyncRead + Unpin)) -> Result<(), Rejection> {
        let mut len = [0u8; 4];
        peer.read_exact(&mut len)
            .await
            .map_err(Rejection::from_io)?;
        let len = u32::from_be_bytes(len);
        // Refused before reading on, so a huge length costs nothing.
        if usize::try_from(len).ok() != Some(self.0.len()) {
            return Err(Rejection::Length(len));
        }
        let mut presented = vec![0u8; self.0.len()];
        peer.read_exact(&mut presented)
            .await
            .map_err(Rejection::from_io)?;
        if bool::from(presented.ct_eq(self.0.as_bytes())) {
            Ok(())
        } else {
            Err(Rejection::Mismatch)
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

/// `bytes` random bytes as lowercase hex.
pub(crate) fn random_hex(bytes: usize) -> io::Result<String> {
    let mut random = vec![0u8; bytes];
    getrandom::fill(&mut random)?;
    Ok(random.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Why a connection was refused.
#[derive(Debug, thiserror::Error)]
#[cfg_attr(windows, allow(dead_code))]
pub(crate) enum Rejection {
    /// The announced length is not the token's.
    #[error("it announced a token of {0} bytes")]
    Length(u32),
    /// The right length, the wrong bytes.
    #[error("it presented a wrong token")]
    Mismatch,
    /// The peer closed before presenting a whole token.
    #[error("it closed before presenting a token")]
    Closed,
    /// The peer presented nothing in time.
    #[error("it presented no token within {0:?}")]
    Silent(Duration),
    /// Too many peers were waiting to present a token already.
    #[error("{0} other peers were already connected without a token")]
    Crowded(usize),
    /// The peer runs as another user.
    #[error("it runs as user {0}, not as this process's user")]
    ForeignUser(u32),
    /// The peer is neither the spawned child nor a process of its group.
    #[error("it is process {0}, not the spawned child or one of its group")]
    ForeignProcess(u32),
    /// The peer's credentials could not be read.
    #[error("its credentials could not be read: {0}")]
    NoCredentials(io::Error),
    /// Reading failed.
    #[error("reading its token failed: {0}")]
    Io(io::Error),
}

impl Rejection {
    fn from_io(err: io::Error) -> Self {
        if err.kind() == io::ErrorKind::UnexpectedEof {
            Self::Closed
        } else {
            Self::Io(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn presented(token: &str) -> Vec<u8> {
        let mut bytes = u32::try_from(token.len()).unwrap().to_be_bytes().to_vec();
        bytes.extend_from_slice(token.as_bytes());
        bytes
    }

    async fn check(token: &Token, bytes: &[u8]) -> Result<(), Rejection> {
        token.check(&mut &bytes[..]).await
    }

    #[tokio::test]
    async fn the_right_token_passes_and_nothing_after_it_is_read() {
        let token = Token::generate().unwrap();
        let mut bytes = presented(token.as_str());
        bytes.extend_from_slice(b"hello");
        let mut peer = &bytes[..];
        token.check(&mut peer).await.unwrap();
        assert_eq!(peer, b"hello");
    }

    #[tokio::test]
    async fn other_first_bytes_are_refused() {
        let token = Token::generate().unwrap();
        let other = Token::generate().unwrap();
        assert!(matches!(
            check(&token, &presented(other.as_str())).await,
            Err(Rejection::Mismatch)
        ));
        assert!(matches!(
            check(&token, &u32::MAX.to_be_bytes()).await,
            Err(Rejection::Length(u32::MAX))
        ));
        assert!(matches!(
            check(&token, &presented(token.as_str())[..20]).await,
            Err(Rejection::Closed)
        ));
        assert!(matches!(check(&token, b"").await, Err(Rejection::Closed)));
    }

    #[test]
    fn tokens_are_fresh_256_bit_hex() {
        let (a, b) = (Token::generate().unwrap(), Token::generate().unwrap());
        assert_eq!(a.as_str().len(), 64);
        assert!(a.as_str().bytes().all(|byte| byte.is_ascii_hexdigit()));
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(format!("{a:?}"), "Token(..)");
    }
}
