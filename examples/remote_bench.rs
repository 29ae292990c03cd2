//! Requests through NATS against the local pool, in one run.
//!
//! ```text
//! cargo run --release --example remote_bench [-- --nats nats://HOST:PORT] [--quick]
//! ```
//!
//! Without `--nats`, it starts its own `nats-server` (with JetStream, in a
//! temporary directory) on a free loopback port. Node agents run in this
//! process, each with its own NATS connection and its own pool of fixture
//! children (this executable). It measures, against the local pool in the
//! same run:
//!
//! - the round trip of a `Ping`: median and p99 through NATS and locally
//!   (`remote_rtt_ratio` = remote median / local median);
//! - typed rows per second of a `Count` stream (`remote_rows_ratio` =
//!   remote / local);
//! - items per second of a durable batch of `Burn` items (10 ms of CPU
//!   each) with one node agent and with two (`durable_scaling`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bulkhead::{Pool, Worker, sink::Counting};
use bulkhead_fixture::{Burn, Count, Ping};
use bulkhead_nats::{
    ClientConfig, DurableConfig, DurableQueue, NatsOptions, NodeAgent, NodeConfig, RemotePool,
    Subjects, WireKey,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const KEY: &str = "bench";

fn main() -> Result<(), BoxError> {
    bulkhead_child::run_if_child(bulkhead_fixture::capability);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let given = args
        .iter()
        .position(|a| a == "--nats")
        .and_then(|i| args.get(i + 1).cloned());
    let _server;
    let url = match given {
        Some(url) => url,
        None => {
            let server = OwnServer::start()?;
            let url = server.url.clone();
            _server = server;
            url
        }
    };
    println!("NATS at {url}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(&url, quick))
}

fn result(name: &str, value: f64, unit: &str) {
    println!("RESULT {name} {value:.3} {unit}");
}

/// The `p`th percentile, in microseconds.
fn percentile(samples: &mut [Duration], p: usize) -> f64 {
    samples.sort();
    let index = (samples.len() * p / 100).min(samples.len().saturating_sub(1));
    samples[index].as_secs_f64() * 1e6
}

/// A `Count` of `rows` rows, with no progress or diagnostics.
fn count(rows: u64) -> Count {
    Count {
        n: rows,
        progress_every: 0,
        diagnostic_every: 0,
    }
}

/// The time of each of `rounds` calls of `call`, one after another.
async fn timed<T, E, F, Fut>(rounds: usize, mut call: F) -> Result<Vec<Duration>, BoxError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        call().await.map_err(Into::into)?;
        times.push(started.elapsed());
    }
    Ok(times)
}

fn pool(workers: usize) -> Result<Pool<WireKey>, BoxError> {
    let worker = Worker::builder(std::env::current_exe()?);
    Ok(Pool::builder(worker).max_workers(workers).build()?)
}

async fn node(url: &str, service: &str, id: &str, workers: usize) -> Result<NodeAgent, BoxError> {
    let client = NatsOptions::new(url).connect(id).await?;
    let config = NodeConfig::new(Subjects::new(service)?, id)?
        .heartbeat(Duration::from_millis(250))
        .durable(DurableConfig::default().ack_wait(Duration::from_secs(10)));
    Ok(NodeAgent::start(client, pool(workers)?, config).await?)
}

