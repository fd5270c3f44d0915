//! Tables and what hangs off them: columns, constraints, indexes, row-level security
//! policies, and triggers (kept in `Schema::triggers`, keyed by table).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::names::{FunctionKey, ObjectRef, QualifiedName};
use super::types::SequenceOptions;

/// A table: ordinary, partitioned (`partition_key`), a partition (`partition_of`) or an
/// inheritance child (`inherits`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub name: QualifiedName,
    /// In `attnum` order (dropped columns skipped).
    pub columns: Vec<Column>,
    /// By constraint name (NOT NULL is a column property, not listed here).
    pub constraints: BTreeMap<String, Constraint>,
    /// By index name, the indexes backing constraints included.
    pub indexes: BTreeMap<String, Index>,
    /// Row-level security policies, by policy name.
    pub policies: BTreeMap<String, Policy>,
    pub unlogged: bool,
    /// `pg_get_partkeydef`: `RANGE (created_at)` on a partitioned table.
    pub partition_key: Option<String>,
    pub partition_of: Option<PartitionOf>,
    /// Inheritance parents in `inhseqno` order (not the partition parent).
    pub inherits: Vec<QualifiedName>,
    pub rls_enabled: bool,
    pub rls_forced: bool,
    /// `reloptions` as the server stores them, e.g. `fillfactor=70`.
    pub options: Vec<String>,
    pub comment: Option<String>,
    /// Types, sequences and functions the columns, defaults and checks use, sorted.
    pub depends_on: Vec<ObjectRef>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn is_partitioned(&self) -> bool {
        self.partition_key.is_some()
    }

    /// The primary key constraint, if any.
    pub fn primary_key(&self) -> Option<&Constraint> {
        self.constraints
            .values()
            .find(|c| c.kind == ConstraintKind::PrimaryKey)
    }
}

/// A partition's parent and bound (`pg_get_expr(relpartbound)`: `FOR VALUES FROM (1) TO (10)`,
/// `DEFAULT`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionOf {
    pub parent: QualifiedName,
    pub bound: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// `format_type(atttypid, atttypmod)`: `character varying(40)`, `integer[]`,
    /// `timestamp(3) with time zone`, `public.mood` (schema-qualified unless on the path).
    pub data_type: String,
    pub not_null: bool,
    /// `pg_get_expr(adbin)`, e.g. `'x'::text`, `nextval('s'::regclass)`. None for generated.
    pub default: Option<String>,
    pub identity: Option<Identity>,
    /// Expression of a `GENERATED ALWAYS AS (...) STORED` column.
    pub generated: Option<String>,
    /// Collation when it differs from the type's default collation.
    pub collation: Option<QualifiedName>,
    /// Defined on this table itself (`attislocal`); false for a column only inherited.
    pub is_local: bool,
    /// Inherited from a parent or partition parent (`attinhcount > 0`).
    pub inherited: bool,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityGeneration {
    Always,
    ByDefault,
}

/// An identity column: how it generates values and its implicit sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub generation: IdentityGeneration,
    pub sequence: QualifiedName,
    pub options: SequenceOptions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintKind {
    PrimaryKey,
    Unique,
    ForeignKey,
    Check,
    Exclusion,
}

/// A table constraint. `definition` is `pg_get_constraintdef()` (what follows
/// `ADD CONSTRAINT name`); the other fields are parsed out of the catalog for the diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    pub name: String,
    pub kind: ConstraintKind,
    pub definition: String,
    /// Constrained columns in key order (empty for an expression-only check).
    pub columns: Vec<String>,
    pub foreign_key: Option<ForeignKey>,
    pub deferrable: bool,
    pub initially_deferred: bool,
    /// False for a constraint added `NOT VALID` and not validated since.
    pub validated: bool,
    /// CHECK ... NO INHERIT.
    pub no_inherit: bool,
    /// UNIQUE NULLS NOT DISTINCT (PostgreSQL 15+).
    pub nulls_not_distinct: bool,
    /// The index enforcing a primary key, unique or exclusion constraint.
    pub index: Option<String>,
    /// Declared on this table itself (`conislocal`).
    pub is_local: bool,
    /// Inherited from a parent table or cloned from a partitioned parent.
    pub inherited: bool,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FkAction {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FkMatch {
    Simple,
    Full,
    Partial,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    pub table: QualifiedName,
    pub columns: Vec<String>,
    pub on_update: FkAction,
    pub on_delete: FkAction,
    pub match_type: FkMatch,
}

/// An index. `definition` is `pg_get_indexdef()` (a complete `CREATE [UNIQUE] INDEX`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Indexes live in their table's schema.
    pub name: String,
    pub definition: String,
    pub unique: bool,
    pub primary: bool,
    /// Access method: btree, gin, gist, hash, brin, ...
    pub method: String,
    /// Key columns and expressions in order (INCLUDE columns are in `include`).
    pub keys: Vec<IndexKey>,
    pub include: Vec<String>,
    /// `pg_get_expr(indpred)` of a partial index.
    pub predicate: Option<String>,
    pub nulls_not_distinct: bool,
    /// The constraint this index backs (primary key, unique, exclusion), if any.
    pub constraint: Option<String>,
    /// The partitioned table's index this partition index is attached to.
    pub parent_index: Option<QualifiedName>,
    pub comment: Option<String>,
}

/// One key of an index: a column or an expression, with non-default opclass and ordering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexKey {
    /// `pg_get_indexdef(oid, n, true)`: a (quoted) column name or an expression.
    pub expression: String,
    /// True when the key is a plain column, false for an expression.
    pub is_column: bool,
    /// Operator class, only when not the type's default.
    pub opclass: Option<String>,
    pub descending: bool,
    pub nulls_first: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyCommand {
    All,
    Select,
    Insert,
    Update,
    Delete,
}

impl PolicyCommand {
    pub fn as_sql(self) -> &'static str {
        match self {
            Self::All => "ALL",
            Self::Select => "SELECT",
            Self::Insert => "INSERT",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
        }
    }
}

/// A row-level security policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub name: String,
    pub permissive: bool,
    pub command: PolicyCommand,
    /// Role names (`public` for PUBLIC), sorted.
    pub roles: Vec<String>,
    /// `pg_get_expr(polqual)`.
    pub using: Option<String>,
    /// `pg_get_expr(polwithcheck)`.
    pub with_check: Option<String>,
    pub comment: Option<String>,
}

/// A trigger. `definition` is `pg_get_triggerdef()` (a complete `CREATE TRIGGER`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    pub table: QualifiedName,
    pub name: String,
    pub definition: String,
    pub function: FunctionKey,
    /// `tgenabled`: `O` (origin, the default), `D` disabled, `R` replica, `A` always.
    pub enabled: String,
    /// A CONSTRAINT TRIGGER.
    pub constraint: bool,
    pub comment: Option<String>,
}
