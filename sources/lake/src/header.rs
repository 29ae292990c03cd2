//! A Lean module's header: `module`, `prelude` and the imports, before the
//! first command.

use crate::name::is_module_name;

/// What a module's header says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// The header opens with `module` (the module system).
    pub module: bool,
    /// The module is a `prelude` (it does not import `Init`).
    pub prelude: bool,
    /// The imports, in order.
    pub imports: Vec<Import>,
}

/// One `import` of a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The module imported.
    pub module: String,
    /// `public import`.
    pub public: bool,
    /// `meta import`.
    pub meta: bool,
    /// `import all`.
    pub all: bool,
}

/// Why a header could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// An `import` is not followed by a valid module name.
    BadImport(String),
    /// A block comment is not closed.
    OpenComment,
}

/// Reads the header of a Lean source: comments and doc comments are
/// skipped, and the header ends at the first word that cannot be part of
/// it.
///
/// ```
/// use bulkhead_lake::parse_header;
///
/// let header = parse_header("/-! docs -/\nmodule\npublic import A.B\nimport all C -- why\ndef x := 1\nimport D").unwrap();
/// assert!(header.module);
/// let imports: Vec<_> = header.imports.iter().map(|import| import.module.as_str()).collect();
/// assert_eq!(imports, ["A.B", "C"]);
/// ```
pub fn parse_header(source: &str) -> Result<Header, HeaderError> {
    let mut words = Words { rest: source };
    let mut header = Header::default();
    let mut next = words.next()?;
    if next == Some("module") {
        header.module = true;
        next = words.next()?;
    }
    if next == Some("prelude") {
        header.prelude = true;
        next = words.next()?;
    }
    loop {
        let (mut public, mut meta) = (false, false);
        if next == Some("public") {
            public = true;
            next = words.next()?;
        }
        if next == Some("meta") {
            meta = true;
            next = words.next()?;
        }
        if next != Some("import") {
            // `public` or `meta` not before an import starts the body.
            return Ok(header);
        }
        let mut name = words.next()?;
        let all = name == Some("all");
        if all {
            name = words.next()?;
        }
        match name {
            Some(name) if is_module_name(name) => header.imports.push(Import {
                module: name.to_owned(),
                public,
                meta,
                all,
            }),
            other => return Err(HeaderError::BadImport(other.unwrap_or_default().to_owned())),
        }
        next = words.next()?;
    }
}

/// The words of a source, comments skipped. A word is a run of anything
/// but whitespace, with `«…»` kept whole.
struct Words<'s> {
    rest: &'s str,
}

impl<'s> Words<'s> {
    fn next(&mut self) -> Result<Option<&'s str>, HeaderError> {
        loop {
            self.rest = self.rest.trim_start();
            if let Some(after) = self.rest.strip_prefix("--") {
                self.rest = after.split_once('\n').map_or("", |(_, rest)| rest);
            } else if self.rest.starts_with("/-") {
                self.rest = skip_block_comment(self.rest)?;
            } else {
                break;
            }
        }
        if self.rest.is_empty() {
            return Ok(None);
        }
        let mut end = 0;
        let mut escaped = false;
        for (at, c) in self.rest.char_indices() {
            match c {
                '«' => escaped = true,
                '»' => escaped = false,
                c if c.is_whitespace() && !escaped => break,
                // A comment right after a word ends it.
                '-' if !escaped && self.rest[at..].starts_with("--") => break,
                _ => {}
            }
            end = at + c.len_utf8();
        }
        let (word, rest) = self.rest.split_at(end);
        self.rest = rest;
        Ok(Some(word))
    }
}

/// The text after the (nested) block comment that `text` starts with.
fn skip_block_comment(text: &str) -> Result<&str, HeaderError> {
    let mut depth = 0usize;
    let mut at = 0;
    let bytes = text.as_bytes();
    while at + 1 < bytes.len() {
        match (bytes[at], bytes[at + 1]) {
            (b'/', b'-') => {
                depth += 1;
                at += 2;
            }
            (b'-', b'/') => {
                depth -= 1;
                at += 2;
                if depth == 0 {
                    return Ok(&text[at..]);
                }
            }
            _ => at += 1,
        }
    }
    Err(HeaderError::OpenComment)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imports(source: &str) -> Vec<String> {
        parse_header(source)
            .unwrap()
            .imports
            .into_iter()
            .map(|import| import.module)
            .collect()
    }

    #[test]
    fn every_import_form_is_read() {
        let header = parse_header(
            "module\n\nprelude\nimport A\npublic import B\nmeta import C\npublic meta import D\nimport all E\n",
        )
        .unwrap();
        assert!(header.module && header.prelude);
        let forms: Vec<_> = header
            .imports
            .iter()
            .map(|import| {
                (
                    import.module.as_str(),
                    import.public,
                    import.meta,
                    import.all,
                )
            })
            .collect();
        assert_eq!(
            forms,
            [
                ("A", false, false, false),
                ("B", true, false, false),
                ("C", false, true, false),
                ("D", true, true, false),
                ("E", false, false, true),
            ]
        );
    }

    #[test]
    fn comments_and_doc_comments_before_and_between_imports_are_skipped() {
        let source = "/- a /- nested -/ comment -/\n/-- doc -/\n/-! module doc\nimport Fake -/\n-- line import Fake\nimport A--trailing\nimport «B c».D\n/- between -/ import E\n";
        assert_eq!(imports(source), ["A", "«B c».D", "E"]);
    }

    #[test]
    fn the_header_ends_at_the_first_command() {
        assert_eq!(imports("import A\nnamespace X\nimport B\n"), ["A"]);
        assert_eq!(imports("def x := 1\nimport A"), Vec::<String>::new());
        assert_eq!(imports("import A\npublic section\n"), ["A"]);
        assert_eq!(imports(""), Vec::<String>::new());
    }

    #[test]
    fn a_broken_header_is_an_error() {
        assert_eq!(
            parse_header("import 1A"),
            Err(HeaderError::BadImport("1A".into()))
        );
        assert_eq!(
            parse_header("import"),
            Err(HeaderError::BadImport(String::new()))
        );
        assert_eq!(parse_header("/- open"), Err(HeaderError::OpenComment));
    }
}
