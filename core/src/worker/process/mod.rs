//! One child process: spawned contained (its own process group on Unix, a
//! job object on Windows), its stderr drained, and ended in bounded steps.
//!
//! Every way of ending reaps the child and then kills whatever is left of
//! its group or job, so grandchildren never outlive a generation.

use std::process::Stdio;
use std::time::Duration;

use process_wrap::tokio::{ChildWrapper, CommandWrap, KillOnDrop};
use tokio::process::Command;

use crate::transport::{ChildPipes, Connect};
use crate::{env, worker::exit::oom_kills};

use super::limits::Limits;
use super::stderr::{Forward, StderrRing, StderrTask};
use super::{ChildExit, MemoryEnforcer, ShutdownStep, WorkerConfig, WorkerError};

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as platform;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as platform;

/// How long to wait for the reap after a kill.
const REAP_AFTER_KILL: Duration = Duration::from_secs(5);
/// How long to wait for the stderr pipe to close once the child is gone.
const STDERR_SETTLE: Duration = Duration::from_millis(250);

/// A spawned child process.
pub(crate) struct Process {
    child: Box<dyn ChildWrapper>,
    stderr: StderrRing,
    stderr_task: Option<StderrTask>,
    /// The cgroup's OOM-kill count when the child started, where readable.
    oom_kills_at_start: Option<u64>,
    /// The kernel limits the child runs under.
    limits: Limits,
    /// Set once the child was reaped and its group swept.
    finished: bool,
}

/// How a child ended.
#[derive(Debug, Clone)]
pub(crate) struct Ended {
    /// The exit, if the child was reaped.
    pub(crate) exit: Option<ChildExit>,
    /// The end of its stderr.
    pub(crate) stderr_tail: String,
}

impl Process {
    /// Spawns the child of generation `number` and returns it with its pipes
    /// and the transport's connect step.
    pub(crate) fn spawn(
        config: &WorkerConfig,
        number: u64,
    ) -> Result<(Self, ChildPipes, Box<dyn Connect>), WorkerError> {
        let mut limits = Limits::prepare(config, number)?;
        let mut command =
            CommandWrap::with_new(&config.program, |command| configure(command, config));
        platform::contain(&mut command);
        command.wrap(KillOnDrop);
        limits.install(command.command_mut());
        let connector = config
            .transport
            .prepare(command.command_mut())
            .map_err(|source| WorkerError::Transport {
                generation: number,
                source,
            })?;
        let oom_kills_at_start = oom_kills();
        let mut child = command.spawn().map_err(|source| WorkerError::Spawn {
            program: config.program.clone(),
            source,
        })?;
        if let Err(source) = limits.attach(child.as_ref()) {
            // Not contained as asked: the child must not run.
            let _gone = child.start_kill();
            return Err(WorkerError::Limits {
                generation: number,
                what: "putting the child under its memory limit",
                source,
            });
        }
        let stderr = StderrRing::new(config.stderr_capacity);
        let forward = config.forward_stderr.then(|| Forward {
            generation: number,
            pid: child.id(),
        });
        let stderr_task = child
            .stderr()
            .take()
            .map(|pipe| stderr.drain(pipe, forward));
        let pipes = ChildPipes {
            stdin: child.stdin().take(),
            stdout: child.stdout().take(),
            pid: child.id(),
        };
        let process = Self {
            child,
            stderr,
            stderr_task,
            oom_kills_at_start,
            limits,
            finished: false,
        };
        Ok((process, pipes, connector))
    }

    /// The child's process id, while it has one.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// What enforces the child's kernel memory limit, if one is set.
    pub(crate) fn memory_enforcer(&self) -> Option<MemoryEnforcer> {
        self.limits.memory_enforcer()
    }

