//! Findings: what a health check found, from the parent's checks or from a
//! child's own doctor handler.

use serde::{Deserialize, Serialize};

/// How much a [`Finding`] matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing to do.
    Info,
    /// Works, but something is off (an old version, a slow start).
    Warning,
    /// Does not work as expected until repaired.
    Error,
}

impl Severity {
    /// `"info"`, `"warning"` or `"error"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing a check found: a stable code for programs, a sentence for
/// people, and what to do about it.
///
/// ```
/// use bulkhead_protocol::wire::{Finding, Severity};
///
/// let finding = Finding::error("model_missing", "model.bin", "the model file is missing")
///     .hint("download it with `fetch-model` or set MODEL_PATH");
/// assert_eq!(finding.severity, Severity::Error);
/// assert_eq!(
///     finding.to_string(),
///     "error [model_missing] model.bin: the model file is missing (download it with `fetch-model` or set MODEL_PATH)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// A stable snake_case name of what was found (`version_mismatch`).
    pub code: String,
    /// How much it matters.
    pub severity: Severity,
    /// What it is about: a command, a file, a setting; may be empty.
    #[serde(default)]
    pub subject: String,
    /// What was found, as a sentence.
    pub message: String,
    /// How to repair it, when there is something to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Finding {
    /// A finding of any severity, without a hint.
    pub fn new(
        severity: Severity,
        code: impl Into<String>,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code: code.into(),
            severity,
            subject: subject.into(),
            message: message.into(),
            hint: None,
        }
    }

    /// An [`Info`](Severity::Info) finding.
    pub fn info(
        code: impl Into<String>,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Info, code, subject, message)
    }

    /// A [`Warning`](Severity::Warning) finding.
    pub fn warning(
        code: impl Into<String>,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, code, subject, message)
    }

    /// An [`Error`](Severity::Error) finding.
    pub fn error(
        code: impl Into<String>,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Error, code, subject, message)
    }

    /// The same finding with a repair hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}] ", self.severity, self.code)?;
        if !self.subject.is_empty() {
            write!(f, "{}: ", self.subject)?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_read_back_from_their_json() {
        let finding = Finding::warning("slow_start", "", "the child took 2 s to start");
        let json = serde_json::to_string(&finding).unwrap();
        assert_eq!(
            json,
            r#"{"code":"slow_start","severity":"warning","subject":"","message":"the child took 2 s to start"}"#
        );
        assert_eq!(serde_json::from_str::<Finding>(&json).unwrap(), finding);
        assert_eq!(
            finding.to_string(),
            "warning [slow_start] the child took 2 s to start"
        );
    }

    #[test]
    fn an_unknown_severity_is_refused() {
        let json = r#"{"code":"x","severity":"fatal","message":"m"}"#;
        assert!(serde_json::from_str::<Finding>(json).is_err());
    }

    #[test]
    fn severities_order_by_weight() {
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Error);
    }
}
