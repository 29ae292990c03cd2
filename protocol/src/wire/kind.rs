use super::FrameError;

/// The first byte of every frame body.
///
/// Values are part of the protocol and never change meaning; new kinds get new
/// values. A peer that receives a value it does not know reports
/// [`FrameError::UnknownKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameKind {
    /// Parent → child, first frame of a connection: version and limits.
    Hello = 0x01,
    /// Child → parent, answer to [`FrameKind::Hello`]: version, limits, metadata.
    Handshake = 0x02,
    /// Parent → child: run a command.
    Request = 0x10,
    /// Parent → child: stop the running request.
    Cancel = 0x11,
    /// Parent → child: exit after the current request.
    Shutdown = 0x12,
    /// Child → parent: one row of a streaming command.
    Row = 0x20,
    /// Child → parent: a diagnostic message.
    Diagnostic = 0x21,
    /// Child → parent: progress of the running request.
    Progress = 0x22,
    /// Child → parent: terminal success with the response or summary.
    Success = 0x30,
    /// Child → parent: terminal failure.
    Error = 0x31,
}

impl FrameKind {
    /// Every kind, in protocol order.
    pub const ALL: [FrameKind; 10] = [
        FrameKind::Hello,
        FrameKind::Handshake,
        FrameKind::Request,
        FrameKind::Cancel,
        FrameKind::Shutdown,
        FrameKind::Row,
        FrameKind::Diagnostic,
        FrameKind::Progress,
        FrameKind::Success,
        FrameKind::Error,
    ];

    /// The lowercase protocol name of this kind, as used in errors and docs.
    pub fn name(self) -> &'static str {
        match self {
            FrameKind::Hello => "hello",
            FrameKind::Handshake => "handshake",
            FrameKind::Request => "request",
            FrameKind::Cancel => "cancel",
            FrameKind::Shutdown => "shutdown",
            FrameKind::Row => "row",
            FrameKind::Diagnostic => "diagnostic",
            FrameKind::Progress => "progress",
            FrameKind::Success => "success",
            FrameKind::Error => "error",
        }
    }

    /// Whether this kind ends a request.
    pub fn is_terminal(self) -> bool {
        matches!(self, FrameKind::Success | FrameKind::Error)
    }
}

impl TryFrom<u8> for FrameKind {
    type Error = FrameError;

    fn try_from(byte: u8) -> Result<Self, FrameError> {
        FrameKind::ALL
            .into_iter()
            .find(|kind| *kind as u8 == byte)
            .ok_or(FrameError::UnknownKind(byte))
    }
}

impl std::fmt::Display for FrameKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_byte() {
        for kind in FrameKind::ALL {
            assert_eq!(FrameKind::try_from(kind as u8).unwrap(), kind);
        }
    }

    #[test]
    fn unknown_byte_is_a_typed_error() {
        assert!(matches!(
            FrameKind::try_from(0x7f),
            Err(FrameError::UnknownKind(0x7f))
        ));
    }
}
