//! A capability: the typed handlers a child serves, plus its metadata.

use rustc_hash::FxHashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use bulkhead_protocol::command::{StreamCommand, UnaryCommand};
use bulkhead_protocol::wire::{CommandInfo, RemoteError, RemoteErrorKind, SESSION_COMMAND};
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
        }
    }

    /// Serves unary command `C` with `handler`. A later registration of the
    /// same name replaces the earlier one.
    ///
    /// The name [`SESSION_COMMAND`] is reserved for [session
    /// opens](Capability::session): registering a command under it fails to
    /// build (the check runs when the code is compiled to a binary, so
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
            C::NAME,
            false,
            Box::new(move |args, cx| {
                let request = decode::<C>(args)?;
                let output = handler(request, cx).map_err(Into::into);
                cx.succeed(output)
            }),
        )
    }

    /// Serves streaming command `C` with `handler`, which emits rows through
    /// its [`StreamContext`]. Like [`unary`](Capability::unary), a command
    /// named [`SESSION_COMMAND`] fails to build.
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
            C::NAME,
            true,
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

    fn register(mut self, name: &str, streaming: bool, handler: Handler) -> Self {
        self.commands.retain(|command| command.name != name);
        self.commands.push(CommandInfo {
            name: name.to_owned(),
            streaming,
        });
        self.handlers.insert(name.to_owned(), handler);
        self
    }

    /// Runs the handler for `command`, turning a panic into a typed error
    /// that asks for replacement.
    pub(crate) fn handle(&self, command: &str, args: &[u8], cx: &mut Context<'_>) -> Handled {
        let handler = if command == SESSION_COMMAND {
            self.session.as_ref()
        } else {
            self.handlers.get(command)
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
            .finish_non_exhaustive()
    }
}

/// Why a command may not be named [`SESSION_COMMAND`].
const RESERVED: &str = "the command name `bulkhead.session` is reserved for session opens; \
                        register a session handler with `Capability::session` instead";

