//! Hosts on one machine: network namespaces joined by a bridge, so that
//! the traffic of each node agent crosses a network interface of its
//! own, and a link can be cut (a partition). Needs root and `ip`; without
//! them the tests run on loopback.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static NETWORKS: AtomicU32 = AtomicU32::new(0);

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A bridge in this namespace, the server's side of every host.
pub struct Network {
    bridge: String,
    /// `10.A.B`: the bridge is `.1`, hosts from `.2`.
    prefix: String,
    tag: String,
    hosts: AtomicU32,
    made: std::sync::Mutex<Vec<(String, String)>>,
}

impl Network {
    /// A network for one test, if this process may make one.
    pub fn create() -> Option<Self> {
        if std::env::var_os("BULKHEAD_NO_NETNS").is_some() || !nix::unistd::geteuid().is_root() {
            return None;
        }
        let n = NETWORKS.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let tag = format!("{}{n}", pid % 100_000);
        let prefix = format!("10.{}.{}", 100 + pid % 100, n % 250);
        let bridge = format!("bhb{tag}");
        let made = ip(&["link", "add", &bridge, "type", "bridge"])
            && ip(&["addr", "add", &format!("{prefix}.1/24"), "dev", &bridge])
            && ip(&["link", "set", &bridge, "up"]);
        let network = Self {
            bridge,
            prefix,
            tag,
            hosts: AtomicU32::new(0),
            made: std::sync::Mutex::new(Vec::new()),
        };
        if made {
            Some(network)
        } else {
            eprintln!("network namespaces are not available here: the test runs on loopback");
            None
        }
    }

    /// The address the server listens on.
    pub fn server_address(&self) -> String {
        format!("{}.1", self.prefix)
    }

    /// A new host: a namespace with a link to the bridge.
    pub fn host(&self) -> Option<Host> {
        let i = self.hosts.fetch_add(1, Ordering::SeqCst);
        let ns = format!("bh{}h{i}", self.tag);
        let outside = format!("bho{}h{i}", self.tag);
        let inside = format!("bhi{}h{i}", self.tag);
        let address = format!("{}.{}/24", self.prefix, i + 2);
        let made = ip(&["netns", "add", &ns])
            && ip(&[
                "link", "add", &outside, "type", "veth", "peer", "name", &inside,
            ])
            && ip(&["link", "set", &inside, "netns", &ns])
            && ip(&["link", "set", &outside, "master", &self.bridge])
            && ip(&["link", "set", &outside, "up"])
            && ip(&[
                "netns", "exec", &ns, "ip", "addr", "add", &address, "dev", &inside,
            ])
            && ip(&["netns", "exec", &ns, "ip", "link", "set", &inside, "up"])
            && ip(&["netns", "exec", &ns, "ip", "link", "set", "lo", "up"]);
        if let Ok(mut made) = self.made.lock() {
            made.push((ns.clone(), outside.clone()));
        }
        made.then_some(Host { ns, outside })
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        if let Ok(made) = self.made.lock() {
            for (ns, outside) in made.iter() {
                ip(&["link", "del", outside]);
                ip(&["netns", "del", ns]);
            }
        }
        ip(&["link", "del", &self.bridge]);
    }
}

/// One host: a namespace whose only way out is its link to the bridge.
pub struct Host {
    ns: String,
    outside: String,
}

impl Host {
    /// `program` run in the host's namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.ns, program]);
        command
    }

    /// Cuts the host's link: a network partition.
    pub fn cut(&self) {
        assert!(
            ip(&["link", "set", &self.outside, "down"]),
            "the link was not cut"
        );
    }

    /// Restores the host's link.
    pub fn heal(&self) {
        assert!(
            ip(&["link", "set", &self.outside, "up"]),
            "the link was not restored"
        );
    }
}
