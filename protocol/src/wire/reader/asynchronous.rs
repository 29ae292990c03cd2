//! The async face of the frame reader, as the parent reads its child.

use tokio::io::{AsyncRead, AsyncReadExt};

use super::{Buffered, FrameReader};
use crate::wire::FrameError;

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// The next frame body; `None` at a clean end of stream. Cancel safe:
    /// bytes read before the future is dropped stay buffered. After an
    /// error the stream cannot be trusted: read no further.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use bulkhead_protocol::wire::FrameReader;
    ///
    /// let bytes: &[u8] = &[0, 0, 0, 2, b'h', b'i'];
    /// let mut reader = FrameReader::new(bytes, 1024);
    /// assert_eq!(reader.next().await.unwrap().unwrap(), b"hi");
    /// assert!(reader.next().await.is_none());
    /// # });
    /// ```
    pub async fn next(&mut self) -> Option<Result<&[u8], FrameError>> {
        loop {
            match self.buffered() {
                Err(err) => return Some(Err(err)),
                Ok(Buffered::Frame(len)) => return Some(Ok(self.take(len))),
                Ok(Buffered::Partial) => {}
            }
            match self.io.read_buf(&mut self.buf).await {
                Ok(0) => return self.end(),
                Ok(_) => {}
                Err(err) => return Some(Err(FrameError::Io(err))),
            }
        }
    }
}
