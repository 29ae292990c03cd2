//! The request loop against a scripted child on an in-memory duplex: every
//! frame sequence of `docs/protocol.md`, every way a channel breaks, the
//! timers, and a property test that any sequence of frames, bytes and a
//! close ends in exactly one outcome without a panic.

use std::time::Duration;

use proptest::prelude::*;
use serde_json::json;

use super::script::{REQUEST, Seen, Step, play};
use super::*;
use crate::row::Row;
use crate::wire::{FrameEncoder, FrameReader, RemoteErrorKind};

/// An RSS sampler that always reads `0`, or the figure given.
struct FixedRss(Rss);

impl SampleRss for FixedRss {
    fn sample(&mut self) -> Rss {
        self.0
    }
}

fn limits() -> Limits {
    Limits {
        timeout: Duration::from_secs(30),
        cancel: None,
        cancel_grace: Duration::from_secs(1),
        rss_hard_limit: None,
        rss_sample_interval: Duration::from_millis(250),
    }
}

/// What one exchange came to.
struct Run {
    result: Result<Finished, Broken>,
    rows: Vec<Row<u64>>,
    tally: Tally,
    seen: Seen,
}

/// Runs request [`REQUEST`] against a child playing `steps`, with `limits`,
/// a maximum frame of `max`, `capacity` bytes of duplex buffer, rows of
/// type `u64` into a `Vec` and diagnostics and progress into theirs.
async fn exchange_with(
    steps: Vec<Step>,
    limits: Limits,
    rss: Rss,
    max: u32,
    capacity: usize,
) -> (Run, Vec<Diagnostic>, Vec<Progress>) {
    let (parent, child) = tokio::io::duplex(capacity);
    let child = tokio::spawn(play(child, steps));
    let (reader, writer) = tokio::io::split(parent);
    let mut channel = Channel::new(
        FrameReader::new(Box::pin(reader), max),
        Box::pin(writer),
        FrameEncoder::new(u32::MAX),
    );
    channel
        .encoder
        .request(&mut channel.out, REQUEST, "count", &json!({"n": 3}))
        .unwrap();
    let mut rows = super::super::rows::TypedRows::<u64, Vec<Row<u64>>>::new(Vec::new());
    let (mut diagnostics, mut progress) = (Vec::new(), Vec::new());
    let mut sinks = Sinks {
        diagnostics: Some(&mut diagnostics),
        progress: Some(&mut progress),
    };
    let mut tally = Tally::default();
    let result = exchange(
        &mut channel,
        &mut FixedRss(rss),
        REQUEST,
        &mut rows,
        &mut sinks,
        &limits,
        &mut tally,
    )
    .await;
    drop(channel);
    let seen = child.await.unwrap();
    let run = Run {
        result,
        rows: rows.into_sink(),
        tally,
        seen,
    };
    (run, diagnostics, progress)
}

async fn run(steps: Vec<Step>) -> Run {
    exchange_with(steps, limits(), Rss::Unavailable, 1 << 20, 64 * 1024)
        .await
        .0
}

fn success(result: &Result<Finished, Broken>) -> Option<serde_json::Value> {
    match result {
        Ok(Finished {
            outcome: Outcome::Success(payload),
            spoiled: None,
            cancelled: false,
            ..
        }) => serde_json::from_slice(payload).ok(),
        _ => None,
    }
}

#[tokio::test]
async fn a_success_frame_ends_the_request_with_its_payload() {
    let run = run(vec![Step::Await, Step::Success(vec![], json!("done"))]).await;
    assert_eq!(
        success(&run.result),
        // A success without rows leaves the counts out.
        Some(json!({"value": "done"}))
    );
    assert_eq!(run.seen.kinds, [FrameKind::Request]);
    assert!(run.tally.bytes > 0);
}

