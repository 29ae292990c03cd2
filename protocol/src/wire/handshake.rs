use serde::{Deserialize, Serialize};

/// Payload of the parent's first frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Protocol version the parent speaks.
    pub protocol: u32,
    /// Largest frame body the parent accepts.
    pub max_frame: u32,
    /// The generation number the parent gave this child (1 for the first).
    pub generation: u64,
}

/// Payload of the child's answer to [`Hello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handshake {
    /// Protocol version the child speaks.
    pub protocol: u32,
    /// Largest frame body the child accepts.
    pub max_frame: u32,
    /// Who the child is and what it serves.
    pub child: ChildInfo,
}

/// What a child says about itself in the handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildInfo {
    /// Capability name.
    pub name: String,
    /// Capability version.
    pub version: String,
    /// Process id as the child sees it.
    pub pid: u32,
    /// Commands the child serves.
    pub commands: Vec<CommandInfo>,
    /// Whether the child opens sessions: it serves [`SESSION_COMMAND`]
    /// and keeps warm state per session key. A child that does not is
    /// equally good for every key. Absent on the wire means `false`.
    ///
    /// [`SESSION_COMMAND`]: super::SESSION_COMMAND
    #[serde(default)]
    pub sessions: bool,
}

impl ChildInfo {
    /// The command called `name`, if the child serves it.
    pub fn command(&self, name: &str) -> Option<&CommandInfo> {
        self.commands.iter().find(|command| command.name == name)
    }
}

/// One command a child serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandInfo {
    /// Command name, as sent in request frames.
    pub name: String,
    /// Whether the command emits rows before its summary.
    pub streaming: bool,
}
