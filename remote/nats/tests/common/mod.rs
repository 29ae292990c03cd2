//! What the NATS tests share: a real `nats-server` of their own, node
//! agents as separate processes, a watchdog.

#![allow(dead_code)]

mod netns;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bulkhead_nats::{ClientConfig, NatsOptions, RemoteError, RemotePool, Subjects};

pub const NODE: &str = env!("CARGO_BIN_EXE_bulkhead-node");
pub const WATCHDOG: Duration = Duration::from_secs(90);

/// Runs `test` on a runtime, failing it if it outlives the watchdog.
pub fn watchdog<F: std::future::Future<Output = ()>>(test: F) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        tokio::time::timeout(WATCHDOG, test)
            .await
            .expect("the test outlived its watchdog");
    });
}

/// The `nats-server` binary, if installed. Under CI a missing server
/// fails the test; elsewhere the test says how to install it and passes.
pub fn nats_server_binary() -> Option<PathBuf> {
    let candidates = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()]);
    for dir in candidates {
        let path = dir.join("nats-server");
        if path.is_file() {
            return Some(path);
        }
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "nats-server is not installed; CI must install it (apt-get install nats-server)"
    );
    eprintln!("skipped: nats-server is not installed (apt-get install nats-server)");
    None
}

/// A `nats-server` with JetStream on disk, owned by one test. As root, it
/// listens on a bridge and each node agent runs in a network namespace of
/// its own behind it; otherwise everything is on loopback.
pub struct Server {
    binary: PathBuf,
    child: Option<Child>,
    pub port: u16,
    pub url: String,
    address: String,
    store: PathBuf,
    extra: Vec<String>,
    net: Option<netns::Network>,
}

impl Server {
    /// Starts a server for the test `name`; `None` when none is installed.
    pub fn start(name: &str) -> Option<Self> {
        Self::start_with(name, &[])
    }

    /// As [`start`](Self::start), with more `nats-server` arguments.
    pub fn start_with(name: &str, extra: &[&str]) -> Option<Self> {
        Self::launch_new(name, extra, netns::Network::create())
    }

    /// As [`start_with`](Self::start_with), always on loopback.
    pub fn start_on_loopback(name: &str, extra: &[&str]) -> Option<Self> {
        Self::launch_new(name, extra, None)
    }

