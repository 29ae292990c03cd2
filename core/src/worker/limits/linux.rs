//! Linux: a memory cgroup where one can be created, else the address-space
//! limit; the CPU-time limit by `RLIMIT_CPU`.

use std::io;
use std::time::Duration;

use tokio::process::Command;

use super::cgroup::{self, Cgroup};
use super::rlimit::Rlimits;
use super::{MemoryEnforcer, MemoryLimit, Prepared, SetupError};

pub(super) use super::rlimit::is_cpu_signal;

/// What a child's limits hold: its cgroup, if it has one, and the limits
/// it sets on itself.
#[derive(Debug)]
pub(super) struct Guard {
    cgroup: Option<Cgroup>,
    rlimits: Rlimits,
}

impl Guard {
    pub(super) fn prepare(
        memory: Option<&MemoryLimit>,
        cpu: Option<Duration>,
    ) -> Result<Prepared<Self>, SetupError> {
        let mut cgroup = None;
        let memory = match memory {
            None => None,
            Some(limit) => match limit.enforcer {
                Some(MemoryEnforcer::Cgroup) => {
                    let made = Cgroup::create(limit.cgroup_parent.as_deref(), limit.bytes)
                        .map_err(|err| {
                            SetupError::new("creating the child's memory cgroup", err)
                        })?;
                    cgroup = Some(made);
                    Some((limit.bytes, MemoryEnforcer::Cgroup))
                }
                None => match Cgroup::create(limit.cgroup_parent.as_deref(), limit.bytes) {
                    Ok(made) => {
                        cgroup = Some(made);
                        Some((limit.bytes, MemoryEnforcer::Cgroup))
                    }
                    Err(err) => {
                        tracing::debug!(error = %err, "no memory cgroup for the child; using the address-space limit");
                        Some((limit.bytes, MemoryEnforcer::AddressSpace))
                    }
                },
                Some(MemoryEnforcer::AddressSpace) => {
                    Some((limit.bytes, MemoryEnforcer::AddressSpace))
                }
                Some(_) => {
                    return Err(SetupError::unsupported(
                        "choosing the memory enforcer",
                        "Linux offers the memory cgroup and the address-space limit",
                    ));
                }
            },
        };
        let address_space = match memory {
            Some((bytes, MemoryEnforcer::AddressSpace)) => Some(bytes),
            _ => None,
        };
        let rlimits = Rlimits::new(address_space, cpu);
        Ok(Prepared {
            guard: Self { cgroup, rlimits },
            memory,
        })
    }

    pub(super) fn install(&self, command: &mut Command) {
        let rlimits = self.rlimits;
        let procs = self.cgroup.as_ref().map(|cgroup| cgroup.procs().to_owned());
        if rlimits.is_empty() && procs.is_none() {
            return;
        }
        // SAFETY: the closure only calls open, write, close and setrlimit,
        // which are async-signal-safe, and allocates nothing: the path was
        // prepared before the fork.
        unsafe {
            command.pre_exec(move || {
                if let Some(procs) = &procs {
                    cgroup::join(procs)?;
                }
                rlimits.apply()
            });
        }
    }

    pub(super) fn attach(
        &mut self,
        _child: &dyn process_wrap::tokio::ChildWrapper,
    ) -> io::Result<()> {
        Ok(())
    }

    pub(super) fn oom_killed(&self) -> bool {
        self.cgroup
            .as_ref()
            .is_some_and(|cgroup| cgroup.oom_kills() > 0)
    }

    pub(super) async fn release(&mut self) {
        if let Some(cgroup) = self.cgroup.as_mut() {
            cgroup.release().await;
        }
    }
}
