use std::collections::BTreeMap;

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
    /// Whether the child answers [`DOCTOR_COMMAND`] with its own
    /// [`Finding`]s. Absent on the wire means `false`.
    ///
    /// [`DOCTOR_COMMAND`]: super::DOCTOR_COMMAND
    /// [`Finding`]: super::Finding
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub doctor: bool,
    /// Facts about the capability for tools and for the parent's checks:
    /// features built in, versions of what it embeds (`"engine": "4.35"`).
    /// Absent on the wire means none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub facts: BTreeMap<String, String>,
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
    /// The Rust type of the request, as the child names it; for people and
    /// tools, not for dispatch. Absent on the wire means unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// The type of each row of a streaming command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<String>,
    /// The type of the response (unary) or summary (streaming).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

impl CommandInfo {
    /// A command with no type names.
    pub fn new(name: impl Into<String>, streaming: bool) -> Self {
        Self {
            name: name.into(),
            streaming,
            request: None,
            row: None,
            output: None,
        }
    }

    /// `"unary"` or `"streaming"`.
    pub fn kind(&self) -> &'static str {
        if self.streaming { "streaming" } else { "unary" }
    }
}
