//! Dependency order of the model statements: a statement comes after every statement that
//! creates something it references, whatever the file order. Ties keep the (file name,
//! position) order, so the result is stable. A cycle of foreign keys between `CREATE TABLE`s is
//! broken by moving those foreign keys into `ALTER TABLE .. ADD CONSTRAINT` after the tables;
//! any other cycle is an error that names its statements.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use pg_query::NodeEnum;
use pg_query::protobuf::{
    AlterTableCmd, AlterTableStmt, AlterTableType, ConstrType, Constraint, CreateStmt,
    DropBehavior, Node, ObjectType, RangeVar,
};

use super::objects::{self, ObjectKind, ObjectName};
use super::split::{self, Parsed};
use super::{Cycle, ModelError, Statement};

/// Orders the statements (given in file-name and position order).
pub(super) fn order(mut parsed: Vec<Parsed>) -> Result<Vec<Statement>, ModelError> {
    loop {
        let deps = dependencies(&parsed);
        match topological(&deps) {
            Ok(order) => {
                return Ok(order
                    .into_iter()
                    .map(|i| parsed[i].statement.clone())
                    .collect());
            }
            Err(cycle) => {
                if !split_foreign_keys(&mut parsed, &cycle) {
                    return Err(ModelError::Cycle(describe(&parsed, &cycle)));
                }
            }
        }
    }
}

/// For each statement, the statements it must come after.
fn dependencies(parsed: &[Parsed]) -> Vec<BTreeSet<usize>> {
    let mut creators: BTreeMap<&ObjectName, usize> = BTreeMap::new();
    for (i, p) in parsed.iter().enumerate() {
        for object in &p.statement.creates {
            creators.entry(object).or_insert(i);
        }
    }
    let extensions: Vec<usize> = (0..parsed.len())
        .filter(|&i| creates_kind(&parsed[i], ObjectKind::Extension))
        .collect();
    parsed
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut deps: BTreeSet<usize> = p
                .statement
                .references
                .iter()
                .filter_map(|r| creators.get(r).copied())
                .filter(|&c| c != i)
                .collect();
            // Objects from extensions are not named in the models: load extensions first.
            if !creates_kind(p, ObjectKind::Extension) && !creates_kind(p, ObjectKind::Schema) {
                deps.extend(extensions.iter().copied());
            }
            deps
        })
        .collect()
}

fn creates_kind(p: &Parsed, kind: ObjectKind) -> bool {
    p.statement.creates.iter().any(|o| o.kind == kind)
}

/// Kahn's algorithm, smallest index first; on a cycle, the statements of one cycle.
fn topological(deps: &[BTreeSet<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let mut dependents = vec![Vec::new(); deps.len()];
    let mut waiting: Vec<usize> = deps.iter().map(BTreeSet::len).collect();
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(i);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..deps.len())
        .filter(|&i| waiting[i] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(deps.len());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &d in &dependents[i] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                ready.push(Reverse(d));
            }
        }
    }
    if order.len() == deps.len() {
        return Ok(order);
    }
    Err(find_cycle(deps, &waiting))
}

/// Every statement left waiting waits on another one left waiting: walking those edges from
/// the first one must come back to a statement already seen.
fn find_cycle(deps: &[BTreeSet<usize>], waiting: &[usize]) -> Vec<usize> {
    let left = |i: usize| waiting[i] > 0;
    let start = (0..deps.len()).find(|&i| left(i)).unwrap_or(0);
    let mut path = vec![start];
    loop {
        let last = path[path.len() - 1];
        let Some(next) = deps[last].iter().copied().find(|&d| left(d)) else {
            return path;
        };
        if let Some(pos) = path.iter().position(|&p| p == next) {
            let mut cycle = path.split_off(pos);
            cycle.reverse();
            return cycle;
        }
        path.push(next);
    }
}

fn describe(parsed: &[Parsed], cycle: &[usize]) -> Cycle {
    let mut steps: Vec<String> = cycle
        .iter()
        .map(|&i| {
            let s = &parsed[i].statement;
            match s.creates.first() {
                Some(object) => format!("{} ({})", object, s.location()),
                None => s.location(),
            }
        })
        .collect();
    if let Some(first) = steps.first().cloned() {
        steps.push(first);
    }
    Cycle(steps)
}

