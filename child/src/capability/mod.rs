//! A capability: the typed handlers a child serves, plus its metadata.

use rustc_hash::FxHashMap;
use std::any::type_name;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use bulkhead_protocol::command::{StreamCommand, UnaryCommand};
use bulkhead_protocol::wire::{
    CommandInfo, DOCTOR_COMMAND, Finding, RESERVED_PREFIX, RemoteError, RemoteErrorKind,
    SESSION_COMMAND,
};
use serde::de::DeserializeOwned;

use crate::context::{Context, StreamContext};
use crate::error::HandlerError;

/// What a handler produced: `Ok` once its success frame is written, or the
/// typed error still to be sent.
pub(crate) type Handled = Result<(), RemoteError>;

type Handler = Box<dyn Fn(&[u8], &mut Context<'_>) -> Handled + Send + Sync>;

/// The commands a child serves, with its name and version, and optionally
/// the [session](Capability::session) opens it performs.
///
/// ```
/// use bulkhead_child::{Capability, HandlerError};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, bulkhead_protocol::Command)]
/// #[command(row = u64, summary = u64)]
/// struct Count {
///     to: u64,
/// }
///
/// let capability = Capability::new("counter", "0.1.0").stream(|request: Count, cx| {
///     for n in 0..request.to {
///         cx.emit(&n)?;
///     }
///     Ok::<_, HandlerError>(request.to)
/// });
/// assert_eq!(capability.commands()[0].name, "count");
/// ```
pub struct Capability {
    name: String,
    version: String,
    commands: Vec<CommandInfo>,
    handlers: FxHashMap<String, Handler>,
    /// Serves [`SESSION_COMMAND`]; kept apart from `handlers` so that no
    /// command can take its place.
    session: Option<Handler>,
    /// Serves [`DOCTOR_COMMAND`], kept apart likewise.
    doctor: Option<Handler>,
    facts: BTreeMap<String, String>,
}

impl Capability {
    /// A capability with no commands yet.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            commands: Vec::new(),
            handlers: FxHashMap::default(),
            session: None,
            doctor: None,
            facts: BTreeMap::new(),
        }
    }

    /// Serves unary command `C` with `handler`. A later registration of the
    /// same name replaces the earlier one.
    ///
    /// Names starting with [`RESERVED_PREFIX`] (`bulkhead.`) belong to the
    /// protocol ([session opens](Capability::session), the
    /// [doctor](Capability::doctor)): registering a command under one fails
    /// to build (the check runs when the code is compiled to a binary, so
    /// `cargo build` reports it where `cargo check` may not).
    ///
    /// ```compile_fail,E0080
    /// use bulkhead_child::{Capability, HandlerError};
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Serialize, Deserialize, bulkhead_protocol::Command)]
    /// #[command(name = "bulkhead.session")]
    /// struct Hijack {}
    ///
    /// let _ = Capability::new("x", "1.0.0").unary(|_: Hijack, _cx| Ok::<_, HandlerError>(()));
    /// ```
    pub fn unary<C, F, E>(self, handler: F) -> Self
    where
        C: UnaryCommand,
        F: Fn(C, &mut Context<'_>) -> Result<C::Output, E> + Send + Sync + 'static,
        E: Into<HandlerError>,
    {
        const { assert!(!is_reserved(C::NAME), "{}", RESERVED) };
        self.register(
            command_info::<C>(false, None),
            Box::new(move |args, cx| {
                let request = decode::<C>(args)?;
                let output = handler(request, cx).map_err(Into::into);
                cx.succeed(output)
            }),
        )
    }

    /// Serves streaming command `C` with `handler`, which emits rows through
    /// its [`StreamContext`]. Like [`unary`](Capability::unary), a command
    /// whose name starts with `bulkhead.` fails to build.
    pub fn stream<C, F, E>(self, handler: F) -> Self
    where
        C: StreamCommand,
        F: Fn(C, &mut StreamContext<'_, '_, C::Row>) -> Result<C::Output, E>
            + Send
            + Sync
            + 'static,
        E: Into<HandlerError>,
    {
        const { assert!(!is_reserved(C::NAME), "{}", RESERVED) };
        self.register(
            command_info::<C>(true, Some(type_name::<C::Row>())),
            Box::new(move |args, cx| {
                let request = decode::<C>(args)?;
                let output = handler(request, &mut StreamContext::new(cx)).map_err(Into::into);
                cx.succeed(output)
            }),
        )
    }

    /// Opens sessions with `handler`. A session key of type `K` names warm
    /// state that is expensive to build (imported modules, a loaded model);
    /// the parent's pool opens a key on a child before the requests that need
    /// it, and sends later requests for the same key to a child that already
    /// has it open, so the handler runs when a child first needs a key, not
    /// once per request. What a new open does to the state of the previous
    /// one is the handler's business.
    ///
    /// The handler runs like a unary command named [`SESSION_COMMAND`], whose
    /// arguments are the key's JSON: a key that does not decode is a bad
    /// request, an error fails the open, and a panic ends it with a typed
    /// error that asks the parent to replace the child. Registering makes the
    /// handshake announce `sessions: true`; the session command is not listed
    /// among [`commands`](Capability::commands). A later call replaces the
    /// earlier handler. Without one, a session open is answered as an
    /// unknown command.
    ///
    /// ```
    /// use std::sync::{Mutex, PoisonError};
    ///
    /// use bulkhead_child::{Capability, HandlerError};
    /// use serde::Deserialize;
    ///
    /// #[derive(Deserialize)]
    /// struct Theory {
    ///     imports: Vec<String>,
    /// }
    ///
    /// static LOADED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    ///
    /// let capability = Capability::new("prover", "0.1.0").session(|theory: Theory, cx| {
    ///     cx.info(format!("importing {} theories", theory.imports.len()));
    ///     *LOADED.lock().unwrap_or_else(PoisonError::into_inner) = theory.imports;
    ///     Ok::<_, HandlerError>(())
    /// });
    /// assert!(capability.sessions());
    /// assert!(capability.commands().is_empty());
    /// ```
    pub fn session<K, F, E>(mut self, handler: F) -> Self
    where
        K: DeserializeOwned,
        F: Fn(K, &mut Context<'_>) -> Result<(), E> + Send + Sync + 'static,
        E: Into<HandlerError>,
    {
        self.session = Some(Box::new(move |args, cx| {
            let key = decode::<K>(args)?;
            let opened = handler(key, cx).map_err(Into::into);
            cx.succeed(opened)
        }));
        self
    }

    /// Answers the parent's health check ([`DOCTOR_COMMAND`]) with
    /// `handler`'s findings: what the capability needs and cannot find (a
    /// model file, a licence, a library), as [`Finding`]s with a severity
    /// and a repair hint. `bulkhead doctor` and the parent's `check()` merge
    /// them into their report. The handshake announces `doctor: true`; the
    /// command is not listed among [`commands`](Capability::commands). An
    /// error fails the check with a typed error, a panic also asks the
    /// parent to replace the child. A later call replaces the earlier
    /// handler.
    ///
    /// ```
    /// use bulkhead_child::{Capability, HandlerError};
    /// use bulkhead_protocol::wire::Finding;
    ///
    /// let capability = Capability::new("ranker", "0.1.0").doctor(|_cx| {
    ///     let mut findings = Vec::new();
    ///     if std::env::var_os("RANKER_MODEL").is_none() {
    ///         findings.push(
    ///             Finding::error("model_unset", "RANKER_MODEL", "no model file is configured")
    ///                 .hint("set RANKER_MODEL to the path of a model file"),
    ///         );
    ///     }
    ///     Ok::<_, HandlerError>(findings)
    /// });
    /// assert!(capability.doctor_served());
    /// ```
    pub fn doctor<F, E>(mut self, handler: F) -> Self
    where
        F: Fn(&mut Context<'_>) -> Result<Vec<Finding>, E> + Send + Sync + 'static,
        E: Into<HandlerError>,
    {
        self.doctor = Some(Box::new(move |_args, cx| {
            let findings = handler(cx).map_err(Into::into);
            cx.succeed(findings)
        }));
        self
    }

    /// Records a fact about the capability for the handshake: a feature
    /// built in, the version of an engine it embeds. Tools show facts; a
    /// parent can require them. A later value for the same key replaces
    /// the earlier one.
    ///
    /// ```
    /// let capability = bulkhead_child::Capability::new("prover", "0.3.0").fact("lean", "4.35.0");
    /// assert_eq!(capability.facts()["lean"], "4.35.0");
    /// ```
    pub fn fact(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.facts.insert(key.into(), value.into());
        self
    }

    /// The facts recorded with [`fact`](Capability::fact).
    pub fn facts(&self) -> &BTreeMap<String, String> {
        &self.facts
    }

    /// Whether a [doctor](Capability::doctor) handler is registered.
    pub fn doctor_served(&self) -> bool {
        self.doctor.is_some()
    }

    /// The capability's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The capability's version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The commands served, in registration order. The session command is
    /// not among them; see [`sessions`](Capability::sessions).
    pub fn commands(&self) -> &[CommandInfo] {
        &self.commands
    }

    /// Whether the capability opens sessions: set by
    /// [`session`](Capability::session) and announced in the handshake.
    pub fn sessions(&self) -> bool {
        self.session.is_some()
    }

    fn register(mut self, info: CommandInfo, handler: Handler) -> Self {
        self.commands.retain(|command| command.name != info.name);
        self.handlers.insert(info.name.clone(), handler);
        self.commands.push(info);
        self
    }

    /// Runs the handler for `command`, turning a panic into a typed error
    /// that asks for replacement.
    pub(crate) fn handle(&self, command: &str, args: &[u8], cx: &mut Context<'_>) -> Handled {
        let handler = match command {
            SESSION_COMMAND => self.session.as_ref(),
            DOCTOR_COMMAND => self.doctor.as_ref(),
            _ => self.handlers.get(command),
        };
        let Some(handler) = handler else {
            return Err(self.unknown(command));
        };
        catch_unwind(AssertUnwindSafe(|| handler(args, cx))).unwrap_or_else(|panic| {
            let mut err = RemoteError::new(
                RemoteErrorKind::Panic,
                format!(
                    "handler for {command:?} panicked: {}",
                    bulkhead_protocol::panic::message(&*panic)
                ),
            );
            err.replace = true;
            Err(err)
        })
    }

    fn unknown(&self, command: &str) -> RemoteError {
        let message = if command == SESSION_COMMAND {
            format!("no command named {command:?}; this child does not open sessions")
        } else if command == DOCTOR_COMMAND {
            format!("no command named {command:?}; this child has no doctor handler")
        } else {
            format!(
                "no command named {command:?}; this child serves {}",
                self.list()
            )
        };
        RemoteError::new(RemoteErrorKind::UnknownCommand, message)
    }

    fn list(&self) -> String {
        let names: Vec<&str> = self.commands.iter().map(|c| c.name.as_str()).collect();
        names.join(", ")
    }
}

impl std::fmt::Debug for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capability")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("commands", &self.commands)
            .field("sessions", &self.sessions())
            .field("doctor", &self.doctor_served())
            .field("facts", &self.facts)
            .finish_non_exhaustive()
    }
}