#[tokio::test]
async fn rows_arrive_in_order_and_are_counted_per_stream() {
    let run = run(vec![
        Step::Await,
        Step::Row("rows", 0, json!(10)),
        Step::Row("other", 0, json!(20)),
        Step::Row("rows", 1, json!(11)),
        Step::Success(vec![("rows", 2), ("other", 1)], json!(null)),
    ])
    .await;
    let Ok(finished) = &run.result else {
        panic!("{:?}", run.result.err());
    };
    let values: Vec<(String, u64, u64)> = run
        .rows
        .iter()
        .map(|row| (row.stream.to_string(), row.seq, row.value))
        .collect();
    assert_eq!(
        values,
        [
            ("rows".into(), 0, 10),
            ("other".into(), 0, 20),
            ("rows".into(), 1, 11)
        ]
    );
    assert_eq!(
        (
            finished.streams.count("rows"),
            finished.streams.count("other")
        ),
        (2, 1)
    );
}

#[tokio::test]
async fn diagnostics_and_progress_go_to_their_sinks() {
    let steps = vec![
        Step::Await,
        Step::Diagnostic("halfway"),
        Step::Progress(5),
        Step::Success(vec![], json!(null)),
    ];
    let (run, diagnostics, progress) =
        exchange_with(steps, limits(), Rss::Unavailable, 1 << 20, 64 * 1024).await;
    assert!(success(&run.result).is_some());
    assert_eq!(diagnostics, [Diagnostic::new(Level::Info, "halfway")]);
    assert_eq!(progress, [Progress::new(5, None)]);
}

#[tokio::test]
async fn an_error_frame_ends_the_request_with_the_typed_error() {
    let run = run(vec![Step::Await, Step::Error(RemoteErrorKind::Handler)]).await;
    let Ok(Finished {
        outcome: Outcome::Remote(error),
        ..
    }) = &run.result
    else {
        panic!("expected a remote error");
    };
    assert_eq!(
        (error.kind, error.message.as_str()),
        (RemoteErrorKind::Handler, "scripted")
    );
}

/// Runs `steps` and returns how the channel broke.
async fn broken(steps: Vec<Step>) -> Broken {
    match run(steps).await.result {
        Err(broken) => broken,
        Ok(_) => panic!("the channel did not break"),
    }
}

#[tokio::test]
async fn a_frame_for_another_request_breaks_the_channel() {
    let broken = broken(vec![
        Step::Await,
        Step::Frame(FrameKind::Success, REQUEST + 1, json!({"value": 1})),
    ])
    .await;
    assert!(
        matches!(
            broken,
            Broken::Protocol {
                kind: FrameKind::Success,
                ..
            }
        ),
        "{broken:?}"
    );
}

#[tokio::test]
async fn a_row_out_of_sequence_breaks_the_channel() {
    let broken = broken(vec![Step::Await, Step::Row("rows", 1, json!(1))]).await;
    let Broken::Protocol {
        kind: FrameKind::Row,
        detail,
    } = &broken
    else {
        panic!("{broken:?}");
    };
    assert!(detail.contains("where 0 was due"), "{detail}");
}

#[tokio::test]
async fn bytes_that_are_not_a_frame_break_the_channel() {
    let broken = broken(vec![Step::Await, Step::Bytes(vec![0, 0, 0, 3, 0xee, 1, 2])]).await;
    assert!(
        matches!(broken, Broken::Frame(FrameError::UnknownKind(0xee))),
        "{broken:?}"
    );
}

#[tokio::test]
async fn an_oversized_frame_is_refused_from_its_prefix() {
    let steps = vec![
        Step::Await,
        Step::Bytes(0x00ff_ffffu32.to_be_bytes().to_vec()),
    ];
    let (run, ..) = exchange_with(steps, limits(), Rss::Unavailable, 4096, 64 * 1024).await;
    assert!(
        matches!(
            run.result,
            Err(Broken::Frame(FrameError::TooLarge {
                len: 0x00ff_ffff,
                max: 4096
            }))
        ),
        "{:?}",
        run.result.err()
    );
}

