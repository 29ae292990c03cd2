//! The default wire name: a type name in snake case.

/// Converts a Rust type name to snake case: `CountRows` → `count_rows`.
///
/// A word starts at an upper-case letter that follows a lower-case letter or
/// a digit, and at the last capital of an acronym that is followed by a
/// lower-case letter, so `HTTPGet` → `http_get` and `Sha256Sum` →
/// `sha256_sum`. Existing underscores are kept but never doubled, and a raw
/// identifier's `r#` prefix is dropped.
pub(crate) fn snake_case(name: &str) -> String {
    let name = name.strip_prefix("r#").unwrap_or(name);
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let boundary = prev.is_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_uppercase() && next_is_lower);
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn single_word_is_lowercased() {
        assert_eq!(snake_case("Echo"), "echo");
    }

    #[test]
    fn camel_case_words_are_joined_with_underscores() {
        assert_eq!(snake_case("CountRows"), "count_rows");
        assert_eq!(snake_case("OpenSessionNow"), "open_session_now");
    }

    #[test]
    fn leading_acronym_is_one_word() {
        assert_eq!(snake_case("HTTPGet"), "http_get");
        assert_eq!(snake_case("IOError"), "io_error");
    }

    #[test]
    fn trailing_and_inner_acronyms_are_one_word() {
        assert_eq!(snake_case("GetHTTP"), "get_http");
        assert_eq!(snake_case("ParseJSONRows"), "parse_json_rows");
    }

    #[test]
    fn all_caps_is_one_word() {
        assert_eq!(snake_case("URL"), "url");
    }

    #[test]
    fn digits_stay_with_the_word_before_them() {
        assert_eq!(snake_case("Sha256Sum"), "sha256_sum");
        assert_eq!(snake_case("V2"), "v2");
        assert_eq!(snake_case("Base64"), "base64");
    }

    #[test]
    fn existing_underscores_are_not_doubled() {
        assert_eq!(snake_case("Count_Rows"), "count_rows");
        assert_eq!(snake_case("already_snake"), "already_snake");
    }

    #[test]
    fn raw_identifier_prefix_is_dropped() {
        assert_eq!(snake_case("r#Match"), "match");
    }

    #[test]
    fn non_ascii_letters_are_lowercased() {
        assert_eq!(snake_case("ÜberZähler"), "über_zähler");
    }
}
