//! Names that key the schema model: qualified names, function keys (name + identity
//! arguments), trigger keys, and references between objects for dependency ordering.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::core::render::{qualified, quote_ident};

/// `schema.name` of a schema-level object. Ordered by schema, then name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QualifiedName {
    pub schema: String,
    pub name: String,
}

impl QualifiedName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            schema: schema.into(),
            name: name.into(),
        }
    }
}

/// Quoted as SQL needs it: `public."Order Items"`.
impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&qualified(&self.schema, &self.name))
    }
}

/// A function or procedure: overloads share a name and differ by identity arguments
/// (`pg_get_function_identity_arguments`, e.g. `a integer, b text`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FunctionKey {
    pub schema: String,
    pub name: String,
    pub args: String,
}

impl FunctionKey {
    pub fn new(
        schema: impl Into<String>,
        name: impl Into<String>,
        args: impl Into<String>,
    ) -> Self {
        Self {
            schema: schema.into(),
            name: name.into(),
            args: args.into(),
        }
    }
}

/// `public.f(a integer, b text)`: the signature `DROP FUNCTION` and `COMMENT ON` accept.
impl fmt::Display for FunctionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", qualified(&self.schema, &self.name), self.args)
    }
}

/// A trigger: its name is unique per table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TriggerKey {
    pub table: QualifiedName,
    pub name: String,
}

/// `name ON schema.table`, as `DROP TRIGGER` and `COMMENT ON TRIGGER` spell it.
impl fmt::Display for TriggerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ON {}", quote_ident(&self.name), self.table)
    }
}

/// An object another object depends on (from `pg_depend`, normal dependencies only),
/// used to order creation: a view after the tables it reads, a table after its types.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum ObjectRef {
    Schema(String),
    Extension(String),
    /// An enum, domain or composite type.
    Type(QualifiedName),
    Sequence(QualifiedName),
    Table(QualifiedName),
    /// A view or materialized view.
    View(QualifiedName),
    Function(FunctionKey),
    /// A primary key or unique constraint (table, constraint name): a view whose GROUP BY
    /// relies on it (functional dependency) can only be created once it exists.
    Constraint(QualifiedName, String),
}

/// Names serialize as their SQL spelling (`public."Order Items"`) in human-readable formats,
/// so maps keyed by them serialize to JSON objects; in binary formats (the head shadow's
/// schema cache, `shadow::cache`) as a tuple of their parts, the one form they deserialize
/// from.
macro_rules! name_serde {
    ($($t:ident { $($field:ident),* })*) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                if serializer.is_human_readable() {
                    serializer.collect_str(self)
                } else {
                    ($(&self.$field,)*).serialize(serializer)
                }
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let ($($field,)*) = Deserialize::deserialize(deserializer)?;
                Ok(Self { $($field),* })
            }
        }
    )*};
}
name_serde! {
    QualifiedName { schema, name }
    FunctionKey { schema, name, args }
    TriggerKey { table, name }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_name_display_quotes_as_needed() {
        assert_eq!(
            QualifiedName::new("public", "Order Items").to_string(),
            "public.\"Order Items\""
        );
    }

    #[test]
    fn function_key_display_includes_identity_arguments() {
        let key = FunctionKey::new("app", "add", "a integer, b integer");
        assert_eq!(key.to_string(), "app.add(a integer, b integer)");
    }

    #[test]
    fn trigger_key_display_names_its_table() {
        let key = TriggerKey {
            table: QualifiedName::new("public", "user"),
            name: "audit".to_owned(),
        };
        assert_eq!(key.to_string(), "audit ON public.\"user\"");
    }

    #[test]
    fn names_serialize_as_sql_strings() {
        let name = QualifiedName::new("app", "Users");
        assert_eq!(serde_json::to_string(&name).unwrap(), r#""app.\"Users\"""#);
    }
}
