//! Splitting one source into statements with pg_query, and placing a syntax error at its
//! `line:column`. pg_query's safe API does not expose the parser's cursor position, so the
//! error token is found the way the parser finds it: the shortest token prefix of the failing
//! statement that is no longer a valid beginning of a statement.

use pg_query::NodeEnum;
use pg_query::protobuf::ScanToken;
use sha2::{Digest as _, Sha256};

use super::objects;
use super::{ModelError, Source, Statement};

/// A statement with its parse tree, before ordering.
#[derive(Debug, Clone)]
pub(super) struct Parsed {
    pub statement: Statement,
    pub node: NodeEnum,
    /// Byte offset of the statement in its source (for hints).
    pub offset: usize,
    /// The parser version, needed to deparse a rewritten tree.
    pub version: i32,
}

/// Byte offset -> 1-based line and column (in characters).
pub(super) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { text, starts }
    }

    pub(super) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        (line, column)
    }
}

/// Sources larger than this are parsed in two halves on two threads, split at a statement
/// boundary: parsing (pg_query's protobuf round trip) is most of the cost of loading a
/// thousand-table model.
const PARALLEL_BYTES: usize = 64 * 1024;

/// Splits a source into parsed statements, or the first syntax error.
pub(super) fn split(source: &Source) -> Result<Vec<Parsed>, ModelError> {
    let text = source.text.as_str();
    let index = LineIndex::new(text);
    if text.len() > PARALLEL_BYTES
        && let Some(middle) = middle_boundary(text)
    {
        let (first, second) = std::thread::scope(|scope| {
            let first = scope.spawn(|| parse_range(source, &index, 0, middle));
            let second = parse_range(source, &index, middle, text.len());
            (first.join(), second)
        });
        // A syntax error in either half is reported by the whole parse below.
        if let (Ok(Ok(mut first)), Ok(second)) = (first, second) {
            first.extend(second);
            return Ok(first);
        }
    }
    let err = match parse_range(source, &index, 0, text.len()) {
        Ok(parsed) => return Ok(parsed),
        Err(err) => err,
    };
    let message = message_of(&err);
    let offset = locate_error(text, &message);
    let (line, column) = index.position(offset);
    Err(ModelError::Syntax {
        file: source.name.clone(),
        line,
        column,
        message,
    })
}

