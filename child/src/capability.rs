//! A capability: the typed handlers a child serves, plus its metadata.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use bulkhead::command::{StreamCommand, UnaryCommand};
use bulkhead::wire::{CommandInfo, RemoteError, RemoteErrorKind};

use crate::context::{Context, StreamContext};
use crate::error::HandlerError;

/// What a handler produced: `Ok` once its success frame is written, or the
/// typed error still to be sent.
pub(crate) type Handled = Result<(), RemoteError>;

type Handler = Box<dyn Fn(&[u8], &mut Context<'_>) -> Handled + Send + Sync>;

/// The commands a child serves, with its name and version.
///
/// ```
/// use bulkhead_child::{Capability, HandlerError};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, bulkhead::Command)]
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
    handlers: HashMap<String, Handler>,
}

impl Capability {
    /// A capability with no commands yet.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            commands: Vec::new(),
            handlers: HashMap::new(),
        }
    }

    /// Serves unary command `C` with `handler`. A later registration of the
    /// same name replaces the earlier one.
    pub fn unary<C, F, E>(self, handler: F) -> Self
    where
        C: UnaryCommand,
        F: Fn(C, &mut Context<'_>) -> Result<C::Output, E> + Send + Sync + 'static,
        E: Into<HandlerError>,
    {
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
    /// its [`StreamContext`].
    pub fn stream<C, F, E>(self, handler: F) -> Self
    where
        C: StreamCommand,
        F: Fn(C, &mut StreamContext<'_, '_, C::Row>) -> Result<C::Output, E>
            + Send
            + Sync
            + 'static,
        E: Into<HandlerError>,
    {
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

    /// The capability's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The capability's version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The commands served, in registration order.
    pub fn commands(&self) -> &[CommandInfo] {
        &self.commands
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
        let Some(handler) = self.handlers.get(command) else {
            return Err(RemoteError::new(
                RemoteErrorKind::UnknownCommand,
                format!(
                    "no command named {command:?}; this child serves {}",
                    self.list()
                ),
            ));
        };
        catch_unwind(AssertUnwindSafe(|| handler(args, cx))).unwrap_or_else(|panic| {
            let mut err = RemoteError::new(
                RemoteErrorKind::Panic,
                format!("handler for {command:?} panicked: {}", panic_text(&*panic)),
            );
            err.replace = true;
            Err(err)
        })
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
            .finish_non_exhaustive()
    }
}

fn decode<C: serde::de::DeserializeOwned>(args: &[u8]) -> Result<C, RemoteError> {
    serde_json::from_slice(args).map_err(|err| {
        RemoteError::new(
            RemoteErrorKind::BadRequest,
            format!("arguments do not decode: {err}"),
        )
    })
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "no message".to_owned()
    }
}
