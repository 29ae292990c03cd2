//! The NATS names of one service: subjects, the JetStream stream, its
//! consumer and the key-value buckets. `docs/distributed.md` lists them.

/// Where a service lives on NATS: every subject starts with
/// `{prefix}.{service}`.
///
/// The prefix (by default `bulkhead`) separates bulkhead from other users
/// of the same NATS account; the service names one kind of child, so that
/// node agents of different children can share a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
    service: String,
}

/// Why a prefix, service, node or item name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} \"{name}\" is not a usable NATS name: use 1 to 64 letters, digits, '-' or '_' (no dots, spaces or wildcards)"
)]
pub struct NameError {
    /// What the name was for.
    pub what: &'static str,
    /// The name.
    pub name: String,
}

/// Checks that `name` is one NATS subject token, also usable in stream,
/// consumer and key names.
pub(crate) fn check_name(what: &'static str, name: &str) -> Result<(), NameError> {
    let usable = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if usable {
        Ok(())
    } else {
        Err(NameError {
            what,
            name: name.to_owned(),
        })
    }
}

impl Subjects {
    /// The names of `service` under the default prefix `bulkhead`.
    pub fn new(service: &str) -> Result<Self, NameError> {
        Self::with_prefix("bulkhead", service)
    }

    /// The names of `service` under `prefix`.
    pub fn with_prefix(prefix: &str, service: &str) -> Result<Self, NameError> {
        check_name("prefix", prefix)?;
        check_name("service", service)?;
        Ok(Self {
            prefix: prefix.to_owned(),
            service: service.to_owned(),
        })
    }

    /// The service's name.
    pub fn service(&self) -> &str {
        &self.service
    }

    fn root(&self) -> String {
        format!("{}.{}", self.prefix, self.service)
    }

    /// Requests any node may take (the node agents' queue group).
    pub fn requests(&self) -> String {
        format!("{}.requests", self.root())
    }

    /// The queue group of the node agents.
    pub fn queue_group(&self) -> String {
        format!("{}-nodes", self.service)
    }

    /// Requests for one node.
    pub fn node_requests(&self, node: &str) -> String {
        format!("{}.node.{node}.requests", self.root())
    }

    /// Credits and cancellations for one node's requests.
    pub fn node_control(&self, node: &str) -> String {
        format!("{}.node.{node}.control", self.root())
    }

    /// Where one node's heartbeats go.
    pub fn heartbeat(&self, node: &str) -> String {
        format!("{}.heartbeat.{node}", self.root())
    }

    /// Every node's heartbeats.
    pub fn heartbeats(&self) -> String {
        format!("{}.heartbeat.*", self.root())
    }

    /// Where the items of a durable batch are published.
    pub fn item(&self, batch: &str, item: &str) -> String {
        format!("{}.items.{batch}.{item}", self.root())
    }

    /// Every durable item of the service.
    pub fn items(&self) -> String {
        format!("{}.items.>", self.root())
    }

    fn upper(&self) -> String {
        format!("{}_{}", self.prefix, self.service).to_ascii_uppercase()
    }

    /// The JetStream work-queue stream of durable items.
    pub fn stream(&self) -> String {
        format!("{}_ITEMS", self.upper())
    }

    /// The durable consumer the node agents share.
    pub fn consumer(&self) -> String {
        "nodes".to_owned()
    }

    /// The key-value bucket of recorded outcomes, keyed `{batch}.{item}`.
    pub fn results_bucket(&self) -> String {
        format!("{}_RESULTS", self.upper())
    }

    /// The key-value bucket of failed deliveries, keyed `{batch}.{item}`.
    pub fn attempts_bucket(&self) -> String {
        format!("{}_ATTEMPTS", self.upper())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_single_tokens() {
        let subjects = Subjects::new("fixture").unwrap();
        assert_eq!(subjects.requests(), "bulkhead.fixture.requests");
        assert_eq!(subjects.stream(), "BULKHEAD_FIXTURE_ITEMS");
        assert_eq!(
            subjects.node_control("n-1"),
            "bulkhead.fixture.node.n-1.control"
        );
        for bad in ["", "a.b", "a b", "*", ">", &"x".repeat(65)] {
            let err = Subjects::new(bad).unwrap_err();
            assert!(err.to_string().contains("not a usable NATS name"), "{err}");
        }
    }
}