    /// Waits until the child has exited (it is then reaped; the status is
    /// kept for whoever ends the process). Cancel safe.
    pub(crate) async fn exited(&mut self) {
        // An error here means the child cannot be waited for; treat it as
        // never exiting, and let the caller's timeout decide.
        if self.child.wait().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Whether the child has exited (it is then reaped).
    pub(crate) fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `grace` for the child to exit by itself, then kills it.
    pub(crate) async fn end(mut self, grace: Duration) -> Ended {
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(Ok(status)) => {
                let exit = self.classify(status, false);
                self.finish(Some(exit)).await
            }
            _ => self.kill().await,
        }
    }

    /// Kills the child and its group, and reaps it.
    pub(crate) async fn kill(mut self) -> Ended {
        if let Ok(Some(status)) = self.child.try_wait() {
            let exit = self.classify(status, false);
            return self.finish(Some(exit)).await;
        }
        // Fails only when the child is already gone; the wait reports that.
        let _gone = self.child.start_kill();
        let exit = self.reap_within(REAP_AFTER_KILL, true).await;
        self.finish(exit).await
    }

    /// After the shutdown frame: waits up to `exit_timeout` for the child to
    /// exit, then terminates it (SIGTERM to its group on Unix), waits up to
    /// `terminate_timeout`, then kills it.
    pub(crate) async fn wind_down(
        mut self,
        exit_timeout: Duration,
        terminate_timeout: Duration,
    ) -> (Ended, ShutdownStep) {
        if let Ok(Ok(status)) = tokio::time::timeout(exit_timeout, self.child.wait()).await {
            // Asked to exit: however it went, not an out-of-memory kill.
            let exit = ChildExit::from_status(status, false, None).without_oom();
            return (self.finish(Some(exit)).await, ShutdownStep::Exited);
        }
        if platform::terminate(self.child.as_mut()).is_ok()
            && let Some(exit) = self.reap_within(terminate_timeout, true).await
        {
            return (
                self.finish(Some(exit.without_oom())).await,
                ShutdownStep::Terminated,
            );
        }
        let mut ended = self.kill().await;
        ended.exit = ended.exit.map(ChildExit::without_oom);
        (ended, ShutdownStep::Killed)
    }

    /// Kills the child and its group without waiting: for `Drop` outside a
    /// runtime. The child is reaped by tokio once a runtime runs again.
    pub(crate) fn kill_now(&mut self) {
        // Nothing more can be done from a destructor if this fails.
        let _gone = self.child.start_kill();
    }

    async fn reap_within(&mut self, limit: Duration, signalled: bool) -> Option<ChildExit> {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(Ok(status)) => Some(self.classify(status, signalled)),
            _ => None,
        }
    }

    fn classify(&self, status: std::process::ExitStatus, signalled: bool) -> ChildExit {
        ChildExit::from_status(status, signalled, self.oom_kills_at_start)
    }

    async fn finish(mut self, exit: Option<ChildExit>) -> Ended {
        // Grandchildren left in the group or job die with the generation.
        let _swept = self.child.start_kill();
        self.finished = true;
        if let Some(task) = self.stderr_task.as_mut() {
            task.settle(STDERR_SETTLE).await;
        }
        let stderr_tail = self.stderr.tail();
        let exit = exit.map(|exit| {
            let mut exit = exit.with_stderr(&stderr_tail);
            exit.limit = self.limits.explain(&exit);
            exit
        });
        self.limits.release().await;
        Ended { exit, stderr_tail }
    }
}

impl Drop for Process {
    /// A process dropped without being ended (a task cancelled midway, a
    /// runtime shutting down) still takes its whole group or job down.
    fn drop(&mut self) {
        if !self.finished {
            self.kill_now();
        }
    }
}

/// Program, arguments, environment and stdio of a child.
fn configure(command: &mut Command, config: &WorkerConfig) {
    if config.env_clear {
        command.env_clear();
    }
    command
        .args(&config.args)
        .envs(config.env.iter().map(|(key, value)| (key, value)))
        .env(env::CHILD, "1")
        .env(env::PARENT_PID, std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
}
