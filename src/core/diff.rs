//! Schema x Schema -> Plan: what must change to turn `from` into `to`, as ordered steps each
//! with up SQL, down SQL and hazards. Pure; one submodule per object kind under `diff/`.
//! Objects are matched by name through maps (never a scan over all tables per table), so a
//! diff stays linear in the size of the schemas.

mod columns;
mod normalize;
mod objects;
mod parts;
mod routines;
mod sql;
mod tables;
mod types;
mod view_columns;
mod views;

use std::collections::BTreeSet;

use serde::Serialize;

pub use normalize::canonical_expression;

use crate::core::hazard::Hazard;
use crate::core::hints::RenameHints;
use crate::core::order::{Change, Phase, order};
use crate::core::schema::{FunctionKey, ObjectRef, Schema};

/// One change of the plan: its SQL both ways and what it risks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// What it does, e.g. `add column public.users.email`.
    pub summary: String,
    /// Statements, without trailing `;`.
    pub up: Vec<String>,
    /// Statements that undo `up`, without trailing `;`.
    pub down: Vec<String>,
    pub hazards: Vec<Hazard>,
    /// The statements cannot run inside a transaction block (e.g. CREATE INDEX CONCURRENTLY).
    pub no_transaction: bool,
}

impl Step {
    pub fn new(summary: impl Into<String>, up: Vec<String>, down: Vec<String>) -> Self {
        Self {
            summary: summary.into(),
            up,
            down,
            hazards: Vec::new(),
            no_transaction: false,
        }
    }

    #[must_use]
    pub fn with_hazards(mut self, hazards: Vec<Hazard>) -> Self {
        self.hazards.extend(hazards);
        self
    }
}

/// The ordered difference between two schemas.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// In dependency order for `up`; `render_down` runs their `down` in reverse.
    pub steps: Vec<Step>,
    /// Likely renames that have no hint (`-- migrated:renamed from=...`).
    pub suggestions: Vec<String>,
    /// Differences in object kinds the engine cannot model, by kind and name.
    pub unsupported: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.unsupported.is_empty()
    }

    /// Every hazard of every step.
    pub fn hazards(&self) -> impl Iterator<Item = &Hazard> {
        self.steps.iter().flat_map(|s| s.hazards.iter())
    }
}

/// Why no plan could be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DiffError {
    #[error("rename hint for {what} names {from}, which does not exist in the current schema")]
    UnknownRenameSource { what: &'static str, from: String },
    #[error("rename hint for {what} names {to}, which does not exist in the desired schema")]
    UnknownRenameTarget { what: &'static str, to: String },
}

/// The plan that turns `from` into `to`.
pub fn diff(from: &Schema, to: &Schema, hints: &RenameHints) -> Result<Plan, DiffError> {
    let mut ctx = Ctx::new(from, to, hints);
    objects::diff_schemas(&mut ctx);
    objects::diff_extensions(&mut ctx);
    objects::diff_unsupported(&mut ctx);
    types::diff_types(&mut ctx);
    objects::diff_sequences(&mut ctx);
    routines::diff_functions(&mut ctx);
    tables::diff_tables(&mut ctx);
    views::diff_views(&mut ctx);
    routines::diff_triggers(&mut ctx);
    Ok(ctx.into_plan())
}

/// What the per-kind differs share: both schemas, the hints, and what they found.
pub(crate) struct Ctx<'a> {
    pub(crate) from: &'a Schema,
    pub(crate) to: &'a Schema,
    pub(crate) hints: &'a RenameHints,
    pub(crate) changes: Vec<Change>,
    pub(crate) suggestions: Vec<String>,
    pub(crate) unsupported: Vec<String>,
    /// Relations and types whose change forces dependent views to be dropped and recreated.
    pub(crate) rebuilt: BTreeSet<ObjectRef>,
    /// Functions dropped and recreated: triggers and views on them are recreated too.
    pub(crate) rebuilt_functions: BTreeSet<FunctionKey>,
}

impl<'a> Ctx<'a> {
    fn new(from: &'a Schema, to: &'a Schema, hints: &'a RenameHints) -> Self {
        Self {
            from,
            to,
            hints,
            changes: Vec::new(),
            suggestions: Vec::new(),
            unsupported: Vec::new(),
            rebuilt: BTreeSet::new(),
            rebuilt_functions: BTreeSet::new(),
        }
    }

    pub(crate) fn push(&mut self, change: Change) {
        self.changes.push(change);
    }

    /// A change as one step in `phase`.
    pub(crate) fn step(&mut self, phase: Phase, key: impl Into<String>, step: Step) {
        self.changes.push(Change::new(phase, key, step));
    }

    fn into_plan(self) -> Plan {
        Plan {
            steps: order(self.changes),
            suggestions: self.suggestions,
            unsupported: self.unsupported,
        }
    }
}

#[cfg(test)]
mod tests;
