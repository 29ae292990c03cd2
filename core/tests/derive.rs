//! `#[derive(Command)]`: the impls it writes, checked at run time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::any::TypeId;
use std::collections::BTreeMap;
use std::marker::PhantomData;

use bulkhead::{Command, StreamCommand, UnaryCommand};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The `Output` type of a command, as a `TypeId`.
fn output_of<C: Command>() -> TypeId {
    TypeId::of::<C::Output>()
}

/// The `Row` type of a streaming command, as a `TypeId`.
fn row_of<C: StreamCommand>() -> TypeId {
    TypeId::of::<C::Row>()
}

/// Compiles only for unary commands.
fn unary<C: UnaryCommand>() -> &'static str {
    C::NAME
}

/// Compiles only for streaming commands.
fn streaming<C: StreamCommand>() -> &'static str {
    C::NAME
}

#[derive(Serialize, Deserialize, Command)]
struct Echo {
    text: String,
}

#[derive(Serialize, Deserialize, Command)]
#[command(response = u64)]
struct CountRows;

#[derive(Serialize, Deserialize, Command)]
struct HTTPGet {
    url: String,
}

#[test]
fn name_defaults_to_the_type_name_in_snake_case() {
    assert_eq!(Echo::NAME, "echo");
    assert_eq!(CountRows::NAME, "count_rows");
    assert_eq!(HTTPGet::NAME, "http_get");
}

#[derive(Serialize, Deserialize, Command)]
#[command(name = "math.add", response = u64)]
struct Add {
    a: u64,
    b: u64,
}

#[test]
fn name_key_overrides_the_wire_name() {
    assert_eq!(Add::NAME, "math.add");
}

#[test]
fn no_attribute_makes_a_unary_command_with_unit_output() {
    assert_eq!(unary::<Echo>(), "echo");
    assert_eq!(output_of::<Echo>(), TypeId::of::<()>());
}

#[derive(Serialize, Deserialize, Command)]
#[command(name = "ping")]
struct PingNoResponse;

#[test]
fn attribute_without_response_is_unary_with_unit_output() {
    assert_eq!(unary::<PingNoResponse>(), "ping");
    assert_eq!(output_of::<PingNoResponse>(), TypeId::of::<()>());
}

#[test]
fn response_key_sets_the_output_type() {
    assert_eq!(unary::<Add>(), "math.add");
    assert_eq!(output_of::<Add>(), TypeId::of::<u64>());
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Line {
    number: u64,
    text: String,
}

#[derive(Serialize, Deserialize)]
struct GrepSummary {
    matched: u64,
}

#[derive(Serialize, Deserialize, Command)]
#[command(row = Line, summary = GrepSummary)]
struct Grep {
    pattern: String,
}

#[derive(Serialize, Deserialize, Command)]
#[command(stream, row = Line)]
struct Cat;

#[test]
fn row_key_makes_a_streaming_command() {
    assert_eq!(streaming::<Grep>(), "grep");
    assert_eq!(row_of::<Grep>(), TypeId::of::<Line>());
    assert_eq!(output_of::<Grep>(), TypeId::of::<GrepSummary>());
}

#[test]
fn stream_flag_with_row_and_no_summary_has_unit_output() {
    assert_eq!(streaming::<Cat>(), "cat");
    assert_eq!(row_of::<Cat>(), TypeId::of::<Line>());
    assert_eq!(output_of::<Cat>(), TypeId::of::<()>());
}

#[derive(Serialize, Deserialize, Command)]
#[command(stream)]
#[command(row = BTreeMap<String, Vec<u8>>)]
#[command(summary = (u64, String), name = "split-up")]
struct SplitAttributes;

#[test]
fn keys_may_be_split_over_several_attributes() {
    assert_eq!(streaming::<SplitAttributes>(), "split-up");
    assert_eq!(
        row_of::<SplitAttributes>(),
        TypeId::of::<BTreeMap<String, Vec<u8>>>()
    );
    assert_eq!(
        output_of::<SplitAttributes>(),
        TypeId::of::<(u64, String)>()
    );
}

#[derive(Serialize, Deserialize, Command)]
#[command(response = Vec<T>)]
struct Repeat<T> {
    item: T,
    times: usize,
}

#[test]
fn generic_request_gets_impls_for_serde_parameters() {
    assert_eq!(unary::<Repeat<String>>(), "repeat");
    assert_eq!(output_of::<Repeat<u8>>(), TypeId::of::<Vec<u8>>());
}

#[derive(Serialize, Deserialize, Command)]
#[serde(bound = "")]
#[command(row = R, summary = u64)]
struct Scan<R>
where
    R: Serialize + DeserializeOwned + Send + 'static,
{
    table: String,
    #[serde(skip)]
    row: PhantomData<fn() -> R>,
}

#[test]
fn generic_streaming_command_keeps_the_where_clause() {
    assert_eq!(streaming::<Scan<Line>>(), "scan");
    assert_eq!(row_of::<Scan<Line>>(), TypeId::of::<Line>());
    assert_eq!(output_of::<Scan<Line>>(), TypeId::of::<u64>());
}

#[derive(Serialize, Deserialize, Command)]
#[command(name = "lookup_with_limit", response = Option<String>)]
struct Lookup<const N: usize> {
    key: String,
}

#[test]
fn const_generic_request_is_supported() {
    assert_eq!(unary::<Lookup<3>>(), "lookup_with_limit");
    assert_eq!(output_of::<Lookup<3>>(), TypeId::of::<Option<String>>());
}

#[derive(Serialize, Deserialize, Command, PartialEq, Debug)]
#[command(response = String)]
enum Shape {
    Circle { radius: u32 },
    Square(u32),
    Point,
}

#[test]
fn enum_can_be_a_request() {
    assert_eq!(unary::<Shape>(), "shape");
    assert_eq!(output_of::<Shape>(), TypeId::of::<String>());
    for shape in [Shape::Circle { radius: 3 }, Shape::Square(2), Shape::Point] {
        let json = serde_json::to_string(&shape).unwrap();
        assert_eq!(serde_json::from_str::<Shape>(&json).unwrap(), shape);
    }
}

mod nested {
    /// Generated paths are absolute, so the derive works without imports of
    /// the traits and with a local type shadowing a prelude name.
    #[derive(serde::Serialize, serde::Deserialize, bulkhead::Command)]
    #[command(response = Result)]
    pub(super) struct Check;

    #[derive(serde::Serialize, serde::Deserialize)]
    pub(super) struct Result {
        pub(super) ok: bool,
    }
}

#[test]
fn generated_paths_do_not_depend_on_the_callers_imports() {
    assert_eq!(unary::<nested::Check>(), "check");
    assert_eq!(output_of::<nested::Check>(), TypeId::of::<nested::Result>());
}

#[test]
fn a_type_with_raw_identifier_name_drops_the_prefix() {
    #[allow(non_camel_case_types)]
    #[derive(Serialize, Deserialize, Command)]
    struct r#match;
    assert_eq!(r#match::NAME, "match");
}
