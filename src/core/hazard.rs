//! Hazard classification: what a planned step risks (data loss, a table rewrite, a long
//! ACCESS EXCLUSIVE lock, a blocking index build, a validation scan). Pure judgement over
//! type names and expressions; it never decides whether a step is allowed, callers do.

use serde::Serialize;

/// The kinds of risk a step can carry (DESIGN.md "Applying").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum HazardKind {
    DataLoss,
    TableRewrite,
    AccessExclusiveLock,
    IndexBuild,
    ValidationScan,
}

impl HazardKind {
    /// The name used in migration headers, logs and `lint` output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DataLoss => "data-loss",
            Self::TableRewrite => "table-rewrite",
            Self::AccessExclusiveLock => "access-exclusive-lock",
            Self::IndexBuild => "index-build",
            Self::ValidationScan => "validation-scan",
        }
    }
}

impl std::fmt::Display for HazardKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One risk of one step: what kind, on which object, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hazard {
    pub kind: HazardKind,
    pub object: String,
    pub detail: String,
}

impl Hazard {
    pub fn new(kind: HazardKind, object: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind,
            object: object.into(),
            detail: detail.into(),
        }
    }
}

/// Dropping a table loses its rows.
pub fn drop_table(object: &str) -> Vec<Hazard> {
    vec![
        Hazard::new(
            HazardKind::DataLoss,
            object,
            "the table and its rows are dropped",
        ),
        Hazard::new(
            HazardKind::AccessExclusiveLock,
            object,
            "DROP TABLE takes an ACCESS EXCLUSIVE lock",
        ),
    ]
}

/// Dropping a column loses its values.
pub fn drop_column(object: &str) -> Vec<Hazard> {
    vec![Hazard::new(
        HazardKind::DataLoss,
        object,
        "the column and its values are dropped",
    )]
}

/// Removing enum values: rows holding them make the conversion fail, or lose the value.
pub fn enum_values_removed(object: &str, removed: &[String]) -> Vec<Hazard> {
    let mut out = Vec::new();
    if !removed.is_empty() {
        out.push(Hazard::new(
            HazardKind::DataLoss,
            object,
            format!("enum values removed: {}", removed.join(", ")),
        ));
    }
    out.push(Hazard::new(
        HazardKind::TableRewrite,
        object,
        "columns of the type are converted to the recreated type",
    ));
    out
}

/// Changing a column's type: narrowing loses data, most changes rewrite the table.
pub fn column_type_change(object: &str, from: &str, to: &str) -> Vec<Hazard> {
    let mut out = Vec::new();
    if is_narrowing(from, to) {
        out.push(Hazard::new(
            HazardKind::DataLoss,
            object,
            format!("narrowing type {from} -> {to} can fail or truncate values"),
        ));
    }
    if !is_binary_coercible(from, to) {
        out.push(Hazard::new(
            HazardKind::TableRewrite,
            object,
            format!("type change {from} -> {to} rewrites the table"),
        ));
        out.push(Hazard::new(
            HazardKind::AccessExclusiveLock,
            object,
            "the table is locked (ACCESS EXCLUSIVE) during the rewrite",
        ));
    }
    out
}

/// Adding a column whose default must be computed per row rewrites the table.
pub fn add_column_default(object: &str, default: Option<&str>, generated: bool) -> Vec<Hazard> {
    let volatile = default.is_some_and(is_volatile_expression);
    if !(volatile || generated) {
        return Vec::new();
    }
    let why = if generated {
        "a stored generated column is computed for every row"
    } else {
        "a volatile default is evaluated for every row"
    };
    vec![
        Hazard::new(HazardKind::TableRewrite, object, why),
        Hazard::new(
            HazardKind::AccessExclusiveLock,
            object,
            "the table is locked (ACCESS EXCLUSIVE) during the rewrite",
        ),
    ]
}

/// A NOT NULL, CHECK or FOREIGN KEY added to an existing table scans every row.
pub fn validation_scan(object: &str, what: &str) -> Vec<Hazard> {
    vec![Hazard::new(
        HazardKind::ValidationScan,
        object,
        format!("adding {what} scans the whole table while holding a lock"),
    )]
}

/// An index built without CONCURRENTLY blocks writes to its table for the build.
pub fn index_build(object: &str) -> Vec<Hazard> {
    vec![Hazard::new(
        HazardKind::IndexBuild,
        object,
        "the index is built without CONCURRENTLY: writes to the table wait for the build",
    )]
}

/// SET LOGGED writes the whole table to the WAL, under an ACCESS EXCLUSIVE lock.
pub fn set_logged(object: &str) -> Vec<Hazard> {
    vec![
        Hazard::new(
            HazardKind::TableRewrite,
            object,
            "SET LOGGED/UNLOGGED rewrites the table",
        ),
        Hazard::new(
            HazardKind::AccessExclusiveLock,
            object,
            "the table is locked (ACCESS EXCLUSIVE) during the rewrite",
        ),
    ]
}