    fn launch_new(name: &str, extra: &[&str], net: Option<netns::Network>) -> Option<Self> {
        let binary = nats_server_binary()?;
        let address = net
            .as_ref()
            .map_or_else(|| "127.0.0.1".to_owned(), netns::Network::server_address);
        let port = TcpListener::bind((address.as_str(), 0))
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let store =
            std::env::temp_dir().join(format!("bulkhead-nats-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&store);
        let mut server = Self {
            binary,
            child: None,
            port,
            url: format!("nats://{address}:{port}"),
            address,
            store,
            extra: extra.iter().map(|arg| (*arg).to_owned()).collect(),
            net,
        };
        server.launch();
        Some(server)
    }

    fn launch(&mut self) {
        let mut command = Command::new(&self.binary);
        command.args(["-a", &self.address, "-p", &self.port.to_string()]);
        // A configuration file (`-c`) says where JetStream stores.
        if !self.extra.iter().any(|arg| arg == "-c") {
            command.arg("-js").arg("-sd").arg(&self.store);
        }
        let mut child = command
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nats-server starts");
        let stderr = child.stderr.take().expect("piped stderr");
        self.child = Some(child);
        // Ready once it says so; its log keeps being read after that.
        let (ready, said) = mpsc::channel();
        std::thread::spawn(move || {
            let mut log = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("Server is ready") {
                    let _ = ready.send(Ok(()));
                }
                log.push(line);
            }
            let _ = ready.send(Err(log.join("\n")));
        });
        match said.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(())) => {}
            Ok(Err(log)) => panic!("nats-server did not start on port {}:\n{log}", self.port),
            Err(_) => panic!(
                "nats-server did not start on port {} within 30 s",
                self.port
            ),
        }
    }

    /// Kills the server (SIGKILL) and starts it again on the same port
    /// and store.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn options(&self) -> NatsOptions {
        NatsOptions::new(self.url.clone())
    }

    /// A remote client of `service`, once `nodes` nodes are heard.
    pub async fn client(
        &self,
        service: &str,
        config: ClientConfig,
        nodes: usize,
    ) -> RemotePool<String> {
        remote_pool(&self.options(), service, config, nodes).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// A node agent process serving the fixture child, on a host of its own
/// when the server has a network.
pub struct Node {
    child: Child,
    pub id: String,
    lines: mpsc::Receiver<String>,
    host: Option<netns::Host>,
}

impl Node {
    /// Starts `bulkhead-node` for `service` with `extra` arguments, and
    /// waits for its ready line.
    pub fn start(server: &Server, service: &str, id: &str, extra: &[&str]) -> Self {
        let fixture = bulkhead_fixture::child_program();
        Self::start_serving(server, service, id, extra, &fixture)
    }

    /// As [`start`](Self::start), serving `child` instead of the fixture.
    pub fn start_serving(
        server: &Server,
        service: &str,
        id: &str,
        extra: &[&str],
        child: &std::path::Path,
    ) -> Self {
        let host = server.net.as_ref().and_then(netns::Network::host);
        let mut command = match &host {
            Some(host) => host.command(NODE),
            None => Command::new(NODE),
        };
        let mut child = command
            .args(["--nats", &server.url, "--service", service, "--node-id", id])
            .args(["--heartbeat-ms", "200"])
            .args(extra)
            .arg("--")
            .arg(child)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("bulkhead-node starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut node = Self {
            child,
            id: id.to_owned(),
            lines,
            host,
        };
        node.expect_line("bulkhead-node: ready");
        node
    }

    /// Waits for a stdout line starting with `prefix`.
    pub fn expect_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(_) => panic!("node {} did not print {prefix:?}", self.id),
            }
        }
    }

    /// Whether the node runs behind a link of its own.
    pub fn on_own_host(&self) -> bool {
        self.host.is_some()
    }

    /// Cuts the node's link, if it has one of its own: a partition.
    pub fn cut(&self) -> bool {
        self.host.as_ref().map(netns::Host::cut).is_some()
    }

    /// Restores the node's link.
    pub fn heal(&self) {
        if let Some(host) = &self.host {
            host.heal();
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: the node dies at once, with its children.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM: the node drains. Returns once it says it drained and
    /// exited.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("a pid"));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM sent");
        self.expect_line("bulkhead-node: drained");
        self.child.wait().expect("the node exits")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A remote client of `service` over a connection made with `options`,
/// once `nodes` nodes are heard.
pub async fn remote_pool(
    options: &NatsOptions,
    service: &str,
    config: ClientConfig,
    nodes: usize,
) -> RemotePool<String> {
    let client = options.connect("test client").await.expect("connects");
    let pool = RemotePool::connect(client, Subjects::new(service).expect("a name"), config)
        .await
        .expect("a remote pool");
    assert!(
        pool.wait_for_nodes(nodes, Duration::from_secs(30)).await,
        "{nodes} nodes were not heard: {:?}",
        pool.nodes()
    );
    pool
}

/// `text`, echoed by a node of `pool` (session key `k`).
pub async fn echo(pool: &RemotePool<String>, text: &str) -> Result<String, RemoteError> {
    let echo = bulkhead_fixture::Echo {
        text: text.to_owned(),
    };
    pool.call("k".to_owned(), &echo).await
}

/// A client's settings for tests that do not time the loss of a node:
/// ten missed heartbeats (2 s) before a node counts as lost, so that a
/// loaded machine does not lose one by mistake.
pub fn patient() -> ClientConfig {
    ClientConfig::default().missed_heartbeats(10)
}

/// A service name unique to one test.
pub fn service(test: &str) -> String {
    format!("{test}-{}", std::process::id())
}
