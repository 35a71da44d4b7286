//! The condition of a cursor walk: the rows after a position in the order (sort column, row id).
//!
//! Written as `sort >= value AND (sort > value OR id > row)`, so that both databases read it as a
//! range on the index `(lead_provider_id, sort, id)` that every list has, and a page deep in a
//! walk costs what the first page costs.

use npq_domain::Timestamp;
use npq_domain::listing::{Sort, SortField};
use sea_orm::{ColumnTrait, Condition};

use crate::convert::stored_instant;

/// Returns the sort column of a cursor walk: the first sort key. Callers send one ascending key.
pub(crate) fn cursor_field(sort: &Sort) -> SortField {
    sort.keys().first().map_or(SortField::CreatedAt, |key| key.field)
}

/// Returns the condition for rows after the row `after_row` (its id) whose sort column had the
/// value `sort_value` when the client saw it. When that row no longer exists, rows with the same
/// sort value cannot be placed before or after it, so only later values follow.
pub(crate) fn after<C: ColumnTrait>(sort: C, id: C, sort_value: Timestamp, after_row: Option<i64>) -> Condition {
    let value = stored_instant(sort_value);
    match after_row {
        Some(row) => Condition::all().add(sort.gte(value)).add(Condition::any().add(sort.gt(value)).add(id.gt(row))),
        None => Condition::all().add(sort.gt(value)),
    }
}
