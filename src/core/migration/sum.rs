//! `migrations/migrated.sum`: a hash per migration file and one over all of them, so that two
//! branches which each add a migration conflict in git instead of silently diverging.
//!
//! Format (UTF-8 text, LF line ends, deterministic for a given set of files):
//!
//! ```text
//! # migrated.sum: SHA-384 of every migration file (CRLF read as LF), then of this list.
//! # Written by migrated with every migration it writes; checked by `migrated validate`.
//! # Do not edit: `migrated repair` rewrites it after a deliberate change.
//! 20260101000000_create_users.down.sql <96 hex digits>
//! 20260101000000_create_users.up.sql <96 hex digits>
//! total <96 hex digits>
//! ```
//!
//! - Lines starting with `#` are comments; the three above are always written.
//! - One line per migration file (`.up.sql`, `.down.sql`, `.sql`), ordered by version, then
//!   by name: `<file name> <hex SHA-384 of the bytes with CRLF turned into LF>`. Line ends
//!   are normalized so that a CRLF checkout does not look like an edit.
//! - The last line is `total <hex>`: SHA-384 of every file line above it, each with its
//!   trailing LF. Two branches that add different migrations change this same last line,
//!   so git reports a conflict where they meet.

use std::fmt::Write as _;

use sha2::{Digest as _, Sha384};

use super::checksum::normalize_newlines;
use super::file::{SourceFile, parse_file_name};

const HEADER: &str = "# migrated.sum: SHA-384 of every migration file (CRLF read as LF), then of this list.\n\
# Written by migrated with every migration it writes; checked by `migrated validate`.\n\
# Do not edit: `migrated repair` rewrites it after a deliberate change.\n";

/// What is wrong with a sum file, naming the file concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SumProblem {
    #[error(
        "{path} is missing: it must list every migration file (run `migrated repair` to write it)"
    )]
    Missing { path: String },
    #[error("migrated.sum is stale: migration file {file} is not listed in it")]
    Unlisted { file: String },
    #[error("migrated.sum is stale: it lists {file}, which does not exist")]
    Vanished { file: String },
    #[error(
        "migration file {file} was changed after migrated.sum was written (tampered or edited by hand)"
    )]
    Changed { file: String },
    #[error("migrated.sum was edited by hand: {reason}")]
    Tampered { reason: String },
}

fn hex_sha384(bytes: &[u8]) -> String {
    hex::encode(Sha384::digest(bytes))
}

/// The migration files among `files`, as `(version, name, hash)` in sum order.
fn entries(files: &[SourceFile]) -> Vec<(i64, &str, String)> {
    let mut out: Vec<(i64, &str, String)> = files
        .iter()
        .filter_map(|f| {
            let parsed = parse_file_name(&f.name).ok().flatten()?;
            Some((
                parsed.version,
                f.name.as_str(),
                hex_sha384(&normalize_newlines(&f.bytes)),
            ))
        })
        .collect();
    out.sort();
    out
}

fn body(lines: &[(&str, &str)]) -> String {
    lines.iter().fold(String::new(), |mut out, (n, h)| {
        let _ = writeln!(out, "{n} {h}");
        out
    })
}

/// The full text of `migrated.sum` for these files (non-migration files are skipped).
pub fn sum_file_contents(files: &[SourceFile]) -> String {
    let entries = entries(files);
    let lines: Vec<(&str, &str)> = entries.iter().map(|(_, n, h)| (*n, h.as_str())).collect();
    let body = body(&lines);
    format!("{HEADER}{body}total {}\n", hex_sha384(body.as_bytes()))
}

