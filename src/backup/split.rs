//! Splits a plain SQL script, line by line as it streams in, into statements (with the line
//! each starts on) and `COPY ... FROM stdin` data blocks ending in `\.`, the way psql reads
//! it: quotes, `E''` escapes, quoted identifiers, dollar quotes and both comment styles are
//! respected, so a `;` inside any of them never ends a statement.
//!
//! Pure: it sees text lines, never a file or a connection. psql meta-commands that only guard
//! a restore (`\restrict`, `\unrestrict`, written by recent pg_dump) are skipped; any other
//! meta-command is an error, since only psql could run it.

use thiserror::Error;

/// What a script line contributes.
#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    /// A complete SQL statement (without its `;`) and the line it starts on (1-based).
    Statement { sql: String, line: usize },
    /// A `COPY ... FROM stdin` statement: data lines follow until `\.`.
    CopyStart { sql: String, line: usize },
    /// One data line of the current COPY, with its newline.
    CopyData,
    /// The `\.` line that ends the current COPY.
    CopyEnd,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SplitError {
    #[error("line {line}: psql meta-command `{command}` is not supported outside psql")]
    MetaCommand { line: usize, command: String },
    #[error("line {line}: the script ends inside a statement that starts here")]
    Unterminated { line: usize },
    #[error("line {line}: the script ends inside the COPY data that starts here")]
    UnterminatedCopy { line: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Lex {
    Normal,
    Quote { backslash: bool },
    Ident,
    Dollar(String),
    Block(u32),
}

/// The splitter's state between lines.
#[derive(Debug)]
pub struct Splitter {
    line: usize,
    lex: Lex,
    sql: String,
    /// Whether `sql` holds anything but whitespace and comments.
    code: bool,
    start: usize,
    copy_from: Option<usize>,
}

impl Default for Splitter {
    fn default() -> Self {
        Self::new()
    }
}

impl Splitter {
    pub fn new() -> Self {
        Self {
            line: 0,
            lex: Lex::Normal,
            sql: String::new(),
            code: false,
            start: 0,
            copy_from: None,
        }
    }

    /// The number of the line last fed (1-based).
    pub fn line(&self) -> usize {
        self.line
    }

    /// Whether the next line belongs to COPY data (callers read it as raw bytes).
    pub fn in_copy(&self) -> bool {
        self.copy_from.is_some()
    }

    /// Feeds `lines` whole data lines at once while `in_copy()` (found with `copy_run`).
    pub fn copy_lines(&mut self, lines: usize) {
        self.line += lines;
    }

    /// Feeds one data line while `in_copy()`; the line includes its newline.
    pub fn copy_line(&mut self, line: &[u8]) -> Item {
        self.line += 1;
        let trimmed = line.strip_suffix(b"\n").unwrap_or(line);
        let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
        if trimmed == b"\\." {
            self.copy_from = None;
            Item::CopyEnd
        } else {
            Item::CopyData
        }
    }

    /// Feeds one line of SQL (with or without its newline); returns the items it completes.
    pub fn sql_line(&mut self, text: &str) -> Result<Vec<Item>, SplitError> {
        self.line += 1;
        let text = text.strip_suffix('\n').unwrap_or(text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        if self.lex == Lex::Normal && !self.code && text.starts_with('\\') {
            return self.meta_command(text);
        }
        let mut items = Vec::new();
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let is_code = self.lex == Lex::Normal
                && !chars[i].is_whitespace()
                && chars[i] != ';'
                && !self.in_comment_at(&chars, i);
            if is_code && !self.code {
                self.code = true;
                self.start = self.line;
            }
            let (next, ends) = self.step(&chars, i);
            if ends {
                if let Some(item) = self.end_statement() {
                    let is_copy = matches!(item, Item::CopyStart { .. });
                    items.push(item);
                    if is_copy {
                        // psql reads the data from the next line on.
                        return Ok(items);
                    }
                }
            } else {
                self.sql.extend(&chars[i..next]);
            }
            i = next;
        }
        if self.lex == Lex::Normal && !self.code {
            self.sql.clear();
        } else {
            self.sql.push('\n');
        }
        Ok(items)
    }

    /// Call at the end of the script.
    pub fn finish(&self) -> Result<(), SplitError> {
        if let Some(line) = self.copy_from {
            return Err(SplitError::UnterminatedCopy { line });
        }
        if self.code {
            return Err(SplitError::Unterminated { line: self.start });
        }
        Ok(())
    }

    fn meta_command(&mut self, text: &str) -> Result<Vec<Item>, SplitError> {
        let command = text.split_whitespace().next().unwrap_or(text);
        if matches!(command, "\\restrict" | "\\unrestrict") {
            return Ok(Vec::new());
        }
        Err(SplitError::MetaCommand {
            line: self.line,
            command: command.to_owned(),
        })
    }

    fn in_comment_at(&self, chars: &[char], i: usize) -> bool {
        self.lex == Lex::Normal
            && matches!(
                (chars[i], chars.get(i + 1)),
                ('-', Some('-')) | ('/', Some('*'))
            )
    }

    /// Advances over one token from `i`; returns where the next starts and whether it is a
    /// top-level `;`.
    fn step(&mut self, c: &[char], i: usize) -> (usize, bool) {
        let at = |k: usize| c.get(k).copied();
        match self.lex.clone() {
            Lex::Normal => match c[i] {
                ';' => (i + 1, true),
                '-' if at(i + 1) == Some('-') => (c.len(), false),
                '/' if at(i + 1) == Some('*') => {
                    self.lex = Lex::Block(1);
                    (i + 2, false)
                }
                '\'' => {
                    let e =
                        i > 0 && matches!(c[i - 1], 'e' | 'E') && !(i > 1 && is_ident(c[i - 2]));
                    self.lex = Lex::Quote { backslash: e };
                    (i + 1, false)
                }
                '"' => {
                    self.lex = Lex::Ident;
                    (i + 1, false)
                }
                '$' if i == 0 || !is_ident(c[i - 1]) => match dollar_tag(c, i) {
                    Some(tag) => {
                        let len = tag.chars().count();
                        self.lex = Lex::Dollar(tag);
                        (i + len, false)
                    }
                    None => (i + 1, false),
                },
                _ => (i + 1, false),
            },
            Lex::Quote { backslash } => match c[i] {
                '\\' if backslash => ((i + 2).min(c.len()), false),
                '\'' if at(i + 1) == Some('\'') => (i + 2, false),
                '\'' => {
                    self.lex = Lex::Normal;
                    (i + 1, false)
                }
                _ => (i + 1, false),
            },
            Lex::Ident => match c[i] {
                '"' if at(i + 1) == Some('"') => (i + 2, false),
                '"' => {
                    self.lex = Lex::Normal;
                    (i + 1, false)
                }
                _ => (i + 1, false),
            },
            Lex::Dollar(tag) => {
                if c[i] == '$' && starts_with(c, i, &tag) {
                    self.lex = Lex::Normal;
                    (i + tag.chars().count(), false)
                } else {
                    (i + 1, false)
                }
            }
            Lex::Block(depth) => match (c[i], at(i + 1)) {
                ('/', Some('*')) => {
                    self.lex = Lex::Block(depth + 1);
                    (i + 2, false)
                }
                ('*', Some('/')) => {
                    self.lex = if depth == 1 {
                        Lex::Normal
                    } else {
                        Lex::Block(depth - 1)
                    };
                    (i + 2, false)
                }
                _ => (i + 1, false),
            },
        }
    }

    fn end_statement(&mut self) -> Option<Item> {
        let sql = std::mem::take(&mut self.sql);
        if !std::mem::take(&mut self.code) {
            return None;
        }
        let sql = sql.trim().to_owned();
        let line = self.start;
        if is_copy_from_stdin(&sql) {
            self.copy_from = Some(line);
            Some(Item::CopyStart { sql, line })
        } else {
            Some(Item::Statement { sql, line })
        }
    }
}

/// A run of whole COPY data lines at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct CopyRun {
    /// Bytes of whole data lines (each with its newline).
    pub len: usize,
    pub lines: usize,
    /// Whether the `\.` line follows them in the buffer.
    pub ends: bool,
}

/// The whole data lines at the start of `buf` (which starts at the start of a line inside
/// COPY data), up to the line `\.` that ends the data. Candidates for that line are found
/// by searching for `\n\.`, so the data is not walked line by line.
pub fn copy_run(buf: &[u8]) -> CopyRun {
    let whole = memchr::memrchr(b'\n', buf).map_or(&buf[..0], |i| &buf[..=i]);
    let is_end = |at: &[u8]| at.starts_with(b"\\.\n") || at.starts_with(b"\\.\r\n");
    let mut start = 0;
    let end = loop {
        if is_end(&whole[start..]) {
            break Some(start);
        }
        match memchr::memmem::find(&whole[start..], b"\n\\.") {
            Some(p) => start += p + 1,
            None => break None,
        }
    };
    let len = end.unwrap_or(whole.len());
    CopyRun {
        len,
        lines: memchr::memchr_iter(b'\n', &whole[..len]).count(),
        ends: end.is_some(),
    }
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// `$tag$` starting at `i`, if there is one.
fn dollar_tag(c: &[char], i: usize) -> Option<String> {
    let mut j = i + 1;
    while j < c.len() && c[j] != '$' {
        let ok = c[j] == '_' || c[j].is_alphabetic() || (j > i + 1 && c[j].is_ascii_digit());
        if !ok {
            return None;
        }
        j += 1;
    }
    (j < c.len()).then(|| c[i..=j].iter().collect())
}

fn starts_with(c: &[char], i: usize, tag: &str) -> bool {
    tag.chars()
        .enumerate()
        .all(|(k, t)| c.get(i + k) == Some(&t))
}

/// The text without leading `--` lines and `/* */` comments (enough to read a statement's
/// first words).
pub(crate) fn strip_comments(sql: &str) -> String {
    let mut out = String::new();
    let mut rest = sql;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, after)| after);
        } else {
            out.push_str(rest);
            return out;
        }
    }
}

