//! What a statement creates, alters and references, read from its parse tree.
//!
//! Creations are read per statement kind. References are found by walking the whole tree
//! generically (its serde form): every relation (`RangeVar`), type name (`TypeName`), function
//! call or name (`funcname`), sequence named in `nextval('...')` or `'...'::regclass`, and the
//! schema of every qualified name. Unqualified names are taken to be in `public` (the default
//! search path). Names nothing in the models creates are built-ins or come from extensions:
//! they add no ordering constraint.

use std::collections::BTreeSet;
use std::fmt;

use pg_query::NodeEnum;
use pg_query::protobuf::{Node, ObjectType, RangeVar};
use serde_json::Value;

/// The namespaces objects live in (tables, views, sequences and indexes share `Relation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKind {
    Schema,
    Extension,
    Type,
    Relation,
    Function,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Schema => "schema",
            Self::Extension => "extension",
            Self::Type => "type",
            Self::Relation => "relation",
            Self::Function => "function",
        }
    }
}

/// A named object: `schema` is empty for schemas and extensions (whose name is `name`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectName {
    pub kind: ObjectKind,
    pub schema: String,
    pub name: String,
}

impl ObjectName {
    pub fn new(kind: ObjectKind, schema: &str, name: &str) -> Self {
        Self {
            kind,
            schema: schema.to_owned(),
            name: name.to_owned(),
        }
    }

    fn global(kind: ObjectKind, name: &str) -> Self {
        Self::new(kind, "", name)
    }

    /// One line of text (`kind<US>schema<US>name`) for bookkeeping tables.
    pub fn encode(&self) -> String {
        format!(
            "{}\u{1f}{}\u{1f}{}",
            self.kind.as_str(),
            self.schema,
            self.name
        )
    }

    /// The inverse of `encode`.
    pub fn decode(text: &str) -> Option<Self> {
        let mut parts = text.split('\u{1f}');
        let kind = match parts.next()? {
            "schema" => ObjectKind::Schema,
            "extension" => ObjectKind::Extension,
            "type" => ObjectKind::Type,
            "relation" => ObjectKind::Relation,
            "function" => ObjectKind::Function,
            _ => return None,
        };
        Some(Self::new(kind, parts.next()?, parts.next()?))
    }
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.schema.is_empty() {
            write!(f, "{} {}", self.kind.as_str(), self.name)
        } else {
            write!(f, "{} {}.{}", self.kind.as_str(), self.schema, self.name)
        }
    }
}

/// The objects one statement touches.
#[derive(Debug, Default)]
pub(super) struct Analysis {
    pub creates: Vec<ObjectName>,
    pub alters: Vec<ObjectName>,
    pub references: Vec<ObjectName>,
    /// The part of `references` that a `CREATE TABLE` needs only for its foreign keys.
    pub foreign_keys: Vec<ObjectName>,
}

/// Reads what a statement creates, alters and references.
pub(super) fn analyze(node: &NodeEnum) -> Analysis {
    let (creates, alters) = targets(node);
    let mut refs = BTreeSet::new();
    let mut fks = BTreeSet::new();
    match node {
        NodeEnum::CreateStmt(s) => table_references(s, &mut refs, &mut fks),
        NodeEnum::IndexStmt(s) => index_references(s, &mut refs),
        other => walk_node(other, &mut refs),
    }
    refs.extend(function_body_references(node));
    refs.extend(extension_schema(node));
    refs.extend(alters.iter().cloned());
    let foreign_keys = fks
        .iter()
        .filter(|f| !refs.contains(*f) && !creates.contains(*f))
        .cloned()
        .collect();
    refs.extend(fks);
    let schemas: Vec<ObjectName> = creates.iter().chain(&refs).filter_map(schema_of).collect();
    refs.extend(schemas);
    for created in &creates {
        refs.remove(created);
    }
    Analysis {
        creates,
        alters,
        references: refs.into_iter().collect(),
        foreign_keys,
    }
}