/// Whether an expression is (likely) volatile: computed per row rather than once.
pub fn is_volatile_expression(expr: &str) -> bool {
    const VOLATILE: &[&str] = &[
        "nextval(",
        "random(",
        "gen_random_uuid(",
        "uuid_generate_v1",
        "uuid_generate_v4",
        "clock_timestamp(",
        "timeofday(",
        "txid_current(",
        "uuidv7(",
        "uuidv4(",
    ];
    let lower = expr.to_ascii_lowercase();
    VOLATILE.iter().any(|f| lower.contains(f))
}

/// A type name split into base name and its modifiers: `character varying(20)` ->
/// (`character varying`, [20]).
fn split_type(ty: &str) -> (String, Vec<i64>, bool) {
    let array = ty.ends_with("[]");
    let ty = ty.trim_end_matches("[]");
    let Some(open) = ty.find('(') else {
        return (ty.to_owned(), Vec::new(), array);
    };
    let close = ty.rfind(')').unwrap_or(ty.len());
    let mods = ty[open + 1..close]
        .split(',')
        .filter_map(|m| m.trim().parse().ok())
        .collect();
    // `timestamp(3) with time zone`: keep the words around the modifiers.
    let base = format!("{}{}", &ty[..open], ty.get(close + 1..).unwrap_or(""));
    (base, mods, array)
}

/// Integer width of the integer types, for narrowing checks.
fn int_width(base: &str) -> Option<u8> {
    match base {
        "smallint" => Some(2),
        "integer" => Some(4),
        "bigint" => Some(8),
        _ => None,
    }
}

fn is_text_like(base: &str) -> bool {
    matches!(base, "text" | "character varying" | "character")
}

/// Whether a value of `from` may not fit `to` (shorter length, fewer digits, smaller int,
/// or a change to a non-text type from text).
pub fn is_narrowing(from: &str, to: &str) -> bool {
    let (fb, fm, fa) = split_type(from);
    let (tb, tm, ta) = split_type(to);
    if fa != ta {
        return true;
    }
    if let (Some(f), Some(t)) = (int_width(&fb), int_width(&tb)) {
        return t < f;
    }
    if is_text_like(&fb) && is_text_like(&tb) {
        return match (fm.first(), tm.first()) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(f), Some(t)) => t < f,
        };
    }
    if fb == tb {
        return match (fm.as_slice(), tm.as_slice()) {
            (_, []) => false,
            ([], _) => true,
            ([fp, fs], [tp, ts]) => tp - ts < fp - fs || ts < fs,
            ([f], [t]) => t < f,
            _ => false,
        };
    }
    int_width(&tb).is_some() || is_text_like(&fb)
}

/// Whether PostgreSQL changes the type without rewriting the table (binary coercible, or a
/// modifier that only widens).
pub fn is_binary_coercible(from: &str, to: &str) -> bool {
    let (fb, fm, fa) = split_type(from);
    let (tb, tm, ta) = split_type(to);
    if fa != ta {
        return false;
    }
    let widening = match (fm.as_slice(), tm.as_slice()) {
        (_, []) => true,
        ([f], [t]) => t >= f,
        ([fp, fs], [tp, ts]) => fs == ts && tp >= fp,
        _ => false,
    };
    if fb == tb {
        return widening && !matches!(fb.as_str(), "bit" | "character");
    }
    match (fb.as_str(), tb.as_str()) {
        ("character varying", "text") | ("cidr", "inet") => true,
        ("text", "character varying") => tm.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_narrowing_varchar_shorter_is_narrowing() {
        assert!(is_narrowing(
            "character varying(20)",
            "character varying(10)"
        ));
        assert!(!is_narrowing(
            "character varying(10)",
            "character varying(20)"
        ));
        assert!(!is_narrowing("character varying(10)", "text"));
        assert!(is_narrowing("text", "character varying(10)"));
    }

    #[test]
    fn is_narrowing_integers_follow_width() {
        assert!(is_narrowing("bigint", "integer"));
        assert!(!is_narrowing("integer", "bigint"));
        assert!(is_narrowing("text", "integer"));
    }

    #[test]
    fn is_narrowing_numeric_fewer_digits_is_narrowing() {
        assert!(is_narrowing("numeric(10,2)", "numeric(8,2)"));
        assert!(!is_narrowing("numeric(10,2)", "numeric(12,2)"));
        assert!(!is_narrowing("numeric(10,2)", "numeric"));
    }

    #[test]
    fn is_binary_coercible_widening_varchar_needs_no_rewrite() {
        assert!(is_binary_coercible(
            "character varying(10)",
            "character varying(20)"
        ));
        assert!(is_binary_coercible("character varying(10)", "text"));
        assert!(!is_binary_coercible("integer", "bigint"));
        assert!(!is_binary_coercible("text", "integer"));
    }

    #[test]
    fn add_column_default_volatile_rewrites() {
        let h = add_column_default("t.c", Some("gen_random_uuid()"), false);
        assert_eq!(h[0].kind, HazardKind::TableRewrite);
        assert!(add_column_default("t.c", Some("now()"), false).is_empty());
        assert!(add_column_default("t.c", Some("0"), false).is_empty());
    }

    #[test]
    fn hazard_kind_as_str_uses_kebab_names() {
        assert_eq!(HazardKind::DataLoss.as_str(), "data-loss");
        assert_eq!(
            HazardKind::AccessExclusiveLock.to_string(),
            "access-exclusive-lock"
        );
    }
}
