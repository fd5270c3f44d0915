//! SHA-384 of a migration file's exact bytes (sqlx's checksum), and the comparison with a
//! recorded checksum that tolerates a CRLF checkout of an unchanged LF file (and the reverse).

use sha2::{Digest as _, Sha384};

/// SHA-384 of the bytes, as sqlx computes it for `_sqlx_migrations.checksum`.
pub fn checksum(bytes: &[u8]) -> Vec<u8> {
    Sha384::digest(bytes).to_vec()
}

/// The bytes with every CRLF turned into LF (a lone CR is kept).
pub fn normalize_newlines(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut iter = bytes.iter().peekable();
    while let Some(&b) = iter.next() {
        if b == b'\r' && iter.peek() == Some(&&b'\n') {
            continue;
        }
        out.push(b);
    }
    out
}

/// The LF bytes with every LF turned into CRLF.
fn to_crlf(lf: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lf.len() + lf.len() / 16);
    for &b in lf {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// Whether `recorded` is the checksum of these bytes, of the same text with LF line ends, or
/// of the same text with CRLF line ends: git's autocrlf changes line ends, not the migration.
pub fn checksum_matches(recorded: &[u8], bytes: &[u8]) -> bool {
    if recorded == checksum(bytes).as_slice() {
        return true;
    }
    let lf = normalize_newlines(bytes);
    recorded == checksum(&lf).as_slice() || recorded == checksum(&to_crlf(&lf)).as_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_known_value_equals_sha384sum() {
        // printf 'SELECT 1;\n' | sha384sum
        assert_eq!(
            hex::encode(checksum(b"SELECT 1;\n")),
            hex::encode(Sha384::digest(b"SELECT 1;\n"))
        );
        assert_eq!(checksum(b"").len(), 48);
    }

    #[test]
    fn checksum_matches_crlf_checkout_of_lf_file_true() {
        let lf = b"CREATE TABLE a (id int);\nSELECT 1;\n";
        let crlf = b"CREATE TABLE a (id int);\r\nSELECT 1;\r\n";
        assert!(checksum_matches(&checksum(lf), crlf));
        assert!(checksum_matches(&checksum(crlf), lf));
        assert!(checksum_matches(&checksum(lf), lf));
    }

    #[test]
    fn checksum_matches_real_edit_false() {
        let before = b"CREATE TABLE a (id int);\n";
        let after = b"CREATE TABLE a (id bigint);\n";
        assert!(!checksum_matches(&checksum(before), after));
    }

    #[test]
    fn normalize_newlines_lone_cr_kept() {
        assert_eq!(normalize_newlines(b"a\r\nb\rc\n"), b"a\nb\rc\n");
    }
}
