//! Dependency ordering of planned changes. Every change belongs to a phase (schemas and
//! types before tables, drops of dependents before what they depend on, foreign keys after
//! every table, views after their tables); inside a phase, changes are sorted topologically
//! by the keys they declare they must follow. Pure: no knowledge of SQL text.

use std::collections::{BTreeMap, BTreeSet};

use crate::core::diff::Step;

/// When a change runs, in the up direction. Down scripts run the inverse of every step in
/// reverse order, so one order serves both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    CreateSchema,
    CreateExtension,
    DropTrigger,
    DropPolicy,
    DropView,
    /// Functions whose bodies read tables (SQL `BEGIN ATOMIC`): dropped before the tables.
    DropLateFunction,
    DropForeignKey,
    DropConstraint,
    DropIndex,
    CreateType,
    CreateSequence,
    CreateFunction,
    /// Types that use functions (a domain CHECK calling one): after the functions.
    CreateLateType,
    RenameTable,
    CreateTable,
    AlterTable,
    RecreateType,
    DropTable,
    DropSequence,
    /// Types that use functions: dropped before the functions.
    DropLateType,
    DropFunction,
    DropType,
    AddConstraint,
    CreateIndex,
    AddForeignKey,
    /// Functions whose bodies read tables: created once the tables exist.
    CreateLateFunction,
    CreateView,
    CreateTrigger,
    CreatePolicy,
    Comment,
    DropExtension,
    DropSchema,
}

/// One step of the plan with its place in the order.
#[derive(Debug, Clone)]
pub struct Change {
    pub phase: Phase,
    /// Identity of the object the change is about, for `after` references.
    pub key: String,
    /// Keys of changes in the same phase that must run before this one.
    pub after: Vec<String>,
    pub step: Step,
}

impl Change {
    pub fn new(phase: Phase, key: impl Into<String>, step: Step) -> Self {
        Self {
            phase,
            key: key.into(),
            after: Vec::new(),
            step,
        }
    }

    #[must_use]
    pub fn after(mut self, keys: impl IntoIterator<Item = String>) -> Self {
        self.after.extend(keys);
        self
    }
}

/// Sorts changes by phase, then topologically inside each phase (ties keep their input
/// order; a cycle keeps the input order of the changes caught in it).
pub fn order(changes: Vec<Change>) -> Vec<Step> {
    let mut by_phase: BTreeMap<Phase, Vec<Change>> = BTreeMap::new();
    for change in changes {
        by_phase.entry(change.phase).or_default().push(change);
    }
    by_phase.into_values().flat_map(topological).collect()
}

/// Kahn's algorithm over the `after` keys of one phase, stable for ties.
fn topological(changes: Vec<Change>) -> Vec<Step> {
    let keys: BTreeSet<&str> = changes.iter().map(|c| c.key.as_str()).collect();
    let mut pending: Vec<usize> = changes
        .iter()
        .map(|c| {
            c.after
                .iter()
                .filter(|k| *k != &c.key && keys.contains(k.as_str()))
                .count()
        })
        .collect();
    let mut dependents: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in changes.iter().enumerate() {
        for k in c.after.iter().filter(|k| *k != &c.key) {
            if keys.contains(k.as_str()) {
                dependents.entry(k.as_str()).or_default().push(i);
            }
        }
    }
    let mut done = vec![false; changes.len()];
    let mut out_idx = Vec::with_capacity(changes.len());
    let mut ready: BTreeSet<usize> = (0..changes.len()).filter(|&i| pending[i] == 0).collect();
    loop {
        while let Some(i) = ready.pop_first() {
            done[i] = true;
            out_idx.push(i);
            for &d in dependents
                .get(changes[i].key.as_str())
                .into_iter()
                .flatten()
            {
                pending[d] = pending[d].saturating_sub(1);
                if pending[d] == 0 && !done[d] {
                    ready.insert(d);
                }
            }
        }
        // A cycle: release the first change still waiting, then continue.
        match (0..changes.len()).find(|&i| !done[i] && !ready.contains(&i)) {
            Some(i) => {
                pending[i] = 0;
                ready.insert(i);
            }
            None => break,
        }
    }
    let mut slots: Vec<Option<Change>> = changes.into_iter().map(Some).collect();
    out_idx
        .into_iter()
        .filter_map(|i| slots[i].take().map(|c| c.step))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(phase: Phase, key: &str, after: &[&str]) -> Change {
        Change::new(phase, key, Step::new(key, vec![], vec![]))
            .after(after.iter().map(|s| (*s).to_owned()))
    }

    fn summaries(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(|s| s.summary.as_str()).collect()
    }

    #[test]
    fn order_phases_sort_before_keys() {
        let steps = order(vec![
            change(Phase::AddForeignKey, "fk", &[]),
            change(Phase::CreateTable, "t", &[]),
            change(Phase::CreateSchema, "s", &[]),
        ]);
        assert_eq!(summaries(&steps), ["s", "t", "fk"]);
    }

    #[test]
    fn order_after_keys_put_dependencies_first() {
        let steps = order(vec![
            change(Phase::CreateView, "v2", &["v1"]),
            change(Phase::CreateView, "v3", &[]),
            change(Phase::CreateView, "v1", &[]),
        ]);
        assert_eq!(summaries(&steps), ["v3", "v1", "v2"]);
    }

    #[test]
    fn order_cycle_keeps_every_change() {
        let steps = order(vec![
            change(Phase::CreateView, "a", &["b"]),
            change(Phase::CreateView, "b", &["a"]),
        ]);
        assert_eq!(steps.len(), 2);
    }
}
