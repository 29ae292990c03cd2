//! What a client knows of the nodes: their last heartbeat, and the
//! requests it has sent to each.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::wire::{NodeStatus, WireKey};

struct Node {
    status: NodeStatus,
    seen: Instant,
    /// Requests this client sent to the node since its last heartbeat:
    /// they keep the client from sending a burst to one node between two
    /// heartbeats.
    sent: usize,
    /// Requests of this client on the node that ended since its last
    /// heartbeat: their workers are free again.
    ended: usize,
    /// Keys this client's requests used on the node that its heartbeats
    /// do not list as warm yet.
    served: HashSet<WireKey>,
    /// The node said it leaves: it takes nothing more, and its requests
    /// may still end within the usual bound.
    left: bool,
}

impl Node {
    fn interval(&self) -> Duration {
        Duration::from_millis(self.status.interval_ms.max(1))
    }

    fn free(&self) -> usize {
        self.status
            .capacity
            .saturating_add(self.ended)
            .saturating_sub(self.status.leased + self.status.queued + self.sent)
    }
}

/// A node not heard of for this long is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(600);

/// Keys remembered per node between heartbeats, at most: they are
/// forgotten once a heartbeat lists them as warm.
const MAX_SERVED: usize = 1024;

/// The node table, fed by heartbeats.
#[derive(Default)]
pub(crate) struct Nodes {
    table: Mutex<HashMap<String, Node>>,
    notify: Notify,
}

impl Nodes {
    pub(crate) fn heard(&self, status: NodeStatus) {
        if let Ok(mut table) = self.table.lock() {
            // Nodes not heard of for long are forgotten.
            table.retain(|_, node| node.seen.elapsed() < FORGET_AFTER);
            if status.leaving {
                if let Some(node) = table.get_mut(&status.node) {
                    node.left = true;
                    node.seen = Instant::now();
                }
            } else {
                let mut served = table
                    .remove(&status.node)
                    .map(|node| node.served)
                    .unwrap_or_default();
                served.retain(|key| !status.warm.iter().any(|(warm, _)| warm == key));
                if served.len() > MAX_SERVED {
                    served.clear();
                }
                table.insert(
                    status.node.clone(),
                    Node {
                        status,
                        seen: Instant::now(),
                        sent: 0,
                        ended: 0,
                        served,
                        left: false,
                    },
                );
            }
        }
        self.notify.notify_waiters();
    }

    /// Resolves at the next heartbeat.
    pub(crate) fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    pub(crate) fn live(&self, missed: u32) -> Vec<NodeStatus> {
        let Ok(table) = self.table.lock() else {
            return Vec::new();
        };
        table
            .values()
            .filter(|node| !node.left && node.seen.elapsed() <= node.interval() * missed)
            .map(|node| node.status.clone())
            .collect()
    }

    /// The node's heartbeat interval, if it is known.
    pub(crate) fn interval(&self, node: &str) -> Option<Duration> {
        let table = self.table.lock().ok()?;
        table.get(node).map(Node::interval)
    }

    /// The node's last heartbeat number, and whether that heartbeat lists
    /// request `id` as running.
    pub(crate) fn listing(&self, node: &str, id: &str) -> Option<(u64, bool)> {
        let table = self.table.lock().ok()?;
        let status = &table.get(node)?.status;
        Some((
            status.beat,
            status.requests.iter().any(|running| running == id),
        ))
    }

    /// The node's incarnation, as its last heartbeat gave it.
    pub(crate) fn incarnation(&self, node: &str) -> Option<String> {
        let table = self.table.lock().ok()?;
        table
            .get(node)
            .map(|entry| entry.status.incarnation.clone())
    }

    /// The node's last heartbeat number.
    pub(crate) fn beat(&self, node: &str) -> Option<u64> {
        let table = self.table.lock().ok()?;
        table.get(node).map(|entry| entry.status.beat)
    }

    /// Why `node` should not be waited for to take a request: it left,
    /// drains, or missed `missed` heartbeats.
    pub(crate) fn unavailable(&self, node: &str, missed: u32) -> Option<String> {
        let table = self.table.lock().ok()?;
        match table.get(node) {
            None => Some("it is not known".to_owned()),
            Some(entry) if entry.left => Some("it left".to_owned()),
            Some(entry) if entry.status.draining => Some("it is draining".to_owned()),
            Some(entry) if entry.seen.elapsed() > entry.interval() * missed => {
                Some("it was lost before it took the request".to_owned())
            }
            Some(_) => None,
        }
    }

    /// How long `node` has been silent, if longer than `missed` of its
    /// intervals. A node that said it leaves counts from then; a node
    /// never heard from counts from `since`, with the `interval` it gave.
    pub(crate) fn lost(
        &self,
        node: &str,
        missed: u32,
        since: Instant,
        interval: Duration,
    ) -> Option<Duration> {
        let table = self.table.lock().ok()?;
        let (silent, allowed) = match table.get(node) {
            Some(entry) => (entry.seen.elapsed(), entry.interval() * missed),
            None => (since.elapsed(), interval * missed),
        };
        (silent > allowed).then_some(silent)
    }

    /// The node for a request with `key`: a live node warm for it with a
    /// free worker, else the live node with the most free workers; `None`
    /// when no node has a free worker (the queue group decides).
    pub(crate) fn pick(
        &self,
        key: &WireKey,
        missed: u32,
        exclude: &HashSet<String>,
    ) -> Option<String> {
        let mut table = self.table.lock().ok()?;
        let candidates = table.values().filter(|node| {
            !node.left
                && !exclude.contains(&node.status.node)
                && !node.status.draining
                && node.seen.elapsed() <= node.interval() * missed
                && node.free() > 0
        });
        let warm = |node: &&Node| {
            node.served.contains(key) || node.status.warm.iter().any(|(warm, _)| warm == key)
        };
        let best = candidates
            .max_by_key(|node| (warm(node), node.free()))
            .map(|node| node.status.node.clone())?;
        if let Some(node) = table.get_mut(&best) {
            node.sent += 1;
        }
        Some(best)
    }

    /// A request of this client on `node` ended; its child is warm for
    /// `key` if `warm`.
    pub(crate) fn done(&self, node: &str, key: &WireKey, warm: bool) {
        if let Ok(mut table) = self.table.lock()
            && let Some(entry) = table.get_mut(node)
        {
            entry.ended += 1;
            if warm {
                entry.served.insert(key.clone());
            }
        }
    }
}
