//! The database's health: the readiness check and the connection pool's figures.

use async_trait::async_trait;
use npq_domain::StoreError;
use npq_domain::ports::{DatabaseHealth, PoolStatus};
use sea_orm::DbBackend;

use crate::Store;

#[async_trait]
impl DatabaseHealth for Store {
    async fn ping(&self) -> Result<(), StoreError> {
        Store::ping(self).await
    }

    fn pool_status(&self) -> Option<PoolStatus> {
        // sqlx reports the pool's figures. sea-orm 2.0 panics when asked for the pool of a backend
        // that is not in use, so the backend is checked first.
        let (open, idle, max) = match self.backend() {
            DbBackend::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
            DbBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
            _ => return None,
        };
        Some(PoolStatus { open, idle: u32::try_from(idle).unwrap_or(u32::MAX), max })
    }
}
