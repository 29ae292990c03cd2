//! The stdio channel: frames on the process's original stdin and stdout.
//!
//! At start the runtime duplicates descriptors 0 and 1 for its own use, then
//! points the process's stdout at stderr and its stdin at the null device.
//! From then on a capability's `println!` lands on stderr (which the parent
//! captures) and a stray read of stdin sees end of file, so neither can
//! corrupt or steal frames.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::take;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::take;