async fn run(url: &str, quick: bool) -> Result<(), BoxError> {
    let service = format!("bench-{}", std::process::id());
    let wire_key = WireKey::of(&KEY)?;
    let key = || wire_key.clone();
    let rounds = if quick { 300 } else { 2_000 };
    let rows = if quick { 20_000 } else { 200_000 };

    // The local baseline: the same pool type, the same child.
    let local = pool(1)?;
    local.call(key(), &Ping {}).await?;
    let mut local_rtt = timed(rounds, || local.call(key(), &Ping {})).await?;
    let started = Instant::now();
    local
        .stream(key(), &count(rows), Counting::default())
        .await?;
    let local_rows = rows as f64 / started.elapsed().as_secs_f64();
    local.shutdown().await;

    // Through NATS: one node agent, one client.
    let first = node(url, &service, "bench-a", 1).await?;
    let client = NatsOptions::new(url).connect("bench client").await?;
    let remote: RemotePool<String> = RemotePool::connect(
        client.clone(),
        Subjects::new(&service)?,
        ClientConfig::default(),
    )
    .await?;
    if !remote.wait_for_nodes(1, Duration::from_secs(10)).await {
        return Err("the node agent was not heard".into());
    }
    remote.call(KEY.into(), &Ping {}).await?;
    let mut remote_rtt = timed(rounds, || remote.call(KEY.into(), &Ping {})).await?;
    let started = Instant::now();
    let summary = remote
        .stream(KEY.into(), &count(rows), Counting::default())
        .await?;
    if summary.rows != rows {
        return Err(format!("{} rows came through NATS, {rows} were sent", summary.rows).into());
    }
    let remote_rows = rows as f64 / started.elapsed().as_secs_f64();

    // The floor: a bare NATS request and reply between two connections,
    // through the same server.
    let nats_rtt = nats_round_trips(url, rounds).await?;

    let (local_median, local_p99) = (
        percentile(&mut local_rtt, 50),
        percentile(&mut local_rtt, 99),
    );
    let (remote_median, remote_p99) = (
        percentile(&mut remote_rtt, 50),
        percentile(&mut remote_rtt, 99),
    );
    println!("round trip of a Ping ({rounds} rounds)");
    println!("  local pool   median {local_median:>8.1} us  p99 {local_p99:>8.1} us");
    println!("  through NATS median {remote_median:>8.1} us  p99 {remote_p99:>8.1} us");
    let mut nats_rtt = nats_rtt;
    let (nats_median, nats_p99) = (percentile(&mut nats_rtt, 50), percentile(&mut nats_rtt, 99));
    println!(
        "  bare NATS    median {nats_median:>8.1} us  p99 {nats_p99:>8.1} us  (request and reply, no bulkhead)"
    );
    println!("typed rows of a Count stream ({rows} rows)");
    println!("  local pool   {local_rows:>10.0} rows/s");
    println!("  through NATS {remote_rows:>10.0} rows/s");
    result("local_rtt_median_us", local_median, "us");
    result("local_rtt_p99_us", local_p99, "us");
    result("remote_rtt_median_us", remote_median, "us");
    result("remote_rtt_p99_us", remote_p99, "us");
    result("remote_rtt_ratio", remote_median / local_median, "x");
    result("nats_rtt_median_us", nats_median, "us");
    result(
        "remote_over_nats_rtt_ratio",
        remote_median / nats_median,
        "x",
    );
    result("local_rows_per_s", local_rows, "rows/s");
    result("remote_rows_per_s", remote_rows, "rows/s");
    result("remote_rows_ratio", remote_rows / local_rows, "x");

    // A durable batch with one node agent, then with two.
    let queue = DurableQueue::open(&client, Subjects::new(&service)?).await?;
    let items = if quick { 40 } else { 200 };
    let one = durable(&queue, "one", items).await?;
    let second = node(url, &service, "bench-b", 1).await?;
    if !remote.wait_for_nodes(2, Duration::from_secs(10)).await {
        return Err("the second node agent was not heard".into());
    }
    let two = durable(&queue, "two", items).await?;
    println!("durable batch of {items} Burn items (10 ms of CPU each)");
    println!("  1 node agent  {one:>8.1} items/s");
    println!("  2 node agents {two:>8.1} items/s");
    result("durable_items_per_s_1_node", one, "items/s");
    result("durable_items_per_s_2_nodes", two, "items/s");
    result("durable_scaling", two / one, "x");
    first.drain().await;
    second.drain().await;
    Ok(())
}

/// Round trips of a bare NATS request to a responder on another
/// connection that answers at once.
async fn nats_round_trips(url: &str, rounds: usize) -> Result<Vec<Duration>, BoxError> {
    use futures_util::StreamExt;
    let responder = NatsOptions::new(url).connect("bench responder").await?;
    let mut requests = responder.subscribe("bench.echo").await?;
    responder.flush().await?;
    let answering = tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            if let Some(reply) = request.reply {
                let _ = responder.publish(reply, request.payload).await;
            }
        }
    });
    let requester = NatsOptions::new(url).connect("bench requester").await?;
    requester.request("bench.echo", "{}".into()).await?;
    let times = timed(rounds, || requester.request("bench.echo", "{}".into())).await;
    answering.abort();
    times
}

/// Submits a batch and waits for it; items per second from submission
/// to the last outcome. Every item must succeed.
async fn durable(queue: &DurableQueue, batch: &str, items: usize) -> Result<f64, BoxError> {
    let ids: Vec<String> = (0..items).map(|i| format!("i{i}")).collect();
    let started = Instant::now();
    let commands = ids
        .iter()
        .map(|id| (id.clone(), KEY.to_owned(), Burn { millis: 10 }));
    queue.submit(batch, commands).await?;
    let report = queue.wait(batch, ids, Duration::from_secs(300)).await?;
    let elapsed = started.elapsed();
    let (ok, failed, poison) = report.counts();
    if (failed, poison) != (0, 0) || ok != items {
        return Err(format!("batch {batch}: {ok} ok, {failed} failed, {poison} poison").into());
    }
    Ok(items as f64 / elapsed.as_secs_f64())
}

/// A `nats-server` of this run, on a free loopback port, with JetStream
/// in a temporary directory.
struct OwnServer {
    child: Child,
    url: String,
    store: std::path::PathBuf,
}

impl OwnServer {
    fn start() -> Result<Self, BoxError> {
        use std::io::BufRead;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let store =
            std::env::temp_dir().join(format!("bulkhead-remote-bench-{}", std::process::id()));
        let binary = ["nats-server", "/usr/sbin/nats-server", "/usr/local/sbin/nats-server"]
            .into_iter()
            .find(|b| Command::new(b).arg("--version").stdout(Stdio::null()).status().is_ok())
            .ok_or("nats-server is not installed (apt-get install nats-server), and no --nats URL was given")?;
        let mut child = Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(&store)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let mut lines = std::io::BufReader::new(stderr).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("Server is ready") => break,
                Some(Ok(_)) => {}
                _ => return Err("nats-server ended before it was ready".into()),
            }
        }
        // Keep reading its log so that it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Self {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            store,
        })
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}
