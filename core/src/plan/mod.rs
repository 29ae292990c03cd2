//! Planning: work items grouped by session key into deterministic batches,
//! for [`Pool::run_plan`](crate::Pool::run_plan).
//!
//! A [`Planner`] takes [`WorkItem`]s (an id, a session key, an optional
//! cost estimate, the caller's data) and makes a [`Plan`]: batches of items
//! of one key each, so that one session open serves a whole batch. The plan
//! depends on the items only, never on their order or on any worker: the
//! same items give the same batches, each with a stable, readable
//! [`fingerprint`](PlannedBatch::fingerprint) a caller can use as a cache
//! key. See `docs/planner.md` for the decisions.
//!
//! ```
//! use bulkhead::plan::{Planner, WorkItem};
//!
//! let items = (0..6).map(|i| WorkItem::new(format!("item-{i}"), format!("key-{}", i % 2), i));
//! let plan = Planner::new(2).plan(items).unwrap();
//! assert_eq!(plan.batches().len(), 2);
//! assert!(plan.batches().iter().all(|batch| batch.items().len() == 3));
//! ```

mod fingerprint;

use std::collections::BTreeMap;

use crate::pool::SessionKey;

pub use fingerprint::fingerprint;

/// One item of work: what the caller wants done, keyed for warm reuse.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkItem<K, T> {
    /// Names the item, unique in a plan; items are sorted by it, and the
    /// batch fingerprints are made of it.
    pub id: String,
    /// The session key the item needs its worker warm for.
    pub key: K,
    /// What the item costs relative to the others (time, size, ...); 1 if
    /// not given.
    pub cost: Option<f64>,
    /// The caller's data.
    pub data: T,
}

impl<K, T> WorkItem<K, T> {
    /// An item of cost 1.
    pub fn new(id: impl Into<String>, key: K, data: T) -> Self {
        Self {
            id: id.into(),
            key,
            cost: None,
            data,
        }
    }

    /// The same item with a cost estimate.
    pub fn with_cost(mut self, cost: f64) -> Self {
        self.cost = Some(cost);
        self
    }

    fn cost(&self) -> f64 {
        self.cost.unwrap_or(1.0)
    }
}

/// Why a set of items could not be planned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// Two items have the same id.
    #[error("two items have the id {id:?}; ids must be unique in a plan")]
    DuplicateId {
        /// The id.
        id: String,
    },
    /// An item's cost is negative, infinite or not a number.
    #[error("item {id:?} has the cost {cost}; a cost must be a finite number of at least 0")]
    BadCost {
        /// The item.
        id: String,
        /// Its cost.
        cost: f64,
    },
    /// A session key does not encode as JSON (its encoding orders and
    /// names the batches).
    #[error("the session key of item {id:?} does not encode: {reason}")]
    Key {
        /// The item.
        id: String,
        /// What serde_json said.
        reason: String,
    },
}

/// Makes [`Plan`]s for a pool of a given number of workers.
#[derive(Debug, Clone, Copy)]
pub struct Planner {
    workers: usize,
}

impl Planner {
    /// A planner for `workers` workers (at least 1).
    pub fn new(workers: usize) -> Self {
        Self {
            workers: workers.max(1),
        }
    }

    /// Groups `items` by key into batches.
    ///
    /// - Items of one key go to one batch, unless the key holds more than
    ///   its share of the total cost (the total over the workers): then it
    ///   is split into as many batches as shares, items placed
    ///   longest-first on the lightest batch, so that every worker has work.
    /// - Keys are never merged: a batch holds one key.
    /// - Items are sorted by id within a batch; batches are ordered
    ///   costliest first (ties by fingerprint), the order that keeps
    ///   workers busy to the end.
    pub fn plan<K: SessionKey, T>(
        &self,
        items: impl IntoIterator<Item = WorkItem<K, T>>,
    ) -> Result<Plan<K, T>, PlanError> {
        let mut by_key: BTreeMap<String, Vec<WorkItem<K, T>>> = BTreeMap::new();
        let mut total = 0.0;
        for item in items {
            let cost = item.cost();
            if !cost.is_finite() || cost < 0.0 {
                return Err(PlanError::BadCost { id: item.id, cost });
            }
            total += cost;
            let key = serde_json::to_string(&item.key).map_err(|err| PlanError::Key {
                id: item.id.clone(),
                reason: err.to_string(),
            })?;
            by_key.entry(key).or_default().push(item);
        }
        let mut ids: Vec<&str> = by_key
            .values()
            .flatten()
            .map(|item| item.id.as_str())
            .collect();
        ids.sort_unstable();
        if let Some(pair) = ids.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(PlanError::DuplicateId {
                id: pair[0].to_owned(),
            });
        }
        let share = total / self.workers as f64;
        let mut batches = Vec::new();
        for (key_json, items) in by_key {
            batches.extend(split(&key_json, items, share));
        }
        batches.sort_by(|a, b| {
            b.cost
                .total_cmp(&a.cost)
                .then_with(|| a.fingerprint.cmp(&b.fingerprint))
        });
        Ok(Plan {
            batches,
            workers: self.workers,
        })
    }
}