/// Every problem with a sum file's text against the files on disk.
pub fn check_sum(text: &str, files: &[SourceFile]) -> Vec<SumProblem> {
    let mut listed: Vec<(&str, &str)> = Vec::new();
    let mut total: Option<&str> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts = line
            .split_once(' ')
            .filter(|(_, h)| is_hash(h) && total.is_none());
        match parts {
            Some(("total", hash)) => total = Some(hash),
            Some(entry) => listed.push(entry),
            None => {
                return vec![SumProblem::Tampered {
                    reason: format!("line {} is not `<file> <hash>`", n + 1),
                }];
            }
        }
    }
    let mut problems = Vec::new();
    match total {
        None => problems.push(SumProblem::Tampered {
            reason: "the `total` line is missing".to_owned(),
        }),
        Some(t) if t != hex_sha384(body(&listed).as_bytes()) => {
            problems.push(SumProblem::Tampered {
                reason: "the `total` line does not match the lines above it".to_owned(),
            });
        }
        Some(_) => {}
    }
    let actual = entries(files);
    for (_, name, hash) in &actual {
        match listed.iter().find(|(n, _)| n == name) {
            None => problems.push(SumProblem::Unlisted {
                file: (*name).to_owned(),
            }),
            Some((_, h)) if h != hash => problems.push(SumProblem::Changed {
                file: (*name).to_owned(),
            }),
            Some(_) => {}
        }
    }
    for (name, _) in &listed {
        if !actual.iter().any(|(_, n, _)| n == name) {
            problems.push(SumProblem::Vanished {
                file: (*name).to_owned(),
            });
        }
    }
    problems
}

fn is_hash(s: &str) -> bool {
    s.len() == 96 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str, sql: &str) -> SourceFile {
        SourceFile {
            name: name.into(),
            bytes: sql.as_bytes().to_vec(),
        }
    }

    fn files() -> Vec<SourceFile> {
        vec![
            f("2_b.up.sql", "B\n"),
            f("1_a.up.sql", "A\n"),
            f("1_a.down.sql", "a\n"),
            f("migrated.sum", ""),
        ]
    }

    #[test]
    fn sum_file_contents_deterministic_and_ordered() {
        let text = sum_file_contents(&files());
        let mut reversed = files();
        reversed.reverse();
        assert_eq!(text, sum_file_contents(&reversed));
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert!(lines[0].starts_with("1_a.down.sql "));
        assert!(lines[1].starts_with("1_a.up.sql "));
        assert!(lines[2].starts_with("2_b.up.sql "));
        assert!(lines[3].starts_with("total "));
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn check_sum_fresh_no_problems() {
        let text = sum_file_contents(&files());
        assert_eq!(check_sum(&text, &files()), vec![]);
        assert_eq!(check_sum(&sum_file_contents(&[]), &[]), vec![]);
    }

    #[test]
    fn check_sum_crlf_checkout_no_problems() {
        let text = sum_file_contents(&files());
        let crlf: Vec<SourceFile> = files()
            .into_iter()
            .map(|mut x| {
                x.bytes = String::from_utf8(x.bytes)
                    .unwrap()
                    .replace('\n', "\r\n")
                    .into_bytes();
                x
            })
            .collect();
        assert_eq!(check_sum(&text.replace('\n', "\r\n"), &crlf), vec![]);
    }

    #[test]
    fn check_sum_added_file_stale() {
        let text = sum_file_contents(&files());
        let mut more = files();
        more.push(f("3_c.up.sql", "C"));
        assert_eq!(
            check_sum(&text, &more),
            vec![SumProblem::Unlisted {
                file: "3_c.up.sql".into()
            }]
        );
        let fewer = &files()[1..];
        assert_eq!(
            check_sum(&text, fewer),
            vec![SumProblem::Vanished {
                file: "2_b.up.sql".into()
            }]
        );
    }

    #[test]
    fn check_sum_edited_file_or_sum_tampered() {
        let text = sum_file_contents(&files());
        let mut edited = files();
        edited[1].bytes = b"A2\n".to_vec();
        assert_eq!(
            check_sum(&text, &edited),
            vec![SumProblem::Changed {
                file: "1_a.up.sql".into()
            }]
        );
        let hand = text.replacen("1_a.up.sql", "1_z.up.sql", 1);
        let problems = check_sum(&hand, &files());
        assert!(
            problems
                .iter()
                .any(|p| matches!(p, SumProblem::Tampered { .. })),
            "{problems:?}"
        );
        let garbage = format!("{text}oops\n");
        assert!(matches!(
            check_sum(&garbage, &files())[0],
            SumProblem::Tampered { .. }
        ));
    }

    #[test]
    fn two_branches_adding_migrations_change_the_last_line() {
        let base = sum_file_contents(&files());
        let mut a = files();
        a.push(f("3_a.up.sql", "X"));
        let mut b = files();
        b.push(f("3_b.up.sql", "Y"));
        let (ta, tb) = (sum_file_contents(&a), sum_file_contents(&b));
        assert_ne!(ta.lines().last(), tb.lines().last());
        assert_ne!(ta.lines().last(), base.lines().last());
    }
}
