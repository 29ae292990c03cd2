//! The steps of a check, each turning what it saw into findings.

use serde_json::value::RawValue;

use super::CheckReport;
use crate::describe::Span;
use crate::wire::{ChildInfo, Finding, SESSION_COMMAND};
use crate::worker::{ShutdownStep, Worker, WorkerError};
use crate::{Command, LocateError};

/// What the parent expects of the child.
#[derive(Debug, Clone, Default)]
pub(super) struct Expected {
    pub(super) name: Option<String>,
    pub(super) version: Option<String>,
    pub(super) commands: Vec<ExpectedCommand>,
}

/// A command the child must serve.
#[derive(Debug, Clone)]
pub(super) struct ExpectedCommand {
    name: String,
    /// `Some(true)` for streaming, `Some(false)` for unary, `None` for
    /// either.
    streaming: Option<bool>,
    /// Type names of request, row and output, when the parent knows them.
    types: Option<[Option<String>; 3]>,
}

impl ExpectedCommand {
    pub(super) fn typed<C: Command>(streaming: Option<bool>, row: Option<&str>) -> Self {
        Self {
            name: C::NAME.to_owned(),
            streaming,
            types: Some([
                Some(std::any::type_name::<C>().to_owned()),
                row.map(str::to_owned),
                Some(std::any::type_name::<C::Output>().to_owned()),
            ]),
        }
    }

    pub(super) fn named(name: String) -> Self {
        Self {
            name,
            streaming: None,
            types: None,
        }
    }
}

impl Expected {
    /// Compares the handshake with the expectations.
    pub(super) fn check(&self, report: &mut CheckReport) {
        let Some(info) = report.info.clone() else {
            return;
        };
        if let Some(name) = &self.name
            && *name != info.name
        {
            report.push(
                Finding::error(
                    "name_mismatch",
                    "name",
                    format!("the child is capability \"{}\", not \"{name}\"", info.name),
                )
                .hint("check that the path names the intended child binary"),
            );
        }
        if let Some(requirement) = &self.version {
            report.push_all(version(requirement, &info.version));
        }
        for expected in &self.commands {
            report.push_all(command(expected, &info));
        }
    }
}

impl CheckReport {
    fn push_all(&mut self, findings: impl IntoIterator<Item = Finding>) {
        self.findings.extend(findings);
    }
}

fn version(requirement: &str, version: &str) -> Option<Finding> {
    let wanted = match semver::VersionReq::parse(requirement) {
        Ok(wanted) => wanted,
        Err(err) => {
            return Some(Finding::error(
                "bad_version_requirement",
                "version",
                format!("the version requirement \"{requirement}\" does not parse: {err}"),
            ));
        }
    };
    match semver::Version::parse(version) {
        Ok(found) if wanted.matches(&found) => None,
        Ok(_) => Some(
            Finding::error(
                "version_mismatch",
                "version",
                format!("the child is version {version}, which does not meet \"{requirement}\""),
            )
            .hint("install a child binary built from a matching version"),
        ),
        Err(err) => Some(Finding::error(
            "version_unparsable",
            "version",
            format!("the child's version \"{version}\" is not a semantic version: {err}"),
        )),
    }
}

fn command(expected: &ExpectedCommand, info: &ChildInfo) -> Vec<Finding> {
    let name = &expected.name;
    let Some(served) = info.command(name) else {
        let served: Vec<&str> = info.commands.iter().map(|c| c.name.as_str()).collect();
        return vec![
            Finding::error(
                "command_missing",
                name.as_str(),
                format!(
                    "the child does not serve command \"{name}\"; it serves {}",
                    if served.is_empty() {
                        "none".to_owned()
                    } else {
                        served.join(", ")
                    }
                ),
            )
            .hint("rebuild the child with the command registered, or check its version"),
        ];
    };
    if let Some(streaming) = expected.streaming
        && streaming != served.streaming
    {
        let wanted = if streaming { "streaming" } else { "unary" };
        return vec![Finding::error(
            "command_kind",
            name.as_str(),
            format!(
                "the child serves \"{name}\" as a {} command; the parent expects a {wanted} one",
                served.kind()
            ),
        )];
    }
    let Some(types) = &expected.types else {
        return Vec::new();
    };
    let parts = ["request", "row", "output"];
    let found = [&served.request, &served.row, &served.output];
    let mut findings = Vec::new();
    for ((part, wanted), found) in parts.iter().zip(types).zip(found) {
        if let (Some(wanted), Some(found)) = (wanted, found)
            && wanted != found
        {
            findings.push(
                Finding::warning(
                    "command_type",
                    name.as_str(),
                    format!(
                        "the child's {part} type for \"{name}\" is {found}, the parent's is {wanted}"
                    ),
                )
                .hint("parent and child should share one crate of command types"),
            );
        }
    }
    findings
}