fn schema_of(object: &ObjectName) -> Option<ObjectName> {
    let builtin = matches!(object.schema.as_str(), "" | "public" | "pg_catalog");
    (!builtin).then(|| ObjectName::global(ObjectKind::Schema, &object.schema))
}

/// (creates, alters) by statement kind.
fn targets(node: &NodeEnum) -> (Vec<ObjectName>, Vec<ObjectName>) {
    use ObjectKind::{Extension, Function, Relation, Schema, Type};
    let rel = |rv: Option<&RangeVar>, kinds: &[ObjectKind]| -> Vec<ObjectName> {
        rv.map(|rv| kinds.iter().map(|k| relation(*k, rv)).collect())
            .unwrap_or_default()
    };
    let listed =
        |kind, names: &[Node]| qualified(names).map(|(s, n)| ObjectName::new(kind, &s, &n));
    match node {
        NodeEnum::CreateSchemaStmt(s) => (vec![ObjectName::global(Schema, &s.schemaname)], vec![]),
        NodeEnum::CreateExtensionStmt(s) => {
            (vec![ObjectName::global(Extension, &s.extname)], vec![])
        }
        NodeEnum::CreateStmt(s) => {
            let mut created = rel(s.relation.as_ref(), &[Relation, Type]);
            created.extend(owned_sequences(s));
            (created, vec![])
        }
        NodeEnum::CreateTableAsStmt(s) => {
            let rv = s.into.as_ref().and_then(|i| i.rel.as_ref());
            (rel(rv, &[Relation, Type]), vec![])
        }
        NodeEnum::ViewStmt(s) => (rel(s.view.as_ref(), &[Relation, Type]), vec![]),
        NodeEnum::CreateSeqStmt(s) => (rel(s.sequence.as_ref(), &[Relation]), vec![]),
        NodeEnum::CompositeTypeStmt(s) => (rel(s.typevar.as_ref(), &[Type, Relation]), vec![]),
        NodeEnum::IndexStmt(s) if !s.idxname.is_empty() => {
            let schema = s.relation.as_ref().map_or("public", |r| schema_name(r));
            (vec![ObjectName::new(Relation, schema, &s.idxname)], vec![])
        }
        NodeEnum::IndexStmt(s) => (vec![], rel(s.relation.as_ref(), &[Relation])),
        NodeEnum::CreateEnumStmt(s) => (listed(Type, &s.type_name).into_iter().collect(), vec![]),
        NodeEnum::CreateRangeStmt(s) => (listed(Type, &s.type_name).into_iter().collect(), vec![]),
        NodeEnum::CreateDomainStmt(s) => {
            (listed(Type, &s.domainname).into_iter().collect(), vec![])
        }
        NodeEnum::DefineStmt(s) if s.kind == ObjectType::ObjectType as i32 => {
            (listed(Type, &s.defnames).into_iter().collect(), vec![])
        }
        NodeEnum::DefineStmt(s) if s.kind == ObjectType::ObjectAggregate as i32 => {
            (listed(Function, &s.defnames).into_iter().collect(), vec![])
        }
        NodeEnum::CreateFunctionStmt(s) => {
            (listed(Function, &s.funcname).into_iter().collect(), vec![])
        }
        NodeEnum::CreateTrigStmt(s) => (vec![], rel(s.relation.as_ref(), &[Relation])),
        NodeEnum::CreatePolicyStmt(s) => (vec![], rel(s.table.as_ref(), &[Relation])),
        NodeEnum::AlterTableStmt(s) => (vec![], rel(s.relation.as_ref(), &[Relation])),
        NodeEnum::RuleStmt(s) => (vec![], rel(s.relation.as_ref(), &[Relation])),
        NodeEnum::AlterSeqStmt(s) => (vec![], rel(s.sequence.as_ref(), &[Relation])),
        NodeEnum::AlterEnumStmt(s) => (vec![], listed(Type, &s.type_name).into_iter().collect()),
        NodeEnum::AlterDomainStmt(s) => (vec![], listed(Type, &s.type_name).into_iter().collect()),
        NodeEnum::CommentStmt(s) => (vec![], commented(s.objtype, s.object.as_deref())),
        _ => (vec![], vec![]),
    }
}

