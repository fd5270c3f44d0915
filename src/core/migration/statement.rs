//! A script as statements, and error positions as file lines.
//!
//! Splitting uses PostgreSQL's own parser (pg_query), so `$$` bodies, quoted semicolons and
//! comments are handled as the server would. The server reports an error's position in
//! characters (1-based) into the text it was sent; `locate` turns a statement's byte offset
//! in the file plus that position into a 1-based line of the file.

/// One statement of a script: its text and where it starts in the script (bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statement<'a> {
    pub text: &'a str,
    pub offset: usize,
}

impl Statement<'_> {
    /// The 1-based line of the script on which the statement starts (its first token).
    pub fn line(&self, script: &str) -> usize {
        let lead = self.text.len() - self.text.trim_start().len();
        line_at(script, self.offset + lead)
    }
}

/// The statements of a script, in order, without empty ones. An error (a syntax error the
/// parser found) is returned as the parser's message.
pub fn split_statements(script: &str) -> Result<Vec<Statement<'_>>, String> {
    let parts = pg_query::split_with_parser(script).map_err(|e| e.to_string())?;
    Ok(parts
        .into_iter()
        .filter(|text| !text.trim().is_empty())
        .map(|text| Statement {
            text,
            // The parser returns slices of `script`, so the offset is their distance.
            offset: text.as_ptr() as usize - script.as_ptr() as usize,
        })
        .collect())
}

/// The 1-based line of a byte offset in `text`.
#[allow(clippy::naive_bytecount)] // scripts are small; no extra crate for this
pub fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The 1-based line of the script for a server error `position` (1-based, in characters)
/// into a statement that starts at byte `offset` of the script.
pub fn locate(script: &str, offset: usize, position: usize) -> usize {
    let sent = script.get(offset..).unwrap_or("");
    let byte = sent
        .char_indices()
        .nth(position.saturating_sub(1))
        .map_or(sent.len(), |(i, _)| i);
    line_at(script, offset + byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_statements_dollar_bodies_and_comments_ok() {
        let script = "-- no-transaction\nCREATE TABLE a (id int);\n\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n-- trailing\n";
        let stmts = split_statements(script).unwrap();
        assert_eq!(stmts.len(), 2);
        assert!(stmts[0].text.contains("CREATE TABLE a"));
        assert_eq!(stmts[0].line(script), 2);
        assert!(
            stmts[1].text.starts_with("CREATE FUNCTION")
                || stmts[1].text.trim_start().starts_with("CREATE FUNCTION")
        );
        assert_eq!(stmts[1].line(script), 4);
        assert_eq!(
            &script[stmts[1].offset..stmts[1].offset + stmts[1].text.len()],
            stmts[1].text
        );
    }

    #[test]
    fn split_statements_empty_script_no_statements() {
        assert!(split_statements("-- nothing here\n").unwrap().is_empty());
        assert!(split_statements("").unwrap().is_empty());
    }

    #[test]
    fn split_statements_syntax_error_err() {
        assert!(split_statements("CREATE TABL x;").is_err());
    }

    #[test]
    fn locate_counts_characters_not_bytes() {
        let script = "SELECT 1;\nSELECT 'é';\nSELECT nope FROM t;\n";
        let stmts = split_statements(script).unwrap();
        let third = stmts[2];
        // position 8 of "SELECT nope FROM t" is 'n' of nope, on line 3
        assert_eq!(locate(script, third.offset, 8), 3);
        assert_eq!(locate(script, 0, 1), 1);
        let multi = "SELECT 'é',\n  'ü',\n  x";
        assert_eq!(locate(multi, 0, 20), 3);
    }
}