#[tokio::test]
async fn a_frame_only_the_parent_sends_breaks_the_channel() {
    for kind in [FrameKind::Request, FrameKind::Hello, FrameKind::Cancel] {
        let broken = broken(vec![Step::Await, Step::Frame(kind, REQUEST, json!(null))]).await;
        assert!(
            matches!(broken, Broken::Protocol { .. } | Broken::Frame(_)),
            "{kind}: {broken:?}"
        );
    }
}

#[tokio::test]
async fn the_end_of_the_channel_mid_request_is_eof() {
    let broken = broken(vec![
        Step::Await,
        Step::Row("rows", 0, json!(1)),
        Step::Close,
    ])
    .await;
    assert!(matches!(broken, Broken::Eof), "{broken:?}");
}

#[tokio::test]
async fn a_cut_frame_is_truncation() {
    let broken = broken(vec![
        Step::Await,
        Step::Bytes(vec![0, 0, 0, 9, 0x20]),
        Step::Close,
    ])
    .await;
    assert!(
        matches!(broken, Broken::Frame(FrameError::Truncated { buffered: 5 })),
        "{broken:?}"
    );
}

#[tokio::test]
async fn an_undecodable_diagnostic_breaks_the_channel() {
    let broken = broken(vec![
        Step::Await,
        Step::Frame(FrameKind::Diagnostic, REQUEST, json!(42)),
    ])
    .await;
    assert!(
        matches!(
            broken,
            Broken::Protocol {
                kind: FrameKind::Diagnostic,
                ..
            }
        ),
        "{broken:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_deadline_ends_a_silent_child() {
    let run = run(vec![Step::Await]).await;
    assert!(
        matches!(run.result, Err(Broken::Timeout)),
        "{:?}",
        run.result.err()
    );
}

#[tokio::test(start_paused = true)]
async fn a_child_that_stops_reading_cannot_hold_the_request_past_its_deadline() {
    // A request larger than the duplex buffer, to a child that never reads.
    let (parent, _child) = tokio::io::duplex(64);
    let (reader, writer) = tokio::io::split(parent);
    let mut channel = Channel::new(
        FrameReader::new(Box::pin(reader), 1 << 20),
        Box::pin(writer),
        FrameEncoder::new(u32::MAX),
    );
    channel
        .encoder
        .request(&mut channel.out, REQUEST, "count", &"x".repeat(4096))
        .unwrap();
    let mut rows = super::super::rows::NoRows;
    let result = exchange(
        &mut channel,
        &mut FixedRss(Rss::Unavailable),
        REQUEST,
        &mut rows,
        &mut Sinks::default(),
        &limits(),
        &mut Tally::default(),
    )
    .await;
    assert!(matches!(result, Err(Broken::Timeout)), "{:?}", result.err());
}

#[tokio::test(start_paused = true)]
async fn cancellation_sends_one_cancel_frame_and_waits_for_the_end() {
    let token = CancellationToken::new();
    token.cancel();
    let limits = Limits {
        cancel: Some(token),
        ..limits()
    };
    let steps = vec![
        Step::Await,
        Step::Await,
        Step::Error(RemoteErrorKind::Cancelled),
    ];
    let (run, ..) = exchange_with(steps, limits, Rss::Unavailable, 1 << 20, 64 * 1024).await;
    assert!(
        matches!(
            run.result,
            Ok(Finished {
                cancelled: true,
                ..
            })
        ),
        "{:?}",
        run.result.err()
    );
    assert_eq!(run.seen.kinds, [FrameKind::Request, FrameKind::Cancel]);
}

#[tokio::test(start_paused = true)]
async fn a_child_that_ignores_cancellation_runs_out_of_grace() {
    let token = CancellationToken::new();
    token.cancel();
    let limits = Limits {
        cancel: Some(token),
        ..limits()
    };
    let (run, ..) = exchange_with(
        vec![Step::Await],
        limits,
        Rss::Unavailable,
        1 << 20,
        64 * 1024,
    )
    .await;
    assert!(
        matches!(run.result, Err(Broken::GraceExpired)),
        "{:?}",
        run.result.err()
    );
    assert_eq!(run.seen.kinds, [FrameKind::Request, FrameKind::Cancel]);
}

#[tokio::test(start_paused = true)]
async fn a_row_that_does_not_decode_spoils_the_request_and_drains_it() {
    let run = run(vec![
        Step::Await,
        Step::Row("rows", 0, json!("not a number")),
        Step::Row("rows", 1, json!(2)),
        Step::Await,
        Step::Success(vec![("rows", 2)], json!(null)),
    ])
    .await;
    let Ok(Finished {
        spoiled: Some(Spoiled::Decode { seq: 0, .. }),
        streams,
        ..
    }) = &run.result
    else {
        panic!("expected a spoiled request");
    };
    // The rows after the spoiled one are checked but not delivered.
    assert_eq!(streams.count("rows"), 2);
    assert!(run.rows.is_empty());
    assert_eq!(run.seen.kinds, [FrameKind::Request, FrameKind::Cancel]);
}

#[tokio::test(start_paused = true)]
async fn the_hard_limit_ends_a_request_whose_sample_passes_it() {
    let limits = Limits {
        rss_hard_limit: Some(100),
        ..limits()
    };
    let (run, ..) = exchange_with(
        vec![Step::Await],
        limits,
        Rss::Bytes(101),
        1 << 20,
        64 * 1024,
    )
    .await;
    assert!(
        matches!(
            run.result,
            Err(Broken::MemoryLimit {
                rss: 101,
                limit: 100
            })
        ),
        "{:?}",
        run.result.err()
    );
    assert_eq!(run.tally.last_rss, Some(Rss::Bytes(101)));
}

/// A step for the property test: a frame of any kind for this request or
/// another, some bytes, or the end.
fn any_step() -> impl Strategy<Value = Step> {
    let kinds = [
        FrameKind::Row,
        FrameKind::Diagnostic,
        FrameKind::Progress,
        FrameKind::Success,
        FrameKind::Error,
        FrameKind::Hello,
        FrameKind::Request,
        FrameKind::Cancel,
        FrameKind::Shutdown,
        FrameKind::Handshake,
    ];
    prop_oneof![
        (0u64..3).prop_map(|seq| Step::Row("rows", seq, json!(seq))),
        Just(Step::Diagnostic("note")),
        Just(Step::Progress(1)),
        Just(Step::Success(vec![("rows", 1)], json!(null))),
        Just(Step::Error(RemoteErrorKind::Handler)),
        (
            proptest::sample::select(kinds.to_vec()),
            prop_oneof![Just(REQUEST), any::<u64>()]
        )
            .prop_map(|(kind, request)| Step::Frame(kind, request, json!({"value": 1}))),
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(Step::Bytes),
        Just(Step::Close),
        Just(Step::Await),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_script_ends_in_exactly_one_outcome(
        steps in proptest::collection::vec(any_step(), 0..12),
        cancel in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let token = CancellationToken::new();
        if cancel {
            token.cancel();
        }
        let limits = Limits { cancel: Some(token), ..limits() };
        let mut script = vec![Step::Await];
        script.extend(steps);
        let (run, ..) = runtime.block_on(exchange_with(script, limits, Rss::Unavailable, 1 << 20, 64 * 1024));
        // One result, and a consistent one: a success never claims rows the
        // parent did not deliver, and an unspoiled, uncancelled success
        // delivered every row it saw.
        if let Ok(finished) = &run.result {
            let counted: u64 = finished.streams.iter().map(|(_, count)| count).sum();
            if finished.spoiled.is_none() {
                prop_assert_eq!(counted, run.rows.len() as u64);
            }
        }
    }
}