/// The object a `COMMENT ON` names, when it is one whose undo is known.
fn commented(objtype: i32, object: Option<&Node>) -> Vec<ObjectName> {
    let Some(node) = object.and_then(|o| o.node.as_ref()) else {
        return vec![];
    };
    let kind = ObjectType::try_from(objtype).unwrap_or(ObjectType::Undefined);
    let list_names = |drop_last: bool| match node {
        NodeEnum::List(l) => {
            let items = &l.items[..l.items.len().saturating_sub(usize::from(drop_last))];
            qualified(items)
        }
        _ => None,
    };
    let found = match kind {
        ObjectType::ObjectTable
        | ObjectType::ObjectView
        | ObjectType::ObjectMatview
        | ObjectType::ObjectSequence
        | ObjectType::ObjectIndex => {
            list_names(false).map(|(s, n)| ObjectName::new(ObjectKind::Relation, &s, &n))
        }
        // `COMMENT ON COLUMN t.c`, `ON CONSTRAINT k ON t`, `ON TRIGGER g ON t` and the like:
        // the list ends with the object's own name after its table.
        ObjectType::ObjectColumn
        | ObjectType::ObjectTabconstraint
        | ObjectType::ObjectTrigger
        | ObjectType::ObjectPolicy
        | ObjectType::ObjectRule => {
            list_names(true).map(|(s, n)| ObjectName::new(ObjectKind::Relation, &s, &n))
        }
        ObjectType::ObjectType | ObjectType::ObjectDomain => match node {
            NodeEnum::TypeName(t) => {
                qualified(&t.names).map(|(s, n)| ObjectName::new(ObjectKind::Type, &s, &n))
            }
            _ => None,
        },
        ObjectType::ObjectFunction | ObjectType::ObjectProcedure => match node {
            NodeEnum::ObjectWithArgs(o) => {
                qualified(&o.objname).map(|(s, n)| ObjectName::new(ObjectKind::Function, &s, &n))
            }
            _ => None,
        },
        ObjectType::ObjectSchema => match node {
            NodeEnum::String(s) => Some(ObjectName::global(ObjectKind::Schema, &s.sval)),
            _ => None,
        },
        _ => None,
    };
    found.into_iter().collect()
}

/// Sequences that `serial` and identity columns create (`<table>_<column>_seq`).
fn owned_sequences(s: &pg_query::protobuf::CreateStmt) -> Vec<ObjectName> {
    let Some(rv) = s.relation.as_ref() else {
        return vec![];
    };
    s.table_elts
        .iter()
        .filter_map(|e| match e.node.as_ref() {
            Some(NodeEnum::ColumnDef(c)) if owns_sequence(c) => Some(ObjectName::new(
                ObjectKind::Relation,
                schema_name(rv),
                &format!("{}_{}_seq", rv.relname, c.colname),
            )),
            _ => None,
        })
        .collect()
}

fn owns_sequence(c: &pg_query::protobuf::ColumnDef) -> bool {
    let serial = c
        .type_name
        .as_ref()
        .and_then(|t| qualified(&t.names))
        .is_some_and(|(_, n)| {
            matches!(
                n.as_str(),
                "serial" | "bigserial" | "smallserial" | "serial4" | "serial8" | "serial2"
            )
        });
    let identity = c.constraints.iter().any(|k| {
        matches!(&k.node, Some(NodeEnum::Constraint(k)) if k.contype == pg_query::protobuf::ConstrType::ConstrIdentity as i32)
    });
    serial || identity
}

fn relation(kind: ObjectKind, rv: &RangeVar) -> ObjectName {
    ObjectName::new(kind, schema_name(rv), &rv.relname)
}

fn schema_name(rv: &RangeVar) -> &str {
    if rv.schemaname.is_empty() {
        "public"
    } else {
        &rv.schemaname
    }
}

/// `[name]`, `[schema, name]` or `[db, schema, name]` as (schema, name).
pub(super) fn qualified(names: &[Node]) -> Option<(String, String)> {
    let parts: Vec<&str> = names
        .iter()
        .filter_map(|n| match &n.node {
            Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
            _ => None,
        })
        .collect();
    split_parts(&parts)
}

