//! The one schema model: plain data describing everything `migrated` knows about a database
//! schema. Built by `db::introspect`, compared by `core::diff`, rendered by `core::ddl`.
//!
//! Text that PostgreSQL renders itself (types via `format_type`, defaults and predicates via
//! `pg_get_expr`, constraint, index, view, function and trigger definitions via the
//! `pg_get_*def` functions) is kept verbatim, so two schemas compare equal with `==` exactly
//! when the server renders them the same. This module holds data only: no I/O, no SQL text
//! generation (that is `core::ddl` and `core::render`).

mod names;
mod table;
mod types;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use names::{FunctionKey, ObjectRef, QualifiedName, TriggerKey};
pub use table::{
    Column, Constraint, ConstraintKind, FkAction, FkMatch, ForeignKey, Identity,
    IdentityGeneration, Index, IndexKey, PartitionOf, Policy, PolicyCommand, Table, Trigger,
};
pub use types::{
    CompositeAttribute, CompositeType, Domain, DomainCheck, EnumType, Extension, Function,
    FunctionKind, SchemaDef, Sequence, SequenceOptions, UnsupportedObject, View,
};

/// Everything introspected from one database (minus system schemas, extension members and
/// the tool's own tables). Maps are ordered so that iteration, serialization and rendering
/// are deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    /// Namespaces, `public` included, by name.
    pub schemas: BTreeMap<String, SchemaDef>,
    /// Installed extensions, by extension name (names are database-wide).
    pub extensions: BTreeMap<String, Extension>,
    pub enums: BTreeMap<QualifiedName, EnumType>,
    pub domains: BTreeMap<QualifiedName, Domain>,
    pub composites: BTreeMap<QualifiedName, CompositeType>,
    /// Free-standing sequences (serial ones too, with `owned_by`); identity sequences are
    /// described on their column instead.
    pub sequences: BTreeMap<QualifiedName, Sequence>,
    /// Ordinary, partitioned, partition and inheritance-child tables, with their columns,
    /// constraints, indexes and policies.
    pub tables: BTreeMap<QualifiedName, Table>,
    /// Views and materialized views.
    pub views: BTreeMap<QualifiedName, View>,
    /// Functions and procedures, by name plus identity arguments (overloads differ).
    pub functions: BTreeMap<FunctionKey, Function>,
    /// Triggers on tables and views (user triggers only; partition clones excluded).
    pub triggers: BTreeMap<TriggerKey, Trigger>,
    /// Objects of kinds the engine does not model, sorted by kind then name: a difference
    /// in them must be reported, never ignored.
    pub unsupported: Vec<UnsupportedObject>,
}

impl Schema {
    /// The table or view called `name`, whichever exists (for dependency lookups).
    pub fn relation_exists(&self, name: &QualifiedName) -> bool {
        self.tables.contains_key(name) || self.views.contains_key(name)
    }

    /// Triggers defined on `table` (or view), in name order.
    pub fn triggers_on<'a>(
        &'a self,
        table: &'a QualifiedName,
    ) -> impl Iterator<Item = &'a Trigger> {
        self.triggers
            .iter()
            .filter(move |(key, _)| &key.table == table)
            .map(|(_, trigger)| trigger)
    }

    /// The type called `name` if it is one the schema models (enum, domain or composite).
    pub fn has_type(&self, name: &QualifiedName) -> bool {
        self.enums.contains_key(name)
            || self.domains.contains_key(name)
            || self.composites.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_default_is_empty_and_equal() {
        assert_eq!(Schema::default(), Schema::default());
        assert!(Schema::default().tables.is_empty());
    }

    #[test]
    fn triggers_on_filters_by_table() {
        let mut schema = Schema::default();
        let users = QualifiedName::new("public", "users");
        let other = QualifiedName::new("public", "other");
        for (table, name) in [(&users, "a"), (&other, "b")] {
            let key = TriggerKey {
                table: table.clone(),
                name: name.to_owned(),
            };
            let trigger = Trigger {
                table: table.clone(),
                name: name.to_owned(),
                definition: String::new(),
                function: FunctionKey::new("public", "f", ""),
                enabled: "O".to_owned(),
                constraint: false,
                comment: None,
            };
            schema.triggers.insert(key, trigger);
        }
        let names: Vec<_> = schema
            .triggers_on(&users)
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(names, ["a"]);
    }
}
