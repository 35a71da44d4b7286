//! Databases for tests: each test gets a database of its own, on SQLite or PostgreSQL.
//!
//! PostgreSQL tests connect to `NPQ_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), create a database with a random name, and drop it
//! when the [`TestDatabase`] is dropped. A server that cannot be reached fails the test: it is
//! never skipped.

use std::path::PathBuf;

use sea_orm::{ConnectionTrait, Database};

use crate::Store;

/// Default server for PostgreSQL tests.
pub const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database backend under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A migrated, empty database that exists for one test.
#[derive(Debug)]
pub struct TestDatabase {
    pub store: Store,
    /// URL of this database, to start a server or another connection on it.
    pub url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    File(PathBuf),
    Database { admin_url: String, name: String },
}

fn postgres_admin_url() -> String {
    std::env::var("NPQ_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_owned())
}

fn random_name() -> String {
    format!("npq_test_{}", uuid::Uuid::new_v4().simple())
}

impl TestDatabase {
    /// Creates and migrates a new database. Panics with the reason when it cannot, because a test
    /// without its database must fail, not pass.
    pub async fn create(backend: Backend) -> Self {
        let (url, cleanup) = match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{}.sqlite3", random_name()));
                (format!("sqlite://{}?mode=rwc", path.display()), Cleanup::File(path))
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let name = random_name();
                let admin = Database::connect(admin_url.as_str()).await.unwrap_or_else(|error| {
                    panic!(
                        "cannot connect to PostgreSQL at {} for the PostgreSQL tests: {error}. Start it (see README.md) or set NPQ_TEST_POSTGRES_URL",
                        crate::redact_database_url(&admin_url)
                    )
                });
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap_or_else(|error| panic!("cannot create test database {name}: {error}"));
                let _ = admin.close().await;
                let mut url = url::Url::parse(&admin_url)
                    .unwrap_or_else(|error| panic!("NPQ_TEST_POSTGRES_URL is not a URL: {error}"));
                url.set_path(&name);
                (url.to_string(), Cleanup::Database { admin_url, name })
            }
        };
        let store =
            Store::connect(&url).await.unwrap_or_else(|error| panic!("cannot open test database {url}: {error}"));
        store.migrate().await.unwrap_or_else(|error| panic!("cannot migrate test database {url}: {error}"));
        Self { store, url, cleanup }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            Cleanup::Database { admin_url, name } => {
                // Drop runs outside async code, so the database is dropped from a thread with its own
                // runtime. FORCE closes the pool's connections that are still open.
                let admin_url = admin_url.clone();
                let statement = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let dropped = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                    runtime.block_on(async {
                        let admin = Database::connect(admin_url.as_str()).await.ok()?;
                        let result = admin.execute_unprepared(&statement).await.ok();
                        let _ = admin.close().await;
                        result
                    })
                })
                .join();
                if !matches!(dropped, Ok(Some(_))) {
                    tracing::warn!(database = %name, "could not drop test database");
                }
            }
        }
    }
}

/// Declares each listed `async fn NAME(backend: Backend)` as two tests, `sqlite::NAME` and
/// `postgres::NAME`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::test_support::Backend::Sqlite).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::test_support::Backend::Postgres).await
                }
            )+
        }
    };
}