/// Moves the foreign keys between the tables of the cycle out of their `CREATE TABLE`s.
/// Returns false when the cycle is not made of such foreign keys.
fn split_foreign_keys(parsed: &mut Vec<Parsed>, cycle: &[usize]) -> bool {
    let in_cycle: BTreeSet<ObjectName> = cycle
        .iter()
        .flat_map(|&i| parsed[i].statement.creates.iter().cloned())
        .collect();
    if !cycle
        .iter()
        .all(|&i| matches!(parsed[i].node, NodeEnum::CreateStmt(_)))
    {
        return false;
    }
    let mut added = Vec::new();
    for &i in cycle {
        let NodeEnum::CreateStmt(table) = &mut parsed[i].node else {
            return false;
        };
        let moved = take_foreign_keys(table, &in_cycle);
        let Some(relation) = table.relation.clone() else {
            return false;
        };
        let version = parsed[i].version;
        let origin = parsed[i].statement.clone();
        let node = parsed[i].node.clone();
        parsed[i] = rebuilt(&origin, node, parsed[i].offset, version);
        for constraint in moved {
            let alter = add_constraint(&relation, constraint);
            added.push(rebuilt(&origin, alter, parsed[i].offset, version));
        }
    }
    if added.is_empty() {
        return false;
    }
    parsed.extend(added);
    true
}

/// Removes (and returns, as table constraints) the foreign keys to tables of the cycle.
fn take_foreign_keys(table: &mut CreateStmt, targets: &BTreeSet<ObjectName>) -> Vec<Constraint> {
    let points_into = |c: &Constraint| {
        c.contype == ConstrType::ConstrForeign as i32
            && c.pktable.as_ref().is_some_and(|rv| {
                let schema = if rv.schemaname.is_empty() {
                    "public"
                } else {
                    &rv.schemaname
                };
                targets.contains(&ObjectName::new(ObjectKind::Relation, schema, &rv.relname))
            })
    };
    let mut moved = Vec::new();
    let mut kept = Vec::new();
    for element in std::mem::take(&mut table.table_elts) {
        match element.node {
            Some(NodeEnum::Constraint(c)) if points_into(&c) => moved.push(*c),
            Some(NodeEnum::ColumnDef(mut column)) => {
                let (fks, rest): (Vec<Node>, Vec<Node>) = std::mem::take(&mut column.constraints)
                    .into_iter()
                    .partition(
                        |k| matches!(&k.node, Some(NodeEnum::Constraint(c)) if points_into(c)),
                    );
                column.constraints = rest;
                for fk in fks {
                    if let Some(NodeEnum::Constraint(mut c)) = fk.node {
                        c.fk_attrs = vec![string_node(&column.colname)];
                        moved.push(*c);
                    }
                }
                kept.push(Node {
                    node: Some(NodeEnum::ColumnDef(column)),
                });
            }
            other => kept.push(Node { node: other }),
        }
    }
    table.table_elts = kept;
    moved
}

fn string_node(s: &str) -> Node {
    Node {
        node: Some(NodeEnum::String(pg_query::protobuf::String {
            sval: s.to_owned(),
        })),
    }
}

fn add_constraint(relation: &RangeVar, constraint: Constraint) -> NodeEnum {
    let cmd = AlterTableCmd {
        subtype: AlterTableType::AtAddConstraint as i32,
        def: Some(Box::new(Node {
            node: Some(NodeEnum::Constraint(Box::new(constraint))),
        })),
        behavior: DropBehavior::DropRestrict as i32,
        ..AlterTableCmd::default()
    };
    NodeEnum::AlterTableStmt(AlterTableStmt {
        relation: Some(relation.clone()),
        cmds: vec![Node {
            node: Some(NodeEnum::AlterTableCmd(Box::new(cmd))),
        }],
        objtype: ObjectType::ObjectTable as i32,
        missing_ok: false,
    })
}

/// A statement rebuilt from a rewritten tree, keeping where it came from.
fn rebuilt(origin: &Statement, node: NodeEnum, offset: usize, version: i32) -> Parsed {
    let sql = split::deparse(&node, version).unwrap_or_else(|| origin.sql.clone());
    let analysis = objects::analyze(&node);
    Parsed {
        statement: Statement {
            file: origin.file.clone(),
            line: origin.line,
            column: origin.column,
            fingerprint: split::fingerprint(&sql),
            sql,
            creates: analysis.creates,
            alters: analysis.alters,
            references: analysis.references,
            foreign_keys: analysis.foreign_keys,
        },
        node,
        offset,
        version,
    }
}