/// A byte offset in the middle of `text` just after a statement's `;` (where the parser's
/// next statement starts), found with pg_query's scanner. A `;` in a comment before the
/// statement makes the halves fail to parse, and the whole is parsed instead.
fn middle_boundary(text: &str) -> Option<usize> {
    let statements = pg_query::split_with_scanner(text).ok()?;
    let middle = statements.get(statements.len() / 2)?;
    let start = (middle.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    let cut = text.get(..start)?.rfind(';')? + 1;
    (cut < text.len()).then_some(cut)
}

/// The statements of `source.text[start..end]`.
fn parse_range(
    source: &Source,
    index: &LineIndex<'_>,
    start: usize,
    end: usize,
) -> Result<Vec<Parsed>, pg_query::Error> {
    let text = source.text.as_str();
    let result = pg_query::parse(&text[start..end], pg_query::ParserOptions::DEFAULT)?;
    let version = result.protobuf.version;
    let mut out = Vec::new();
    for raw in result.protobuf.stmts {
        let Some(node) = raw.stmt.and_then(|n| n.node) else {
            continue;
        };
        let offset = start + usize::try_from(raw.stmt_location).unwrap_or(0);
        let stop = match usize::try_from(raw.stmt_len) {
            Ok(0) | Err(_) => end,
            Ok(len) => offset + len,
        };
        let sql = text.get(offset..stop).unwrap_or_default().trim_end();
        let sql = sql.strip_suffix(';').unwrap_or(sql).trim_end();
        let (line, column) = index.position(offset);
        out.push(parsed(source, sql, node, (offset, line, column), version));
    }
    Ok(out)
}

fn parsed(
    source: &Source,
    sql: &str,
    node: NodeEnum,
    (offset, line, column): (usize, usize, usize),
    version: i32,
) -> Parsed {
    let analysis = objects::analyze(&node);
    Parsed {
        statement: Statement {
            file: source.name.clone(),
            line,
            column,
            sql: sql.to_owned(),
            fingerprint: fingerprint(sql),
            creates: analysis.creates,
            alters: analysis.alters,
            references: analysis.references,
            foreign_keys: analysis.foreign_keys,
        },
        node,
        offset,
        version,
    }
}

/// SHA-256 of the statement text with comments removed and whitespace collapsed (outside
/// quotes): equal for reformatting, different for any change of a name, type or constant.
/// Computed from the text, not the tree: deparsing every statement cost more than the rest of
/// the load.
pub(super) fn fingerprint(sql: &str) -> String {
    hex::encode(&Sha256::digest(normalize(sql).as_bytes())[..16])
}

/// The text without comments; whitespace runs become one space between two words and vanish
/// next to punctuation; quoted text is kept as written.
fn normalize(sql: &str) -> String {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    let mut space = false;
    let wordish = |c: char| c.is_alphanumeric() || matches!(c, '_' | '$' | '\'' | '"');
    let push_space = |out: &mut String, space: &mut bool, next: char| {
        if *space && out.chars().next_back().is_some_and(wordish) && wordish(next) {
            out.push(' ');
        }
        *space = false;
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '-' && next == Some('-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            space = true;
        } else if c == '/' && next == Some('*') {
            i = skip_block_comment(&chars, i);
            space = true;
        } else if c.is_whitespace() {
            space = true;
            i += 1;
        } else if c == '\'' || c == '"' {
            push_space(&mut out, &mut space, c);
            let end = quoted_end(&chars, i, c);
            out.extend(&chars[i..end]);
            i = end;
        } else if c == '$'
            && let Some(end) = dollar_end(&chars, i)
        {
            push_space(&mut out, &mut space, c);
            out.extend(&chars[i..end]);
            i = end;
        } else {
            push_space(&mut out, &mut space, c);
            out.push(c);
            i += 1;
        }
    }
    out
}

fn skip_block_comment(chars: &[char], start: usize) -> usize {
    let mut depth = 0;
    let mut i = start;
    while i < chars.len() {
        if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
            depth += 1;
            i += 2;
        } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    chars.len()
}

/// The end (exclusive) of a quoted string or identifier starting at `start` (doubled quotes
/// stay inside).
fn quoted_end(chars: &[char], start: usize, quote: char) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == quote {
            if chars.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    chars.len()
}

/// The end (exclusive) of a dollar-quoted string starting at `start`, if one starts there.
fn dollar_end(chars: &[char], start: usize) -> Option<usize> {
    let tag_end = (start + 1..chars.len()).find(|&j| chars[j] == '$')?;
    let tag = &chars[start..=tag_end];
    if !tag[1..tag.len() - 1]
        .iter()
        .all(|c| c.is_alphanumeric() || *c == '_')
    {
        return None;
    }
    let mut i = tag_end + 1;
    while i + tag.len() <= chars.len() {
        if &chars[i..i + tag.len()] == tag {
            return Some(i + tag.len());
        }
        i += 1;
    }
    Some(chars.len())
}

/// One statement's tree back to SQL text.
pub(super) fn deparse(node: &NodeEnum, version: i32) -> Option<String> {
    let tree = pg_query::protobuf::ParseResult {
        version,
        stmts: vec![pg_query::protobuf::RawStmt {
            stmt: Some(Box::new(pg_query::protobuf::Node {
                node: Some(node.clone()),
            })),
            stmt_location: 0,
            stmt_len: 0,
        }],
    };
    pg_query::deparse(&tree, pg_query::DeparseOptions::default()).ok()
}

fn message_of(err: &pg_query::Error) -> String {
    match err {
        pg_query::Error::Parse(m) | pg_query::Error::Split(m) | pg_query::Error::Scan(m) => {
            m.clone()
        }
        pg_query::Error::Conversion(_) => "the file contains a NUL byte".to_owned(),
        other => other.to_string(),
    }
}

/// The byte offset of the error in `text`: the start of the first token at which the
/// token prefix stops being a valid beginning of a script (or the end of the last token when
/// the script merely ends too early).
fn locate_error(text: &str, message: &str) -> usize {
    if let Some(nul) = text.find('\0') {
        return nul;
    }
    let Ok(scan) = pg_query::scan(text) else {
        return near_text(text, message).unwrap_or(0);
    };
    let tokens: Vec<&ScanToken> = scan.tokens.iter().collect();
    let end = |t: &ScanToken| usize::try_from(t.end).unwrap_or(0);
    let start = |t: &ScanToken| usize::try_from(t.start).unwrap_or(0);
    let Some(last) = tokens.last() else {
        return 0;
    };
    if viable(&text[..end(last)]) {
        return end(last);
    }
    // The smallest k such that tokens[..k] is not viable: viability is monotone.
    let (mut lo, mut hi) = (1, tokens.len());
    while lo < hi {
        let mid = usize::midpoint(lo, hi);
        if viable(&text[..end(tokens[mid - 1])]) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    start(tokens[lo - 1])
}

/// Whether a prefix parses or fails only for want of more input.
fn viable(prefix: &str) -> bool {
    match pg_query::parse(prefix, 0) {
        Ok(_) => true,
        Err(err) => message_of(&err).contains("at end of input"),
    }
}

/// The offset of the `at or near "X"` text of a message.
fn near_text(text: &str, message: &str) -> Option<usize> {
    let near = message.split("at or near \"").nth(1)?;
    let near = near.strip_suffix('"').unwrap_or(near);
    text.find(near)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_counts_characters() {
        let index = LineIndex::new("ab\nçd\nx");
        assert_eq!(index.position(0), (1, 1));
        assert_eq!(index.position(3), (2, 1));
        assert_eq!(index.position(5), (2, 2));
        assert_eq!(index.position(7), (3, 1));
    }

    #[test]
    fn split_large_source_in_halves_same_as_whole() {
        use std::fmt::Write as _;
        let mut text = String::new();
        for i in 0..1500 {
            let _ = write!(
                text,
                "-- table {i}\nCREATE TABLE t_{i} (id bigint PRIMARY KEY, note text DEFAULT 'a;b');\n\
                 CREATE FUNCTION f_{i}() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;\n"
            );
        }
        assert!(text.len() > PARALLEL_BYTES);
        assert!(middle_boundary(&text).is_some(), "the halves path is taken");
        let source = Source {
            name: "big.sql".to_owned(),
            text,
        };
        let halves = split(&source).unwrap();
        let index = LineIndex::new(&source.text);
        let whole = parse_range(&source, &index, 0, source.text.len()).unwrap();
        assert_eq!(halves.len(), 3000);
        let key = |p: &Parsed| (p.statement.clone(), p.offset);
        assert_eq!(
            halves.iter().map(key).collect::<Vec<_>>(),
            whole.iter().map(key).collect::<Vec<_>>()
        );
    }

    #[test]
    fn split_large_source_error_in_second_half_names_its_line() {
        let mut text = "CREATE TABLE ok (id int);\n".repeat(4000);
        text.push_str("CREATE TABLE broken (id int,);\n");
        let source = Source {
            name: "big.sql".to_owned(),
            text,
        };
        let Err(ModelError::Syntax { line, .. }) = split(&source) else {
            panic!("expected a syntax error");
        };
        assert_eq!(line, 4001);
    }

    #[test]
    fn split_keeps_dollar_bodies_and_positions() {
        let source = Source {
            name: "f.sql".into(),
            text: "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;\n  CREATE TABLE t (id int);"
                .into(),
        };
        let parsed = split(&source).unwrap();
        assert_eq!(parsed.len(), 2);
        assert!(parsed[0].statement.sql.ends_with("$$"));
        assert_eq!(
            (parsed[1].statement.line, parsed[1].statement.column),
            (2, 3)
        );
        assert_eq!(parsed[1].statement.sql, "CREATE TABLE t (id int)");
    }

    #[test]
    fn normalize_drops_comments_and_spacing_not_quoted_text() {
        assert_eq!(
            normalize("CREATE  TABLE t ( -- note\n  a text DEFAULT 'x  -- y' /* c */ )"),
            "CREATE TABLE t(a text DEFAULT 'x  -- y')"
        );
        assert_eq!(
            normalize("SELECT $$ a  b $$,\n\"A  B\""),
            "SELECT $$ a  b $$,\"A  B\""
        );
    }

    #[test]
    fn split_unterminated_string_points_at_it() {
        let source = Source {
            name: "s.sql".into(),
            text: "CREATE TABLE t (id int);\nCOMMENT ON TABLE t IS 'oops;\n".into(),
        };
        let err = split(&source).unwrap_err();
        let ModelError::Syntax { line, .. } = err else {
            panic!("{err}")
        };
        assert_eq!(line, 2);
    }
}
