//! One stream as a reader and a writer: `interprocess` streams read and
//! write through shared references, so both halves hold the same stream.

use std::io::{self, Read, Write};
use std::sync::Arc;

use interprocess::local_socket::Stream;

/// A shared handle on a stream, reading or writing.
pub(super) struct Half(Arc<Stream>);

/// A reader and a writer on `stream`.
pub(super) fn halves(stream: Stream) -> (Half, Half) {
    let stream = Arc::new(stream);
    (Half(Arc::clone(&stream)), Half(stream))
}

impl Read for Half {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.0).read(buf)
    }
}

impl Write for Half {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.0).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        (&*self.0).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self.0).flush()
    }
}
