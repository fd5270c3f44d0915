//! Which part of which table each COPY of a backup reads: a whole table, or, for a table
//! larger than the split size on a server with TID range scans (PostgreSQL 14+), one of
//! several ranges of its heap blocks, so that one large table is read by several workers
//! and loaded by several connections on restore.
//!
//! Pure: it decides from the catalog's sizes and the server version; `dump` performs it.
//! The ranges cover every block number: the first has no lower bound and the last no upper
//! bound, so a row is in exactly one piece even if the table grew since it was measured
//! (rows added later are outside the snapshot anyway).

use std::collections::VecDeque;

use super::catalog::DataTable;
use crate::core::render::{qualified, quote_ident};

/// The first server version with TID range scans (`ctid >= '(a,0)' AND ctid < '(b,0)'`
/// reads just those blocks; before it, the same query would read the whole table).
pub const TID_RANGE_SCAN_VERSION: i32 = 140_000;

/// One COPY of a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// The table, as an index into the backup's tables.
    pub table: usize,
    /// The heap blocks read; `None` for the whole table.
    pub blocks: Option<Blocks>,
    /// 1-based position among the table's pieces, and their number.
    pub part: usize,
    pub parts: usize,
}

/// Blocks `start..end` of a table (`start` 0 means no lower bound, `end` `None` no upper).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocks {
    pub start: u32,
    pub end: Option<u32>,
}

/// The pieces of `tables`, in file order (table order, then block order). A table of more
/// than `split_pages` blocks is cut into pieces of about `split_pages` blocks, when the server
/// (`server_version_num`) has TID range scans and `split_pages` is not 0.
pub fn plan(tables: &[DataTable], split_pages: u32, server_version_num: i32) -> Vec<Piece> {
    let can_split = split_pages > 0 && server_version_num >= TID_RANGE_SCAN_VERSION;
    let mut out = Vec::with_capacity(tables.len());
    for (table, t) in tables.iter().enumerate() {
        let pages = u32::try_from(t.pages.max(0)).unwrap_or(u32::MAX);
        let parts = if can_split && pages > split_pages {
            pages.div_ceil(split_pages) as usize
        } else {
            1
        };
        out.extend((0..parts).map(|i| Piece {
            table,
            blocks: (parts > 1).then(|| Blocks {
                start: boundary(pages, i, parts),
                end: (i + 1 < parts).then(|| boundary(pages, i + 1, parts)),
            }),
            part: i + 1,
            parts,
        }));
    }
    out
}

/// The pieces in file order for a restore with `lanes` connections: each table goes to the
/// lane with the least data so far (largest tables first, as `pieces` has them), and the
/// lanes' pieces are interleaved by size, the least advanced lane next. A restore reading
/// the file in order and loading all pieces of a table on one connection then has work
/// for every connection at once, instead of one loading the largest table while the others
/// wait for the reader to get past it (5 pieces of a 260 MB table first: the second of 2
/// connections idled 0.9 s of a 2.9 s restore).
pub fn interleave(pieces: Vec<Piece>, tables: &[DataTable], lanes: usize) -> Vec<Piece> {
    let lanes = lanes.max(1);
    let mut assigned: Vec<Option<usize>> = vec![None; tables.len()];
    let mut load = vec![0_i64; lanes];
    let mut queues: Vec<VecDeque<Piece>> = vec![VecDeque::new(); lanes];
    for piece in pieces {
        let lane = *assigned[piece.table].get_or_insert_with(|| {
            let lane = (0..lanes).min_by_key(|&l| load[l]).unwrap_or(0);
            load[lane] += tables[piece.table].size_bytes.max(1);
            lane
        });
        queues[lane].push_back(piece);
    }
    let mut emitted = vec![0_i64; lanes];
    let mut out = Vec::with_capacity(queues.iter().map(VecDeque::len).sum());
    while let Some(lane) = (0..lanes)
        .filter(|&l| !queues[l].is_empty())
        .min_by_key(|&l| emitted[l])
    {
        let piece = queues[lane].pop_front().expect("BUG: chosen lane is empty");
        emitted[lane] += piece.size(tables).max(1);
        out.push(piece);
    }
    out
}

/// The first block of piece `i` of `parts` (even shares of `pages`).
fn boundary(pages: u32, i: usize, parts: usize) -> u32 {
    let at = u64::from(pages) * i as u64 / parts as u64;
    u32::try_from(at).expect("BUG: a block boundary beyond the table")
}

impl Piece {
    /// Its share of the table's size, for scheduling the largest pieces first.
    pub fn size(&self, tables: &[DataTable]) -> i64 {
        tables[self.table].size_bytes / i64::try_from(self.parts).unwrap_or(i64::MAX)
    }

    /// The `COPY ... TO STDOUT` that reads it.
    pub fn copy_out_sql(&self, table: &DataTable) -> String {
        let name = qualified(&table.schema, &table.name);
        let Some(blocks) = self.blocks else {
            return format!("COPY {name}{} TO STDOUT", column_list(table));
        };
        let cols: Vec<String> = table.columns.iter().map(|c| quote_ident(c)).collect();
        let mut bounds = Vec::new();
        if blocks.start > 0 {
            bounds.push(format!("ctid >= '({},0)'::pg_catalog.tid", blocks.start));
        }
        if let Some(end) = blocks.end {
            bounds.push(format!("ctid < '({end},0)'::pg_catalog.tid"));
        }
        // ONLY: a SELECT on a parent would read its inheritance children too, COPY does not.
        format!(
            "COPY (SELECT {} FROM ONLY {name} WHERE {}) TO STDOUT",
            cols.join(", "),
            bounds.join(" AND ")
        )
    }