/// `COPY ... FROM stdin` (any case), as psql recognizes it.
fn is_copy_from_stdin(sql: &str) -> bool {
    let code = strip_comments(sql).to_ascii_lowercase();
    let words: Vec<&str> = code.split_whitespace().collect();
    words.first() == Some(&"copy") && words.windows(2).any(|w| w == ["from", "stdin"])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(script: &str) -> Vec<Item> {
        let mut s = Splitter::new();
        let mut items = Vec::new();
        for line in script.split_inclusive('\n') {
            if s.in_copy() {
                items.push(s.copy_line(line.as_bytes()));
            } else {
                items.extend(s.sql_line(line).unwrap());
            }
        }
        s.finish().unwrap();
        items
    }

    fn stmt(sql: &str, line: usize) -> Item {
        Item::Statement {
            sql: sql.into(),
            line,
        }
    }

    #[test]
    fn split_semicolons_in_quotes_and_comments_do_not_end_statements() {
        let items = split(
            "-- header; comment\nSELECT 'a;b', \"x;y\"; /* c; */ SELECT E'it\\'s;';\n\nSELECT $f$ ; $f$\n  , $$;$$;\n",
        );
        assert_eq!(
            items,
            vec![
                stmt("SELECT 'a;b', \"x;y\"", 2),
                stmt("/* c; */ SELECT E'it\\'s;'", 2),
                stmt("SELECT $f$ ; $f$\n  , $$;$$", 4),
            ]
        );
    }

    #[test]
    fn split_standard_string_backslash_is_literal() {
        assert_eq!(split("SELECT 'a\\';\n"), vec![stmt("SELECT 'a\\'", 1)]);
    }

    #[test]
    fn split_copy_block_yields_data_lines_until_terminator() {
        let items = split("COPY public.t (a) FROM stdin;\n1\tx;y\n\\N\n\\.\nSELECT 1;\n");
        assert_eq!(
            items,
            vec![
                Item::CopyStart {
                    sql: "COPY public.t (a) FROM stdin".into(),
                    line: 1
                },
                Item::CopyData,
                Item::CopyData,
                Item::CopyEnd,
                stmt("SELECT 1", 5),
            ]
        );
    }

    #[test]
    fn split_function_body_with_semicolons_is_one_statement() {
        let items = split(
            "CREATE FUNCTION f() RETURNS int\n LANGUAGE plpgsql AS $body$\nBEGIN\n  RETURN 1;\nEND;\n$body$;\n",
        );
        assert_eq!(items.len(), 1);
    }

    #[test]
    fn split_restrict_meta_command_is_skipped_other_is_error() {
        assert!(split("\\restrict abc\nSELECT 1;\n\\unrestrict abc\n").len() == 1);
        let mut s = Splitter::new();
        assert_eq!(
            s.sql_line("\\connect other\n"),
            Err(SplitError::MetaCommand {
                line: 1,
                command: "\\connect".into()
            })
        );
    }

    #[test]
    fn split_unterminated_statement_is_error_with_its_line() {
        let mut s = Splitter::new();
        s.sql_line("SELECT 1;\n").unwrap();
        s.sql_line("SELECT\n").unwrap();
        s.sql_line("  2\n").unwrap();
        assert_eq!(s.finish(), Err(SplitError::Unterminated { line: 2 }));
    }

    #[test]
    fn copy_run_stops_before_the_end_line_and_at_the_last_whole_line() {
        let run = |b: &[u8]| {
            let r = copy_run(b);
            (r.len, r.lines, r.ends)
        };
        assert_eq!(run(b"1\ta\n2\t\\.x\n\\.\nSELECT 1;\n"), (10, 2, true));
        assert_eq!(run(b"\\.\r\nrest"), (0, 0, true));
        assert_eq!(run(b"1\n\\.x\n2\npartial"), (8, 3, false));
        assert_eq!(run(b"no newline yet"), (0, 0, false));
        assert_eq!(run(b"1\n\\."), (2, 1, false));
    }

    #[test]
    fn split_truncated_copy_is_error() {
        let mut s = Splitter::new();
        s.sql_line("COPY t FROM stdin;\n").unwrap();
        s.copy_line(b"1\n");
        assert_eq!(s.finish(), Err(SplitError::UnterminatedCopy { line: 1 }));
    }
}