/// Why a command may not be named with [`RESERVED_PREFIX`].
const RESERVED: &str = "command names starting with `bulkhead.` are reserved for the protocol; \
                        register session opens with `Capability::session` and health checks \
                        with `Capability::doctor` instead";

/// Whether `name` starts with [`RESERVED_PREFIX`]; usable in constant
/// evaluation.
const fn is_reserved(name: &str) -> bool {
    let (name, reserved) = (name.as_bytes(), RESERVED_PREFIX.as_bytes());
    if name.len() < reserved.len() {
        return false;
    }
    let mut index = 0;
    while index < reserved.len() {
        if name[index] != reserved[index] {
            return false;
        }
        index += 1;
    }
    true
}

/// What the handshake says about command `C`.
fn command_info<C: bulkhead_protocol::Command>(streaming: bool, row: Option<&str>) -> CommandInfo {
    let mut info = CommandInfo::new(C::NAME, streaming);
    info.request = Some(type_name::<C>().to_owned());
    info.row = row.map(str::to_owned);
    info.output = Some(type_name::<C::Output>().to_owned());
    info
}

fn decode<C: DeserializeOwned>(args: &[u8]) -> Result<C, RemoteError> {
    serde_json::from_slice(args).map_err(|err| {
        RemoteError::new(
            RemoteErrorKind::BadRequest,
            format!("arguments do not decode: {err}"),
        )
    })
}

#[cfg(test)]
mod tests;
