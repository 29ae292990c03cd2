//! Stray output kept off the channel.
//!
//! Once the transport has opened the channel (the stdio transport on
//! duplicates of descriptors 0 and 1), the runtime points the process's
//! stdout at stderr and its stdin at the null device. From then on a
//! capability's `println!` lands on stderr (which the parent captures) and
//! a stray read of stdin sees end of file, so neither can corrupt or steal
//! frames, whatever the transport.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as platform;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as platform;

/// Points stdout at stderr and stdin at the null device.
pub(crate) fn stray_output() -> std::io::Result<()> {
    platform::redirect()
}
