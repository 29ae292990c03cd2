//! What differs by platform: the default kind of name, the private
//! directory, how a listener is locked down, who may connect, and how a
//! connection is half-closed. `unix.rs` and `windows.rs`
//! export the same items.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::{
    NAMESPACED_BY_DEFAULT, check_peer, create_private_dir, lock_down, shutdown_write,
};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::{
    NAMESPACED_BY_DEFAULT, check_peer, create_private_dir, lock_down, shutdown_write,
};
