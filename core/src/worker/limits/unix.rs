//! Unix without memory cgroups: the address-space limit for memory.

use std::io;
use std::time::Duration;

use tokio::process::Command;

use super::rlimit::Rlimits;
use super::{MemoryEnforcer, MemoryLimit, Prepared, SetupError};

pub(super) use super::rlimit::is_cpu_signal;

/// What a child's limits hold: the limits it sets on itself.
#[derive(Debug)]
pub(super) struct Guard {
    rlimits: Rlimits,
}

impl Guard {
    pub(super) fn prepare(
        memory: Option<&MemoryLimit>,
        cpu: Option<Duration>,
    ) -> Result<Prepared<Self>, SetupError> {
        let memory = match memory {
            None => None,
            Some(MemoryLimit {
                bytes,
                enforcer: None | Some(MemoryEnforcer::AddressSpace),
                ..
            }) => Some((*bytes, MemoryEnforcer::AddressSpace)),
            Some(_) => {
                return Err(SetupError::unsupported(
                    "choosing the memory enforcer",
                    "only the address-space limit exists on this platform",
                ));
            }
        };
        let rlimits = Rlimits::new(memory.map(|(bytes, _)| bytes), cpu);
        Ok(Prepared {
            guard: Self { rlimits },
            memory,
        })
    }

    pub(super) fn install(&self, command: &mut Command) {
        let rlimits = self.rlimits;
        if rlimits.is_empty() {
            return;
        }
        // SAFETY: the closure only calls setrlimit, which is
        // async-signal-safe, and allocates nothing.
        unsafe {
            command.pre_exec(move || rlimits.apply());
        }
    }

    pub(super) fn attach(
        &mut self,
        _child: &dyn process_wrap::tokio::ChildWrapper,
    ) -> io::Result<()> {
        Ok(())
    }

    pub(super) fn oom_killed(&self) -> bool {
        false
    }

    pub(super) async fn release(&mut self) {}
}
