//! Schema-level objects other than tables: schemas, extensions, enum / domain / composite
//! types, sequences, views, functions, and the objects of kinds not modelled.

use serde::{Deserialize, Serialize};

use super::names::{FunctionKey, ObjectRef, QualifiedName};

/// A namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaDef {
    pub name: String,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    pub name: String,
    /// The schema its objects live in.
    pub schema: String,
    pub version: String,
    pub comment: Option<String>,
}

/// `CREATE TYPE ... AS ENUM`, values in their sort order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumType {
    pub name: QualifiedName,
    pub values: Vec<String>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    pub name: QualifiedName,
    /// `format_type` of the base type.
    pub base_type: String,
    pub default: Option<String>,
    pub not_null: bool,
    pub collation: Option<QualifiedName>,
    /// By constraint name order.
    pub checks: Vec<DomainCheck>,
    pub comment: Option<String>,
    pub depends_on: Vec<ObjectRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainCheck {
    pub name: String,
    /// `pg_get_constraintdef`: `CHECK (VALUE > 0)`, with ` NOT VALID` when not validated.
    pub definition: String,
    pub validated: bool,
    pub comment: Option<String>,
}

/// `CREATE TYPE ... AS (...)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompositeType {
    pub name: QualifiedName,
    pub attributes: Vec<CompositeAttribute>,
    pub comment: Option<String>,
    pub depends_on: Vec<ObjectRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompositeAttribute {
    pub name: String,
    pub data_type: String,
    pub collation: Option<QualifiedName>,
    pub comment: Option<String>,
}

/// Sequence parameters (`pg_sequence`), shared by sequences and identity columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceOptions {
    /// `smallint`, `integer` or `bigint`.
    pub data_type: String,
    pub start: i64,
    pub increment: i64,
    pub min_value: i64,
    pub max_value: i64,
    pub cache: i64,
    pub cycle: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sequence {
    pub name: QualifiedName,
    pub options: SequenceOptions,
    /// `OWNED BY table.column` (serial columns): the table and the column name.
    pub owned_by: Option<(QualifiedName, String)>,
    pub unlogged: bool,
    pub comment: Option<String>,
}

/// A view or materialized view. `definition` is `pg_get_viewdef(oid, true)`: the query,
/// ending in `;` as the server renders it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    pub name: QualifiedName,
    pub materialized: bool,
    pub definition: String,
    /// `reloptions`: `security_barrier=true`, `check_option=local`, storage options.
    pub options: Vec<String>,
    /// Indexes of a materialized view, by name.
    pub indexes: std::collections::BTreeMap<String, super::table::Index>,
    /// Column comments, by column name.
    pub column_comments: std::collections::BTreeMap<String, String>,
    pub comment: Option<String>,
    /// Tables, views, functions and types the query reads, sorted.
    pub depends_on: Vec<ObjectRef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunctionKind {
    Function,
    Procedure,
    Window,
}

/// A function or procedure. `definition` is `pg_get_functiondef()`: a complete
/// `CREATE OR REPLACE FUNCTION|PROCEDURE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    pub key: FunctionKey,
    pub kind: FunctionKind,
    pub definition: String,
    /// `pg_get_function_arguments`: full argument list with defaults and modes.
    pub arguments: String,
    /// `pg_get_function_result`; None for procedures.
    pub return_type: Option<String>,
    pub language: String,
    pub comment: Option<String>,
    /// Types, tables (row types), functions it references per `pg_depend`, sorted.
    pub depends_on: Vec<ObjectRef>,
}

/// An object of a kind the engine does not model (rule, event trigger, cast, operator,
/// foreign table, publication, aggregate, statistics object, collation, range type, ...).
/// `detail` is what the server says about it (a definition where one can be rendered), so
/// a change is detected, not only an addition or removal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UnsupportedObject {
    /// `rule`, `event trigger`, `cast`, `operator`, `foreign table`, `aggregate`, ...
    pub kind: String,
    /// Qualified where the kind has a schema; for rules `rule ON table`.
    pub name: String,
    pub detail: String,
    /// A statement that recreates it, where the catalog renders one completely (collations,
    /// rules, statistics, plain aggregates, operators); `dump_ddl` emits these.
    pub ddl: Option<String>,
}
