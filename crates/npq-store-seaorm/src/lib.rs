//! The npq store: sea-orm entities, migrations and repositories that implement the npq-domain
//! ports on SQLite and PostgreSQL.
//!
//! One migration set serves both backends. [`Store::connect`] takes a database URL
//! (`sqlite://FILE?mode=rwc` or `postgres://…`); every write method runs in one transaction.
//! [`seed`] builds deterministic sandbox data at any scale, and [`test_support`] gives each test a
//! database of its own on either backend.

mod convert;
mod decisions;
mod declarations;
mod delivery_partners;
pub mod entity;
mod error;
mod health;
mod keyset;
pub mod migration;
mod networks;
mod participants;
pub mod reference_lists;
mod registration;
mod repository;
mod sandbox_declarations;
pub mod sandbox_statements;
pub mod seed;
mod statements;
pub mod test_support;
mod writes;

use std::time::Duration;

use npq_domain::StoreError;
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend};
use sea_orm_migration::MigratorTrait;

pub use error::to_store_error;

/// URL of the embedded default database: a SQLite file in the working directory, created when
/// missing.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://npq.sqlite3?mode=rwc";

/// Connection pool size for PostgreSQL.
const POSTGRES_POOL_SIZE: u32 = 16;

/// A connection pool to one database, SQLite or PostgreSQL. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// Pool for transactions that write. On a SQLite file it has one connection, so writers in the
    /// process queue for it in order. They no longer poll SQLite's busy handler, which sleeps for
    /// up to 100 ms between tries. On PostgreSQL it is `db`.
    writer: DatabaseConnection,
}

impl Store {
    /// Connects to the database at `url`. SQLite files are opened in write-ahead-log mode with
    /// foreign keys enforced and a busy timeout, so concurrent requests wait instead of failing.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let sqlite = url.starts_with("sqlite:");
        // SQLite allows one writer at a time; a small pool avoids lock waits between connections.
        let db = open_pool(url, if sqlite { 4 } else { POSTGRES_POOL_SIZE }).await?;
        // Each pool opened on `sqlite::memory:` gets a database of its own, so writes share the
        // readers' pool there.
        let writer = match sqlite && !url.contains(":memory:") && !url.contains("mode=memory") {
            true => open_pool(url, 1).await?,
            false => db.clone(),
        };
        Ok(Self { db, writer })
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        if self.backend() == DbBackend::Sqlite {
            // Every statement runs on one connection, in one transaction. Spread over the pool, a
            // statement once failed on an index that an earlier statement had just dropped.
            let txn = sea_orm::TransactionTrait::begin(&self.db).await.map_err(to_store_error)?;
            migration::Migrator::up(&txn, None).await.map_err(to_store_error)?;
            return txn.commit().await.map_err(to_store_error);
        }
        migration::Migrator::up(&self.db, None).await.map_err(to_store_error)
    }

    /// Checks that the database responds to a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await.map_err(to_store_error)
    }

    /// Returns the backend: SQLite or PostgreSQL.
    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Returns the underlying connection, for tests and tools that need raw SQL.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Closes every pooled connection.
    pub async fn close(self) -> Result<(), StoreError> {
        self.writer.close().await.map_err(to_store_error)?;
        self.db.close().await.map_err(to_store_error)
    }
}

/// Opens a pool of at most `size` connections to `url`.
async fn open_pool(url: &str, size: u32) -> Result<DatabaseConnection, StoreError> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .max_connections(size);
    if url.starts_with("sqlite:") {
        options
            .min_connections(1)
            .map_sqlx_sqlite_opts(|sqlite| {
                sqlite
                    .foreign_keys(true)
                    .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(30))
            })
            .map_sqlx_sqlite_pool_opts(|pool| {
                pool.after_connect(|connection, _| Box::pin(keep_plans_independent_of_bindings(connection)))
            });
    }
    // The driver's message may quote the URL, password included: show the redacted form.
    Database::connect(options)
        .await
        .map_err(|error| StoreError::Unavailable(error.to_string().replace(url, &redact_database_url(url))))
}

/// Turns on SQLite's query planner stability guarantee for one connection.
///
/// Without it, SQLite marks a prepared statement to be compiled again whenever a value bound to
/// a `LIMIT ?` or to some `column = ?` terms changes, and sqlx clears the bindings of every
/// cached statement before it runs it again. Together they made SQLite parse and plan nearly every
/// statement on every run: about a quarter of the server's CPU time under the declaration
/// benchmark. With the guarantee, a statement keeps the plan it was prepared with, so the
/// statement cache works. sqlx has no option for it, hence the one call through the C API.
async fn keep_plans_independent_of_bindings(
    connection: &mut sea_orm::sqlx::SqliteConnection,
) -> Result<(), sea_orm::sqlx::Error> {
    let mut handle = connection.lock_handle().await?;
    let raw = handle.as_raw_handle();
    let mut enabled: std::ffi::c_int = 0;
    // SAFETY: `raw` is the open connection that `handle` keeps locked for this call, and
    // SQLITE_DBCONFIG_ENABLE_QPSG takes exactly an int and a pointer to an int.
    let code = unsafe {
        libsqlite3_sys::sqlite3_db_config(
            raw.as_ptr(),
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as std::ffi::c_int,
            &mut enabled as *mut std::ffi::c_int,
        )
    };
    if code != libsqlite3_sys::SQLITE_OK || enabled != 1 {
        return Err(sea_orm::sqlx::Error::Configuration(
            format!("SQLite refused the query planner stability setting (code {code})").into(),
        ));
    }
    Ok(())
}

/// Returns a URL safe for logs: the password, whether in the user part or a `password` query
/// parameter, becomes `***`. A URL that does not parse is not shown at all.
pub fn redact_database_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else { return "(a database URL that is not valid)".to_owned() };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query_pairs().any(|(name, _)| name.eq_ignore_ascii_case("password")) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(name, value)| {
                let value = if name.eq_ignore_ascii_case("password") { "***".to_owned() } else { value.into_owned() };
                (name.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::redact_database_url;

    #[test]
    fn redaction_hides_passwords_in_every_form() {
        assert_eq!(redact_database_url("postgres://user:secret@127.0.0.1/npq"), "postgres://user:***@127.0.0.1/npq");
        let query = redact_database_url("postgres://user@127.0.0.1/npq?password=secret&sslmode=disable");
        assert!(!query.contains("secret"), "{query}");
        assert!(query.contains("sslmode=disable"), "{query}");
        assert!(!redact_database_url("postgres://u:top#secret@127.0.0.1:1/db").contains("secret"));
        assert_eq!(redact_database_url("sqlite://npq.sqlite3?mode=rwc"), "sqlite://npq.sqlite3?mode=rwc");
    }
}