fn split_parts(parts: &[&str]) -> Option<(String, String)> {
    match parts {
        [name] => Some(("public".to_owned(), (*name).to_owned())),
        [.., schema, name] => Some(((*schema).to_owned(), (*name).to_owned())),
        [] => None,
    }
}

/// The generic walk over any node (through its serde form).
fn walk_node<T: serde::Serialize + ?Sized>(node: &T, out: &mut BTreeSet<ObjectName>) {
    walk(&serde_json::to_value(node).unwrap_or(Value::Null), out);
}

/// A `CREATE TABLE`'s references, read from its typed fields: the bulk of most models, where
/// the generic walk cost most of the load time. Expressions (defaults, checks) and rare
/// clauses still go through the generic walk. The tables its foreign keys point at go to
/// `fks`.
fn table_references(
    s: &pg_query::protobuf::CreateStmt,
    out: &mut BTreeSet<ObjectName>,
    fks: &mut BTreeSet<ObjectName>,
) {
    if let Some(rv) = &s.relation {
        out.insert(relation(ObjectKind::Relation, rv));
    }
    for parent in &s.inh_relations {
        if let Some(NodeEnum::RangeVar(rv)) = &parent.node {
            out.insert(relation(ObjectKind::Relation, rv));
        }
    }
    if let Some(t) = &s.of_typename {
        type_reference(t, out);
    }
    if s.partbound.is_some() || s.partspec.is_some() {
        walk_node(&s.partbound, out);
        walk_node(&s.partspec, out);
    }
    for element in s.table_elts.iter().chain(&s.constraints) {
        match &element.node {
            Some(NodeEnum::ColumnDef(c)) => {
                if let Some(t) = &c.type_name {
                    type_reference(t, out);
                }
                for k in &c.constraints {
                    if let Some(NodeEnum::Constraint(k)) = &k.node {
                        constraint_references(k, out, fks);
                    }
                }
            }
            Some(NodeEnum::Constraint(k)) => constraint_references(k, out, fks),
            Some(other) => walk_node(other, out),
            None => {}
        }
    }
}

fn constraint_references(
    c: &pg_query::protobuf::Constraint,
    out: &mut BTreeSet<ObjectName>,
    fks: &mut BTreeSet<ObjectName>,
) {
    if let Some(rv) = &c.pktable {
        fks.insert(relation(ObjectKind::Relation, rv));
    }
    if let Some(expr) = &c.raw_expr
        && !matches!(expr.node, Some(NodeEnum::AConst(_)))
    {
        walk_node(expr.as_ref(), out);
    }
    if c.where_clause.is_some() || !c.exclusions.is_empty() {
        walk_node(&c.where_clause, out);
        walk_node(&c.exclusions, out);
    }
}

fn index_references(s: &pg_query::protobuf::IndexStmt, out: &mut BTreeSet<ObjectName>) {
    if let Some(rv) = &s.relation {
        out.insert(relation(ObjectKind::Relation, rv));
    }
    for param in &s.index_params {
        if let Some(NodeEnum::IndexElem(e)) = &param.node
            && e.expr.is_some()
        {
            walk_node(&e.expr, out);
        }
    }
    if s.where_clause.is_some() {
        walk_node(&s.where_clause, out);
    }
}

fn type_reference(t: &pg_query::protobuf::TypeName, out: &mut BTreeSet<ObjectName>) {
    if let Some((schema, name)) = qualified(&t.names)
        && schema != "pg_catalog"
    {
        out.insert(ObjectName::new(ObjectKind::Type, &schema, &name));
    }
}

