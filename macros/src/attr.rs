//! Parsing and validating the `#[command(...)]` attributes of one type.
//!
//! Parsing never stops at the first mistake: each bad key is recorded in
//! [`Errors`], its value is skipped, and parsing carries on with the next key
//! and the next attribute. What was understood is still returned so that the
//! expansion can emit a best-effort impl and spare the user follow-on errors.

use proc_macro2::Ident;
use syn::meta::ParseNestedMeta;
use syn::parse::discouraged::Speculative as _;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Expr, Lit, LitStr, Token, Type};

use crate::errors::Errors;

/// The keys `#[command(...)]` accepts, for error messages.
const KNOWN: [&str; 5] = ["name", "response", "stream", "row", "summary"];

/// [`KNOWN`] as prose, for error messages.
const KEYS: &str = "`name`, `response`, `stream`, `row` or `summary`";

/// A value together with the key that introduced it, for spans.
pub(crate) struct Keyed<T> {
    /// The key token, e.g. `row` in `row = Line`.
    pub(crate) key: Ident,
    /// The parsed value.
    pub(crate) value: T,
}

/// Everything written in the `#[command(...)]` attributes, unvalidated.
#[derive(Default)]
pub(crate) struct Attrs {
    /// `name = "..."`.
    pub(crate) name: Option<Keyed<LitStr>>,
    /// `response = Type`.
    pub(crate) response: Option<Keyed<Type>>,
    /// The bare `stream` flag.
    pub(crate) stream: Option<Ident>,
    /// `row = Type`.
    pub(crate) row: Option<Keyed<Type>>,
    /// `summary = Type`.
    pub(crate) summary: Option<Keyed<Type>>,
    /// Keys seen so far, valid value or not, to report duplicates.
    seen: Vec<Ident>,
}

/// What the impls should look like, after validation.
pub(crate) struct Shape {
    /// `Command::Output`: the response or summary; `()` when `None`.
    pub(crate) output: Option<Type>,
    /// Which second trait is implemented.
    pub(crate) kind: Kind,
}

/// The trait implemented next to `Command`.
pub(crate) enum Kind {
    /// `UnaryCommand`.
    Unary,
    /// `StreamCommand` with this `Row`.
    Stream(Box<Type>),
    /// Neither: the fallback for `stream` without a valid `row`, since no
    /// `Row` type can be made up.
    CommandOnly,
}

impl Attrs {
    /// Parses every `#[command(...)]` among `attrs`, recording mistakes.
    pub(crate) fn parse(attrs: &[Attribute], errors: &mut Errors) -> Self {
        let mut parsed = Self::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("command")) {
            if let Err(error) = attr.parse_nested_meta(|meta| parsed.parse_key(&meta, errors)) {
                errors.push(error);
            }
        }
        parsed
    }

    /// Validates the combination of keys and decides the shape of the impls.
    ///
    /// On a mistake the error is recorded and the most plausible shape is
    /// returned anyway.
    pub(crate) fn shape(self, errors: &mut Errors) -> Shape {
        // A `row` key with a bad value was already reported; it still counts
        // as streaming so that its mistake is not reported a second time.
        let row_written = self.seen.iter().any(|key| key == "row");
        let streaming = row_written || self.stream.is_some();
        if let Some(response) = &self.response
            && streaming
        {
            errors.push(syn::Error::new(
                response.key.span(),
                "`response` is for unary commands; a streaming command (`stream`, \
                 `row = Type`) ends with `summary = Type` instead",
            ));
        }
        if let Some(summary) = &self.summary
            && !streaming
        {
            errors.push(syn::Error::new(
                summary.key.span(),
                "`summary` is for streaming commands and needs `row = Type`; \
                 a unary command answers with `response = Type`",
            ));
        }
        if let Some(stream) = &self.stream
            && !row_written
        {
            errors.push(syn::Error::new(
                stream.span(),
                "a streaming command needs `row = Type`",
            ));
        }
        let summary = self.summary.map(|s| s.value);
        match self.row {
            Some(row) => Shape {
                output: summary,
                kind: Kind::Stream(Box::new(row.value)),
            },
            None if streaming => Shape {
                output: summary,
                kind: Kind::CommandOnly,
            },
            None => Shape {
                output: self.response.map(|r| r.value),
                kind: Kind::Unary,
            },
        }
    }

    /// Parses one `key`, `key = value` or unexpected `key(...)` entry.
    fn parse_key(&mut self, meta: &ParseNestedMeta, errors: &mut Errors) -> syn::Result<()> {
        let Some(key) = meta.path.get_ident().cloned() else {
            errors.push(syn::Error::new_spanned(
                &meta.path,
                format!("unknown `command` key; expected {KEYS}"),
            ));
            return skip_value(meta.input);
        };
        let name = key.to_string();
        if KNOWN.contains(&name.as_str()) {
            if self.seen.contains(&key) {
                errors.push(syn::Error::new(
                    key.span(),
                    format!("duplicate `{key}` key"),
                ));
                return skip_value(meta.input);
            }
            self.seen.push(key.clone());
        }
        match name.as_str() {
            "name" => {
                let value = parse_value(meta, &key, errors, parse_name)?;
                set(&mut self.name, key, value);
            }
            "response" => {
                let value = parse_value(meta, &key, errors, parse_type)?;
                set(&mut self.response, key, value);
            }
            "row" => {
                let value = parse_value(meta, &key, errors, parse_type)?;
                set(&mut self.row, key, value);
            }
            "summary" => {
                let value = parse_value(meta, &key, errors, parse_type)?;
                set(&mut self.summary, key, value);
            }
            "stream" => {
                if !at_entry_end(meta.input) {
                    errors.push(unexpected_value(
                        meta.input,
                        "`stream` is a flag and takes no value",
                    ));
                    skip_value(meta.input)?;
                }
                self.stream = Some(key);
            }
            _ => {
                errors.push(syn::Error::new(
                    key.span(),
                    format!("unknown `command` key `{key}`; expected {KEYS}"),
                ));
                skip_value(meta.input)?;
            }
        }
        Ok(())
    }
}