pub(super) fn not_found(err: &LocateError) -> Finding {
    let finding = Finding::error("child_not_found", "program", err.to_string());
    match err {
        LocateError::NotFound { .. } => finding
            .hint("ship the child binary next to the application, or set the override variable"),
        LocateError::BadOverride { .. } | LocateError::BadPath { .. } => finding,
    }
}

/// A child that did not start: what failed, and what to try.
pub(super) fn not_started(report: &mut CheckReport, err: &WorkerError) {
    let (code, hint) = match err {
        WorkerError::Spawn { .. } => (
            "spawn_failed",
            "check that the program exists and is executable",
        ),
        WorkerError::Handshake { .. } => (
            "handshake_failed",
            "a bulkhead child answers the parent's hello with a handshake frame on the channel",
        ),
        WorkerError::ProtocolMismatch { .. } => (
            "protocol_mismatch",
            "build the child and the parent against bulkhead versions of the same protocol",
        ),
        WorkerError::StartupTimeout { .. } => (
            "startup_timeout",
            "raise the startup timeout, or find what the child waits for before its handshake",
        ),
        WorkerError::Transport { .. } => (
            "transport_failed",
            "try the other transport to tell a transport problem from a child problem",
        ),
        _ => ("start_failed", "see the child's stderr"),
    };
    report.push(Finding::error(code, "startup", err.to_string()).hint(hint));
    report.stderr_tail = err
        .stderr_tail()
        .filter(|tail| !tail.trim().is_empty())
        .map(str::to_owned);
}

pub(super) fn started(report: &mut CheckReport) {
    let (Some(info), Some(startup)) = (&report.info, report.startup) else {
        return;
    };
    let message = format!(
        "{} {} answered the handshake in {} with {} commands",
        info.name,
        info.version,
        Span(startup),
        info.commands.len()
    );
    report.push(Finding::info("started", "startup", message));
}

/// Runs the child's doctor handler, if it has one, and adds its findings.
pub(super) async fn doctor(report: &mut CheckReport, worker: &mut Worker) {
    match worker.doctor().await {
        Ok(Some(findings)) => report.push_all(findings),
        Ok(None) => report.push(Finding::info(
            "no_doctor",
            "doctor",
            "the child has no doctor handler of its own",
        )),
        Err(err) => report.push(
            Finding::error(
                "doctor_failed",
                "doctor",
                format!("the child's doctor handler failed: {err}"),
            )
            .hint("the handler should report problems as findings, not fail"),
        ),
    }
}

pub(super) async fn open_session(report: &mut CheckReport, worker: &mut Worker, key: &RawValue) {
    let opened = worker
        .raw_request(SESSION_COMMAND, key)
        .opens_session()
        .call_raw()
        .await;
    if let Err(err) = opened {
        report.push(Finding::error(
            "session_open_failed",
            "session",
            format!("the session {} did not open: {err}", key.get()),
        ));
    }
}

/// Shuts the checked child down; a child that had to be killed is a
/// warning.
pub(super) async fn shutdown(report: &mut CheckReport, worker: &mut Worker) {
    let ended = worker.shutdown().await;
    if matches!(ended.step, ShutdownStep::Terminated | ShutdownStep::Killed) {
        report.push(
            Finding::warning("slow_shutdown", "shutdown", ended.to_string())
                .hint("a child should exit when it reads the shutdown frame"),
        );
    }
}