/// Walks a tree in its serde form, collecting every reference by the shape of its node.
fn walk(value: &Value, out: &mut BTreeSet<ObjectName>) {
    match value {
        Value::Object(map) => {
            if let (Some(Value::String(name)), Some(Value::String(schema))) =
                (map.get("relname"), map.get("schemaname"))
            {
                let schema = if schema.is_empty() { "public" } else { schema };
                out.insert(ObjectName::new(ObjectKind::Relation, schema, name));
            }
            if map.contains_key("typemod")
                && let Some((s, n)) = map.get("names").and_then(json_names)
                && s != "pg_catalog"
            {
                out.insert(ObjectName::new(ObjectKind::Type, &s, &n));
            }
            for key in ["funcname", "objname"] {
                if let Some((s, n)) = map.get(key).and_then(json_names)
                    && s != "pg_catalog"
                {
                    out.insert(ObjectName::new(ObjectKind::Function, &s, &n));
                }
            }
            if let Some(seq) = sequence_literal(map) {
                out.insert(seq);
            }
            map.values().for_each(|v| walk(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
        _ => {}
    }
}

/// `[{"node": {"String": {"sval": ..}}}, ..]` as (schema, name).
fn json_names(value: &Value) -> Option<(String, String)> {
    let parts: Vec<&str> = value
        .as_array()?
        .iter()
        .filter_map(|n| n.pointer("/node/String/sval").and_then(Value::as_str))
        .collect();
    split_parts(&parts)
}

/// The sequence in `nextval('s')` / `currval('s')` / `setval('s', ..)` or `'s'::regclass`.
fn sequence_literal(map: &serde_json::Map<String, Value>) -> Option<ObjectName> {
    let literal = if let Some(names) = map.get("funcname") {
        let (_, name) = json_names(names)?;
        if !matches!(name.as_str(), "nextval" | "currval" | "setval") {
            return None;
        }
        let first = map.get("args")?.as_array()?.first()?;
        first
            .pointer("/node/AConst/val/Sval/sval")
            .or_else(|| first.pointer("/node/TypeCast/arg/node/AConst/val/Sval/sval"))?
    } else {
        let (_, ty) = map
            .get("type_name")
            .and_then(|t| t.get("names"))
            .and_then(json_names)?;
        if ty != "regclass" {
            return None;
        }
        map.get("arg")?.pointer("/node/AConst/val/Sval/sval")?
    };
    let (schema, name) = parse_regclass(literal.as_str()?)?;
    Some(ObjectName::new(ObjectKind::Relation, &schema, &name))
}

/// A regclass literal (`Foo`, `"Foo".bar`) as PostgreSQL reads it: unquoted parts lowercased.
fn parse_regclass(text: &str) -> Option<(String, String)> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut current)),
            c if quoted => current.push(c),
            c => current.extend(c.to_lowercase()),
        }
    }
    parts.push(current);
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    split_parts(&parts)
}

/// Tables a `LANGUAGE sql` function body with a string body uses: PostgreSQL checks such a
/// body when the function is created, so they must exist first.
fn function_body_references(node: &NodeEnum) -> BTreeSet<ObjectName> {
    let mut out = BTreeSet::new();
    let NodeEnum::CreateFunctionStmt(f) = node else {
        return out;
    };
    let option = |name: &str| {
        f.options.iter().find_map(|o| match &o.node {
            Some(NodeEnum::DefElem(d)) if d.defname == name => {
                d.arg.as_deref().and_then(|a| a.node.as_ref())
            }
            _ => None,
        })
    };
    let is_sql = matches!(option("language"), Some(NodeEnum::String(s)) if s.sval.eq_ignore_ascii_case("sql"));
    let body = match option("as") {
        Some(NodeEnum::List(l)) => l.items.first().and_then(|i| match &i.node {
            Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
            _ => None,
        }),
        _ => None,
    };
    if let (true, Some(body)) = (is_sql, body)
        && let Ok(parsed) = pg_query::parse(body, 0)
    {
        walk(
            &serde_json::to_value(&parsed.protobuf).unwrap_or(Value::Null),
            &mut out,
        );
    }
    out
}

