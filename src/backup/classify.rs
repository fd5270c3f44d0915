//! What a parallel restore needs to know about a statement of the script: the table a
//! `COPY ... FROM stdin` loads, and the table whose index a post-data statement builds when
//! that statement may run beside index builds of other tables.
//!
//! Pure and conservative: anything it does not recognize exactly is `None`, which the
//! restore runs alone, in file order, as psql would.

use super::split::strip_comments;

/// The table of a `COPY table [(cols)] FROM stdin`, as a key (see `key_of`).
pub(crate) fn copy_target(sql: &str) -> Option<String> {
    let code = strip_comments(sql);
    let rest = keyword(&code, "copy")?;
    name_key(rest).map(|(key, _)| key)
}

/// The table whose index the statement builds, as a key, when it is one of
/// `CREATE [UNIQUE] INDEX [[IF NOT EXISTS] name] ON [ONLY] table ...` or
/// `ALTER TABLE [ONLY] table ADD [CONSTRAINT name] PRIMARY KEY|UNIQUE|EXCLUDE ...` with no
/// other subcommand. Such statements on different tables do not depend on each other.
pub(crate) fn index_build_target(sql: &str) -> Option<String> {
    let code = strip_comments(sql);
    create_index_target(&code).or_else(|| add_key_target(&code))
}

fn create_index_target(code: &str) -> Option<String> {
    let rest = keyword(code, "create")?;
    let rest = keyword(rest, "unique").unwrap_or(rest);
    let mut rest = keyword(rest, "index")?;
    // CONCURRENTLY cannot share anything; leave it to the serial path.
    if keyword(rest, "concurrently").is_some() {
        return None;
    }
    if let Some(after) = keyword(rest, "if") {
        rest = keyword(keyword(after, "not")?, "exists")?;
    }
    if keyword(rest, "on").is_none() {
        rest = name_key(rest)?.1;
    }
    let rest = keyword(rest, "on")?;
    let rest = keyword(rest, "only").unwrap_or(rest);
    name_key(rest).map(|(key, _)| key)
}

fn add_key_target(code: &str) -> Option<String> {
    let rest = keyword(keyword(code, "alter")?, "table")?;
    let rest = keyword(rest, "only").unwrap_or(rest);
    let (key, rest) = name_key(rest)?;
    let mut rest = keyword(rest, "add")?;
    if let Some(after) = keyword(rest, "constraint") {
        rest = name_key(after)?.1;
    }
    let is_key = keyword(rest, "primary").is_some()
        || keyword(rest, "unique").is_some()
        || keyword(rest, "exclude").is_some();
    (is_key && !has_top_level_comma(rest)).then_some(key)
}

/// The text after `word` (any case) and the whitespace that follows it, if `text` starts
/// with that word.
fn keyword<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let text = text.trim_start();
    let head = text.get(..word.len())?;
    let after = &text[word.len()..];
    let ends = after
        .chars()
        .next()
        .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '$'));
    (head.eq_ignore_ascii_case(word) && ends).then(|| after.trim_start())
}

/// A possibly qualified, possibly quoted name at the start of `text`, as a key: unquoted
/// parts folded to lower case, quoted parts kept, joined with `.`; and the text after it.
fn name_key(text: &str) -> Option<(String, &str)> {
    let mut rest = text.trim_start();
    let mut parts = Vec::new();
    loop {
        let (part, after) = name_part(rest)?;
        parts.push(part);
        match after.strip_prefix('.') {
            Some(next) => rest = next,
            None => return Some((parts.join("."), after)),
        }
    }
}

/// One identifier: `"quoted ""x"""` or a bare word.
fn name_part(text: &str) -> Option<(String, &str)> {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut out = String::from("\"");
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            if c == '"' {
                if quoted[i + 1..].starts_with('"') {
                    chars.next();
                    out.push_str("\"\"");
                    continue;
                }
                out.push('"');
                return Some((out, &quoted[i + 1..]));
            }
            out.push(c);
        }
        return None;
    }
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .unwrap_or(text.len());
    (end > 0).then(|| (text[..end].to_lowercase(), &text[end..]))
}

/// Whether a `,` outside parentheses and quotes follows (a second ALTER TABLE subcommand).
fn has_top_level_comma(text: &str) -> bool {
    let (mut depth, mut quote) = (0_i32, None);
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ',') if depth == 0 => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_target_reads_quoted_and_qualified_names() {
        assert_eq!(
            copy_target("COPY public.t (a, b) FROM stdin").as_deref(),
            Some("public.t")
        );
        assert_eq!(
            copy_target("-- x\nCOPY \"Mixed Case\".\"Odd;Name\" (\"a\") FROM stdin").as_deref(),
            Some("\"Mixed Case\".\"Odd;Name\"")
        );
        assert_eq!(copy_target("copy T from stdin").as_deref(), Some("t"));
    }

    #[test]
    fn index_build_target_recognizes_indexes_and_key_constraints() {
        let cases = [
            (
                "CREATE UNIQUE INDEX i ON ONLY app.events USING btree (id)",
                Some("app.events"),
            ),
            ("create index on T(x)", Some("t")),
            (
                "CREATE INDEX IF NOT EXISTS \"I\" ON \"S\".\"T\" (x)",
                Some("\"S\".\"T\""),
            ),
            (
                "ALTER TABLE ONLY public.pgbench_accounts ADD CONSTRAINT pgbench_accounts_pkey PRIMARY KEY (aid)",
                Some("public.pgbench_accounts"),
            ),
            ("ALTER TABLE t ADD UNIQUE (a, b)", Some("t")),
            (
                "ALTER TABLE ONLY app.r ADD CONSTRAINT x EXCLUDE USING gist (a WITH =, b WITH &&)",
                Some("app.r"),
            ),
        ];
        for (sql, want) in cases {
            assert_eq!(index_build_target(sql).as_deref(), want, "{sql}");
        }
    }

    #[test]
    fn index_build_target_leaves_everything_else_alone() {
        for sql in [
            "CREATE INDEX CONCURRENTLY i ON t (x)",
            "ALTER TABLE ONLY t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id)",
            "ALTER TABLE t ADD PRIMARY KEY (a), ADD CONSTRAINT f FOREIGN KEY (b) REFERENCES u",
            "ALTER TABLE ONLY t ADD CONSTRAINT c CHECK (a > 0) NOT VALID",
            "ALTER INDEX app.p ATTACH PARTITION app.c",
            "COMMENT ON INDEX app.i IS 'x'",
            "CREATE INDEXES",
            "CREATE VIEW v AS SELECT 1",
        ] {
            assert_eq!(index_build_target(sql), None, "{sql}");
        }
    }
}
