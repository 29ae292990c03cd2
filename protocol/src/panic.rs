//! Panics turned into text, the same way on both sides: a child reports a
//! handler's panic in its error frame, a parent reports a sink's in its
//! error.

use std::any::Any;

/// The message of a panic payload: the text given to `panic!`, or a
/// placeholder for a payload that is not text.
///
/// ```
/// let payload = std::panic::catch_unwind(|| panic!("no such key")).unwrap_err();
/// assert_eq!(bulkhead_protocol::panic::message(&*payload), "no such key");
/// ```
pub fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    }
}
