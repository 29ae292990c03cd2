//! Figures that read as words, for error messages, reports and tools:
//! durations ([`Span`]) and sizes ([`Bytes`]).

use std::fmt;
use std::time::Duration;

/// A duration for people: `250 ms`, `1.5 s`, `2 min 5 s`.
///
/// ```
/// use std::time::Duration;
/// use bulkhead::describe::Span;
///
/// assert_eq!(Span(Duration::from_millis(1_549)).to_string(), "1.5 s");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Span(pub Duration);

/// A size for people, in binary units: `512 B`, `1.5 KiB`, `130.2 MiB`.
///
/// ```
/// use bulkhead::describe::Bytes;
///
/// assert_eq!(Bytes(25_519_508).to_string(), "24.3 MiB");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
        if self.0 < 1024 {
            return write!(f, "{} B", self.0);
        }
        let mut value = self.0 as f64 / 1024.0;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        write!(f, "{value:.1} {}", UNITS[unit])
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        if millis < 1 && !self.0.is_zero() {
            write!(f, "{} µs", self.0.as_micros())
        } else if millis < 1_000 {
            write!(f, "{millis} ms")
        } else if millis < 60_000 {
            let tenths = (millis + 50) / 100;
            match tenths % 10 {
                0 => write!(f, "{} s", tenths / 10),
                rest => write!(f, "{}.{rest} s", tenths / 10),
            }
        } else {
            let seconds = (millis + 500) / 1_000;
            match seconds % 60 {
                0 => write!(f, "{} min", seconds / 60),
                rest => write!(f, "{} min {rest} s", seconds / 60),
            }
        }
    }
}

/// Serializes an optional duration as fractional milliseconds, or `null`.
pub(crate) fn millis<S: serde::Serializer>(
    value: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(duration) => serializer.serialize_some(&(duration.as_secs_f64() * 1_000.0)),
        None => serializer.serialize_none(),
    }
}

/// Where a failure happened: `during command "count"`, or `between
/// requests` when no command ran.
#[derive(Debug, Clone, Copy)]
pub(crate) struct During<'a>(pub(crate) Option<&'a str>);

impl fmt::Display for During<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(command) => write!(f, "during command \"{command}\""),
            None => f.write_str("between requests"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_words() {
        let shown = |bytes| Bytes(bytes).to_string();
        assert_eq!(shown(0), "0 B");
        assert_eq!(shown(1023), "1023 B");
        assert_eq!(shown(1024), "1.0 KiB");
        assert_eq!(shown(1536), "1.5 KiB");
        assert_eq!(shown(130 * 1024 * 1024 + 200 * 1024), "130.2 MiB");
        assert_eq!(shown(3 << 30), "3.0 GiB");
    }

    #[test]
    fn durations_read_as_words() {
        let shown = |millis| Span(Duration::from_millis(millis)).to_string();
        assert_eq!(shown(0), "0 ms");
        assert_eq!(shown(250), "250 ms");
        assert_eq!(shown(1_000), "1 s");
        assert_eq!(shown(1_549), "1.5 s");
        assert_eq!(shown(59_999), "60 s");
        assert_eq!(shown(60_000), "1 min");
        assert_eq!(shown(125_400), "2 min 5 s");
        assert_eq!(Span(Duration::from_micros(40)).to_string(), "40 µs");
    }

    #[test]
    fn commands_are_named_in_words() {
        assert_eq!(
            During(Some("count")).to_string(),
            "during command \"count\""
        );
        assert_eq!(During(None).to_string(), "between requests");
    }
}
