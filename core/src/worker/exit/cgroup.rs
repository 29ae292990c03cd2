//! The memory cgroup's OOM-kill counter (cgroup v2).

/// The `oom_kill` count from this process's memory cgroup, if readable.
/// Children start in their parent's cgroup.
pub(crate) fn oom_kills() -> Option<u64> {
    let membership = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = membership
        .lines()
        .find_map(|line| line.strip_prefix("0::"))?;
    let events = std::fs::read_to_string(format!("/sys/fs/cgroup{path}/memory.events")).ok()?;
    events
        .lines()
        .find_map(|line| line.strip_prefix("oom_kill "))
        .and_then(|count| count.trim().parse().ok())
}