/// Whether `name` is [`SESSION_COMMAND`]; usable in constant evaluation.
const fn is_reserved(name: &str) -> bool {
    let (name, reserved) = (name.as_bytes(), SESSION_COMMAND.as_bytes());
    if name.len() != reserved.len() {
        return false;
    }
    let mut index = 0;
    while index < name.len() {
        if name[index] != reserved[index] {
            return false;
        }
        index += 1;
    }
    true
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
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex, PoisonError};

    use bulkhead_protocol::wire::{Frame, Success, frame_length};
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::context::CancelMark;
    use crate::output::Output;

    #[derive(Serialize, Deserialize, bulkhead_protocol::Command)]
    #[command(response = String)]
    struct Echo {
        text: String,
    }

    /// A writer whose bytes the test reads back.
    #[derive(Clone, Default)]
    struct Written(Arc<Mutex<Vec<u8>>>);

    impl Write for Written {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Handles one request and returns the outcome with the success
    /// payload written, if any.
    fn handle(
        capability: &Capability,
        command: &str,
        args: &str,
    ) -> (Handled, Option<Success<serde_json::Value>>) {
        let written = Written::default();
        let output = Output::start(Box::new(written.clone())).unwrap();
        let cancel = CancelMark::default();
        let handled = capability.handle(
            command,
            args.as_bytes(),
            &mut Context::new(1, &output, &cancel),
        );
        output.close();
        let bytes = written.0.lock().unwrap().clone();
        let mut success = None;
        let mut rest = &bytes[..];
        while let Some(len) = frame_length(rest, u32::MAX).unwrap() {
            let (body, tail) = rest[4..].split_at(len);
            if let Frame::Success { payload, .. } = Frame::decode(body).unwrap() {
                success = Some(serde_json::from_slice(payload).unwrap());
            }
            rest = tail;
        }
        (handled, success)
    }

    fn with_session(opened: Arc<Mutex<Vec<String>>>) -> Capability {
        Capability::new("test", "0.0.0")
            .unary(|request: Echo, _cx| Ok::<_, HandlerError>(request.text))
            .session(move |key: String, _cx| {
                if key == "refuse" {
                    return Err(HandlerError::new("refused"));
                }
                if key == "panic" {
                    panic!("no such key");
                }
                opened.lock().unwrap().push(key);
                Ok::<_, HandlerError>(())
            })
    }

    #[test]
    fn session_open_runs_the_handler_and_answers_null() {
        let opened = Arc::default();
        let capability = with_session(Arc::clone(&opened));
        let (handled, success) = handle(&capability, SESSION_COMMAND, r#""warm""#);
        handled.unwrap();
        assert_eq!(success.unwrap().value, serde_json::Value::Null);
        assert_eq!(*opened.lock().unwrap(), ["warm"]);
    }

    #[test]
    fn session_is_announced_but_not_listed() {
        let capability = with_session(Arc::default());
        assert!(capability.sessions());
        let names: Vec<&str> = capability
            .commands()
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["echo"]);
        assert!(!Capability::new("plain", "0.0.0").sessions());
    }

    #[test]
    fn session_key_that_does_not_decode_is_a_bad_request() {
        let opened = Arc::default();
        let capability = with_session(Arc::clone(&opened));
        let err = handle(&capability, SESSION_COMMAND, "42").0.unwrap_err();
        assert_eq!(err.kind, RemoteErrorKind::BadRequest);
        assert!(opened.lock().unwrap().is_empty());
    }

    #[test]
    fn session_handler_error_fails_the_open() {
        let capability = with_session(Arc::default());
        let err = handle(&capability, SESSION_COMMAND, r#""refuse""#)
            .0
            .unwrap_err();
        assert_eq!(err.kind, RemoteErrorKind::Handler);
        assert_eq!(err.message, "refused");
        assert!(!err.replace);
    }

    #[test]
    fn session_handler_panic_asks_for_replacement() {
        let capability = with_session(Arc::default());
        let err = handle(&capability, SESSION_COMMAND, r#""panic""#)
            .0
            .unwrap_err();
        assert_eq!(err.kind, RemoteErrorKind::Panic);
        assert!(err.message.contains("no such key"), "{}", err.message);
        assert!(err.replace);
    }

    #[test]
    fn session_open_without_a_handler_is_an_unknown_command() {
        let capability = Capability::new("plain", "0.0.0")
            .unary(|request: Echo, _cx| Ok::<_, HandlerError>(request.text));
        let err = handle(&capability, SESSION_COMMAND, r#""warm""#)
            .0
            .unwrap_err();
        assert_eq!(err.kind, RemoteErrorKind::UnknownCommand);
        assert!(
            err.message.contains("does not open sessions"),
            "{}",
            err.message
        );
    }

    #[test]
    fn later_session_handler_replaces_the_earlier_one() {
        let first: Arc<Mutex<Vec<String>>> = Arc::default();
        let second: Arc<Mutex<Vec<String>>> = Arc::default();
        let capability = with_session(Arc::clone(&first)).session({
            let second = Arc::clone(&second);
            move |key: String, _cx| {
                second.lock().unwrap().push(key);
                Ok::<_, HandlerError>(())
            }
        });
        handle(&capability, SESSION_COMMAND, r#""warm""#).0.unwrap();
        assert!(first.lock().unwrap().is_empty());
        assert_eq!(*second.lock().unwrap(), ["warm"]);
    }

    #[test]
    fn commands_still_dispatch_next_to_a_session() {
        let capability = with_session(Arc::default());
        let (handled, success) = handle(&capability, "echo", r#"{"text":"hi"}"#);
        handled.unwrap();
        assert_eq!(success.unwrap().value, "hi");
    }

    #[test]
    fn only_the_exact_name_is_reserved() {
        assert!(is_reserved(SESSION_COMMAND));
        assert!(!is_reserved("bulkhead.sessions"));
        assert!(!is_reserved("bulkhead.sessio"));
        assert!(!is_reserved("Bulkhead.session"));
        assert!(!is_reserved(""));
    }
}