    /// The comment and `COPY ... FROM stdin;` line that open its block in the file.
    pub fn copy_header(&self, table: &DataTable) -> String {
        let name = qualified(&table.schema, &table.name);
        let part = if self.parts > 1 {
            format!(" (part {} of {})", self.part, self.parts)
        } else {
            String::new()
        };
        format!(
            "\n--\n-- Data for {name}{part}\n--\n\nCOPY {name}{} FROM stdin;\n",
            column_list(table)
        )
    }
}

/// ` (a, b)`, or nothing for a table without stored columns.
fn column_list(table: &DataTable) -> String {
    if table.columns.is_empty() {
        return String::new();
    }
    let cols: Vec<String> = table.columns.iter().map(|c| quote_ident(c)).collect();
    format!(" ({})", cols.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, pages: i64, columns: &[&str]) -> DataTable {
        DataTable {
            schema: "public".into(),
            name: name.into(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            size_bytes: pages * 8192,
            pages,
        }
    }

    #[test]
    fn plan_large_table_is_cut_into_ranges_that_cover_every_block() {
        let tables = [table("big", 10, &["a"]), table("small", 3, &["a"])];
        let pieces = plan(&tables, 4, 150_000);
        let ranges: Vec<_> = pieces
            .iter()
            .map(|p| (p.table, p.blocks.map(|b| (b.start, b.end)), p.part, p.parts))
            .collect();
        assert_eq!(
            ranges,
            vec![
                (0, Some((0, Some(3))), 1, 3),
                (0, Some((3, Some(6))), 2, 3),
                (0, Some((6, None)), 3, 3),
                (1, None, 1, 1),
            ]
        );
    }

    #[test]
    fn interleave_gives_every_lane_work_from_the_start_and_keeps_parts_in_order() {
        // big: 4 pieces of 10 pages; mid: 2 of 10; small and tiny whole.
        let tables = [
            table("big", 40, &["a"]),
            table("mid", 20, &["a"]),
            table("small", 8, &["a"]),
            table("tiny", 1, &["a"]),
        ];
        let order = |lanes| {
            interleave(plan(&tables, 10, 150_000), &tables, lanes)
                .iter()
                .map(|p| (tables[p.table].name.as_str(), p.part))
                .collect::<Vec<_>>()
        };
        // Lanes: big | mid, small, tiny (28 pages against 40).
        assert_eq!(
            order(2),
            vec![
                ("big", 1),
                ("mid", 1),
                ("big", 2),
                ("mid", 2),
                ("big", 3),
                ("small", 1),
                ("tiny", 1),
                ("big", 4),
            ]
        );
        let plain: Vec<_> = plan(&tables, 10, 150_000)
            .iter()
            .map(|p| (tables[p.table].name.as_str(), p.part))
            .collect();
        assert_eq!(order(1), plain);
        assert_eq!(order(0), plain);
    }

    #[test]
    fn plan_without_tid_range_scan_or_split_size_keeps_tables_whole() {
        let tables = [table("big", 100, &["a"])];
        for (split, version) in [(4, 130_000), (0, 150_000)] {
            let pieces = plan(&tables, split, version);
            assert_eq!(pieces.len(), 1);
            assert_eq!(pieces[0].blocks, None);
        }
    }

    #[test]
    fn copy_out_sql_whole_table_or_block_range_only() {
        let t = table("Big", 10, &["id", "user"]);
        let pieces = plan(std::slice::from_ref(&t), 4, 150_000);
        assert_eq!(
            plan(std::slice::from_ref(&t), 0, 150_000)[0].copy_out_sql(&t),
            "COPY public.\"Big\" (id, \"user\") TO STDOUT"
        );
        assert_eq!(
            pieces[0].copy_out_sql(&t),
            "COPY (SELECT id, \"user\" FROM ONLY public.\"Big\" \
             WHERE ctid < '(3,0)'::pg_catalog.tid) TO STDOUT"
        );
        assert_eq!(
            pieces[1].copy_out_sql(&t),
            "COPY (SELECT id, \"user\" FROM ONLY public.\"Big\" \
             WHERE ctid >= '(3,0)'::pg_catalog.tid AND ctid < '(6,0)'::pg_catalog.tid) TO STDOUT"
        );
        assert!(
            pieces[2]
                .copy_out_sql(&t)
                .ends_with("WHERE ctid >= '(6,0)'::pg_catalog.tid) TO STDOUT")
        );
    }

    #[test]
    fn copy_header_quotes_names_lists_columns_and_numbers_parts() {
        let t = table("Users", 10, &["id", "user"]);
        let whole = plan(std::slice::from_ref(&t), 0, 150_000)[0];
        let header = whole.copy_header(&t);
        assert!(header.contains("-- Data for public.\"Users\"\n"));
        assert!(header.ends_with("COPY public.\"Users\" (id, \"user\") FROM stdin;\n"));
        let part = plan(std::slice::from_ref(&t), 4, 150_000)[1];
        assert!(
            part.copy_header(&t)
                .contains("-- Data for public.\"Users\" (part 2 of 3)\n")
        );
        let bare = table("Users", 1, &[]);
        assert!(
            whole
                .copy_header(&bare)
                .ends_with("COPY public.\"Users\" FROM stdin;\n")
        );
    }
}
