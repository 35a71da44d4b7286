//! Mapping of database errors to the domain's store errors.

use npq_domain::StoreError;
use sea_orm::{DbErr, SqlErr};

/// Converts a sea-orm error to a [`StoreError`], telling constraint violations and unreachable
/// databases apart from other failures.
pub fn to_store_error(error: DbErr) -> StoreError {
    match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(message))
            if message.contains("live_place") || message.contains("live_trn_place") =>
        {
            return StoreError::PlaceTaken;
        }
        Some(SqlErr::UniqueConstraintViolation(message)) | Some(SqlErr::ForeignKeyConstraintViolation(message)) => {
            return StoreError::Conflict(message);
        }
        _ => {}
    }
    match error {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => StoreError::Unavailable(error.to_string()),
        other => StoreError::Other(other.to_string()),
    }
}

/// Builds the error for a stored value that does not parse as its domain type.
pub(crate) fn corrupt(column: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{column}: {error}"))
}