/// Stores a successfully parsed `value` under `key`.
fn set<T>(slot: &mut Option<Keyed<T>>, key: Ident, value: Option<T>) {
    *slot = value.map(|value| Keyed { key, value });
}

/// Parses the `= value` after `key`.
///
/// A bad value is recorded and skipped, and `Ok(None)` returned so that the
/// next key is still parsed; `Err` only for input that cannot be resumed.
fn parse_value<T>(
    meta: &ParseNestedMeta,
    key: &Ident,
    errors: &mut Errors,
    parse: fn(ParseStream) -> syn::Result<T>,
) -> syn::Result<Option<T>> {
    if !meta.input.peek(Token![=]) {
        errors.push(syn::Error::new(
            key.span(),
            format!("expected a value: `{key} = ...`"),
        ));
        skip_value(meta.input)?;
        return Ok(None);
    }
    let input = meta.value()?;
    let fork = input.fork();
    match parse(&fork) {
        Ok(value) => {
            input.advance_to(&fork);
            if at_entry_end(input) {
                Ok(Some(value))
            } else {
                errors.push(input.error("expected `,` or `)` after the value"));
                skip_tokens(input)?;
                Ok(None)
            }
        }
        Err(error) => {
            errors.push(error);
            skip_tokens(input)?;
            Ok(None)
        }
    }
}

/// `name = "..."`: a non-empty string literal without whitespace.
fn parse_name(input: ParseStream) -> syn::Result<LitStr> {
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        let value = lit.value();
        if value.is_empty() {
            return Err(syn::Error::new(
                lit.span(),
                "the command name must not be empty",
            ));
        }
        if value.chars().any(char::is_whitespace) {
            return Err(syn::Error::new(
                lit.span(),
                "the command name must not contain whitespace",
            ));
        }
        return Ok(lit);
    }
    if at_entry_end(input) {
        return Err(input.error("expected a string literal, like `name = \"count_rows\"`"));
    }
    let expr: Expr = input.parse()?;
    Err(syn::Error::new_spanned(
        expr,
        "expected a string literal, like `name = \"count_rows\"`",
    ))
}

/// `response`/`row`/`summary = Type`, with a hint for a quoted type.
fn parse_type(input: ParseStream) -> syn::Result<Type> {
    if input.peek(Lit) {
        let lit: Lit = input.parse()?;
        let message = match &lit {
            Lit::Str(s) => format!("expected a type; write it without quotes: `{}`", s.value()),
            _ => "expected a type".to_owned(),
        };
        return Err(syn::Error::new(lit.span(), message));
    }
    if at_entry_end(input) {
        return Err(input.error("expected a type"));
    }
    Type::parse(input)
}

/// True at the `,` between entries or at the end of the attribute.
fn at_entry_end(input: ParseStream) -> bool {
    input.is_empty() || input.peek(Token![,])
}

/// An error spanning the `= value` (or other tokens) after a key.
fn unexpected_value(input: ParseStream, message: &str) -> syn::Error {
    let fork = input.fork();
    let mut tokens = proc_macro2::TokenStream::new();
    while !at_entry_end(&fork) {
        match fork.parse::<proc_macro2::TokenTree>() {
            Ok(tt) => tokens.extend([tt]),
            Err(_) => break,
        }
    }
    syn::Error::new_spanned(tokens, message)
}

/// Skips whatever follows an unwanted or unknown key: `= value` or `(...)`.
fn skip_value(input: ParseStream) -> syn::Result<()> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        // A type or expression may contain commas (`Map<K, V>`), so try to
        // parse one whole before falling back to skipping single tokens.
        let as_type = input.fork();
        let as_expr = input.fork();
        if as_type.parse::<Type>().is_ok() && at_entry_end(&as_type) {
            input.advance_to(&as_type);
        } else if as_expr.parse::<Expr>().is_ok() && at_entry_end(&as_expr) {
            input.advance_to(&as_expr);
        }
    }
    skip_tokens(input)
}

/// Skips token trees up to the next `,` or the end of the attribute.
fn skip_tokens(input: ParseStream) -> syn::Result<()> {
    input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            if matches!(&tt, proc_macro2::TokenTree::Punct(p) if p.as_char() == ',') {
                break;
            }
            rest = next;
        }
        Ok(((), rest))
    })
}