/// `CREATE EXTENSION .. SCHEMA s` needs schema `s`.
fn extension_schema(node: &NodeEnum) -> Option<ObjectName> {
    let NodeEnum::CreateExtensionStmt(e) = node else {
        return None;
    };
    e.options.iter().find_map(|o| match &o.node {
        Some(NodeEnum::DefElem(d)) if d.defname == "schema" => {
            match d.arg.as_deref().and_then(|a| a.node.as_ref()) {
                Some(NodeEnum::String(s)) => Some(ObjectName::global(ObjectKind::Schema, &s.sval)),
                _ => None,
            }
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis(sql: &str) -> Analysis {
        let parsed = pg_query::parse(sql, 0).unwrap();
        let node = parsed.protobuf.stmts[0]
            .stmt
            .as_ref()
            .unwrap()
            .node
            .clone()
            .unwrap();
        analyze(&node)
    }

    fn names(objects: &[ObjectName]) -> Vec<String> {
        objects.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn analyze_table_creates_relation_type_and_serial_sequence() {
        let a = analysis(
            "CREATE TABLE app.posts (id serial, author int REFERENCES users (id), \
             state app.state DEFAULT 'x', n int DEFAULT nextval('\"Counter\"'), t text DEFAULT f())",
        );
        assert_eq!(
            names(&a.creates),
            [
                "relation app.posts",
                "type app.posts",
                "relation app.posts_id_seq"
            ]
        );
        assert_eq!(
            names(&a.references),
            [
                "schema app",
                "type app.state",
                "type public.serial",
                "type public.text",
                "relation public.Counter",
                "relation public.users",
                "function public.f",
                "function public.nextval"
            ]
        );
        assert_eq!(names(&a.foreign_keys), ["relation public.users"]);
    }

    #[test]
    fn analyze_comment_on_a_tables_constraint_or_trigger_alters_the_table() {
        for sql in [
            "COMMENT ON CONSTRAINT k ON app.posts IS 'x'",
            "COMMENT ON TRIGGER g ON app.posts IS 'x'",
            "COMMENT ON POLICY p ON app.posts IS 'x'",
            "COMMENT ON COLUMN app.posts.title IS 'x'",
        ] {
            assert_eq!(
                names(&analysis(sql).alters),
                ["relation app.posts"],
                "{sql}"
            );
        }
    }

    #[test]
    fn analyze_foreign_key_target_read_otherwise_is_not_foreign_key_only() {
        let a = analysis(
            "CREATE TABLE b (a_id int REFERENCES a, self_id int REFERENCES b,              n int DEFAULT nextval('s'), FOREIGN KEY (n) REFERENCES s (x))",
        );
        // `s` is also used by a default, `b` is the table itself.
        assert_eq!(names(&a.foreign_keys), ["relation public.a"]);
    }

    #[test]
    fn analyze_view_references_tables_and_functions() {
        let a = analysis(
            "CREATE VIEW v AS SELECT lower(name) FROM users u JOIN app.teams t ON t.id = u.team",
        );
        assert_eq!(names(&a.creates), ["relation public.v", "type public.v"]);
        assert!(names(&a.references).contains(&"relation app.teams".to_owned()));
        assert!(names(&a.references).contains(&"relation public.users".to_owned()));
    }

    #[test]
    fn analyze_alter_and_comment_alter_their_target() {
        let a = analysis("ALTER TABLE a ADD CONSTRAINT f FOREIGN KEY (b) REFERENCES b (id)");
        assert_eq!(names(&a.alters), ["relation public.a"]);
        assert!(names(&a.references).contains(&"relation public.b".to_owned()));
        let c = analysis("COMMENT ON COLUMN app.t.c IS 'x'");
        assert_eq!(names(&c.alters), ["relation app.t"]);
    }

    #[test]
    fn analyze_sql_function_body_references_its_tables() {
        let a = analysis(
            "CREATE FUNCTION n() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM users $$",
        );
        assert_eq!(names(&a.creates), ["function public.n"]);
        assert!(names(&a.references).contains(&"relation public.users".to_owned()));
    }

    #[test]
    fn parse_regclass_follows_identifier_rules() {
        assert_eq!(parse_regclass("Foo"), Some(("public".into(), "foo".into())));
        assert_eq!(
            parse_regclass("\"A\"\"b\".c"),
            Some(("A\"b".into(), "c".into()))
        );
    }
}