/// The items of one key, in as many batches as shares of the total cost
/// they hold (at least one, at most one per item).
fn split<K: SessionKey, T>(
    key_json: &str,
    mut items: Vec<WorkItem<K, T>>,
    share: f64,
) -> Vec<PlannedBatch<K, T>> {
    let cost: f64 = items.iter().map(WorkItem::cost).sum();
    let parts = if share > 0.0 && cost > share {
        ((cost / share).ceil() as usize).clamp(1, items.len())
    } else {
        1
    };
    // Longest first, ties by id: the same placement whatever the input order.
    items.sort_by(|a, b| b.cost().total_cmp(&a.cost()).then_with(|| a.id.cmp(&b.id)));
    let mut loads = vec![0.0f64; parts];
    let mut placed: Vec<Vec<WorkItem<K, T>>> = (0..parts).map(|_| Vec::new()).collect();
    for item in items {
        let lightest = (0..parts)
            .min_by(|&a, &b| loads[a].total_cmp(&loads[b]).then(a.cmp(&b)))
            .unwrap_or(0);
        loads[lightest] += item.cost();
        placed[lightest].push(item);
    }
    placed
        .into_iter()
        .zip(loads)
        .enumerate()
        .filter(|(_, (items, _))| !items.is_empty())
        .map(|(part, (mut items, cost))| {
            items.sort_by(|a, b| a.id.cmp(&b.id));
            let ids: Vec<&str> = items.iter().map(|item| item.id.as_str()).collect();
            let fingerprint = fingerprint(key_json, &ids);
            let key = items[0].key.clone();
            PlannedBatch {
                key,
                items,
                cost,
                part: (part, parts),
                fingerprint,
            }
        })
        .collect()
}

/// Batches of work items, each of one session key, costliest first.
#[derive(Debug, Clone)]
pub struct Plan<K, T> {
    batches: Vec<PlannedBatch<K, T>>,
    workers: usize,
}

impl<K, T> Plan<K, T> {
    /// The batches, in the order they are best started.
    pub fn batches(&self) -> &[PlannedBatch<K, T>] {
        &self.batches
    }

    /// The batches, to run.
    pub fn into_batches(self) -> Vec<PlannedBatch<K, T>> {
        self.batches
    }

    /// The number of workers the plan was made for.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Items over all batches.
    pub fn items(&self) -> usize {
        self.batches.iter().map(|batch| batch.items.len()).sum()
    }
}

/// Items of one session key, to run on one warm worker one after another.
#[derive(Debug, Clone)]
pub struct PlannedBatch<K, T> {
    key: K,
    items: Vec<WorkItem<K, T>>,
    cost: f64,
    part: (usize, usize),
    fingerprint: String,
}

impl<K, T> PlannedBatch<K, T> {
    /// The session key every item of the batch needs.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// The items, sorted by id.
    pub fn items(&self) -> &[WorkItem<K, T>] {
        &self.items
    }

    /// The items' total cost.
    pub fn cost(&self) -> f64 {
        self.cost
    }

    /// Which part of its key this batch is, and of how many (`(0, 1)` for a
    /// key that was not split).
    pub fn part(&self) -> (usize, usize) {
        self.part
    }

    /// A stable name for the batch: a readable form of the key, then a
    /// digest of the key and the sorted item ids (see [`fingerprint`]).
    /// The same items always give the same fingerprint.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

#[cfg(test)]
mod tests;
