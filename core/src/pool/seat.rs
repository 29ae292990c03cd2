//! A slot taken out of the pool, returned exactly once.

use std::sync::Arc;

use crate::worker::Worker;

use super::SessionKey;
use super::parked::Parked;
use super::pool::Shared;

/// A slot held by an acquirer or a lease. Dropping it returns the slot (and
/// its worker, if it has one) to the pool; nothing else does, so a slot is
/// returned exactly once.
#[derive(Debug)]
pub(super) struct Seat<K: SessionKey> {
    shared: Arc<Shared<K>>,
    index: usize,
    /// The worker; `None` until an acquirer of an empty slot started one.
    pub(super) parked: Option<Box<Parked<K>>>,
    /// Cleared when the slot was handed back by other means.
    armed: bool,
}

impl<K: SessionKey> Seat<K> {
    pub(super) fn new(
        shared: Arc<Shared<K>>,
        index: usize,
        parked: Option<Box<Parked<K>>>,
    ) -> Self {
        Self {
            shared,
            index,
            parked,
            armed: true,
        }
    }

    pub(super) fn shared(&self) -> &Arc<Shared<K>> {
        &self.shared
    }

    pub(super) fn index(&self) -> usize {
        self.index
    }

    /// The worker of a seat that has one.
    pub(super) fn worker(&self) -> Option<&Worker> {
        self.parked.as_ref().map(|parked| &parked.worker)
    }

    /// Disarms the seat and hands over what it holds.
    pub(super) fn into_parts(mut self) -> (usize, Option<Box<Parked<K>>>) {
        self.armed = false;
        (self.index, self.parked.take())
    }
}

impl<K: SessionKey> Drop for Seat<K> {
    fn drop(&mut self) {
        if self.armed {
            Shared::give_back(&self.shared, self.index, self.parked.take());
        }
    }
}
