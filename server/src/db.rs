//! Storage: one handle over SQLite (the embedded default: a file created on
//! first start) or PostgreSQL (`YIWANG_DATABASE_URL=postgres://…`), through
//! sqlx's `Any` driver so that every query is written once. Queries use `$1`
//! placeholders in order of first use, which both drivers accept. Migrations
//! are versioned per backend (`migrations/sqlite`, `migrations/postgres`):
//! the DDL differs, the tables and their meaning do not.

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

/// Which database is behind a [`Db`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend of a connection (or of the transaction over it).
    pub fn of(conn: &sqlx::AnyConnection) -> Self {
        if conn.backend_name() == "PostgreSQL" {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// Rows per multi-row statement when each binds `params` values. sqlx
    /// binds a SQLite statement by asking `sqlite3_bind_parameter_name` for
    /// every parameter, and SQLite answers by walking the statement's list
    /// of named parameters: binding is quadratic in one statement's
    /// parameters. At 3,000 (200 rows of 15) it was most of the matcher's
    /// time (docs/performance.md), so SQLite statements stay near 240
    /// values; PostgreSQL takes 200 rows.
    pub fn rows_per_statement(self, params: usize) -> usize {
        let budget = match self {
            Backend::Sqlite => 240,
            Backend::Postgres => 3_000,
        };
        (budget / params.max(1)).clamp(1, 200)
    }
}

/// A handle to the database pool. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// SQLite has one writer: transactions that write queue here, in
    /// process, instead of in SQLite's busy handler (which sleeps in growing
    /// steps and made the latency tail; docs/performance.md).
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// A transaction that writes, with (on SQLite) the process's writer turn.
/// Commit `tx`; the turn ends when this is dropped.
pub struct WriteTx {
    pub tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl std::fmt::Debug for WriteTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteTx")
    }
}

/// A database that could not be opened or migrated. Messages name no
/// credentials (URLs are never printed).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL: expected sqlite://PATH or postgres://…")]
    UnsupportedUrl,
    #[error("cannot open the database: {0}")]
    Open(#[source] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("database query failed: {0}")]
    Query(#[source] sqlx::Error),
}

impl Db {
    /// Opens (creating an SQLite file if missing) and migrates the database at `url`.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        install_default_drivers();
        let (backend, url) = if let Some(rest) = url.strip_prefix("sqlite:") {
            // rwc: create the file on first start.
            let sep = if rest.contains('?') { '&' } else { '?' };
            (Backend::Sqlite, format!("sqlite:{rest}{sep}mode=rwc"))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            return Err(DbError::UnsupportedUrl);
        };
        let options = match backend {
            // No ping before each use: it doubled the round trips of every
            // statement (docs/performance.md); a dead connection fails its
            // query and is replaced.
            Backend::Sqlite => AnyPoolOptions::new()
                .test_before_acquire(false)
                // An in-memory database exists per connection: keep one.
                .max_connections(if url.contains(":memory:") { 1 } else { 8 })
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                             PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;",
                        )
                        .await?;
                        Ok(())
                    })
                }),
            Backend::Postgres => AnyPoolOptions::new()
                .test_before_acquire(false)
                .max_connections(16),
        };
        let pool = options.connect(&url).await.map_err(DbError::Open)?;
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        migrator.run(&pool).await.map_err(DbError::Migrate)?;
        Ok(Self {
            pool,
            backend,
            writer: std::sync::Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A trivial query: is the database answering?
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(DbError::Query)
    }

    /// A value of the `server_meta` table.
    pub async fn meta(&self, key: &str) -> Result<Option<String>, DbError> {
        sqlx::query_scalar("SELECT value FROM server_meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(DbError::Query)
    }

    /// Begins a transaction that will write (see [`WriteTx`]).
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let turn = match self.backend {
            Backend::Sqlite => Some(self.writer.clone().lock_owned().await),
            Backend::Postgres => None,
        };
        Ok(WriteTx {
            tx: self.pool.begin().await?,
            _turn: turn,
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// `$first, $first+1, …` for `n` bound values (an `IN (…)` list).
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Test databases: SQLite in memory always, and a fresh PostgreSQL database per
/// call when a server answers (`YIWANG_TEST_POSTGRES_URL`, default
/// `postgres://postgres@127.0.0.1:5432/postgres`). Without PostgreSQL the
/// tests say so and run on SQLite only — unless `CI` is set, where they fail.
pub mod testing {
    use super::{Backend, Db};
    use sqlx::Connection;

    /// A database made for one test; [`TestDb::cleanup`] drops a PostgreSQL one.
    #[derive(Debug)]
    pub struct TestDb {
        pub db: Db,
        pub url: String,
        admin_url: Option<String>,
        name: Option<String>,
    }

    impl TestDb {
        pub fn backend(&self) -> Backend {
            self.db.backend()
        }

        /// Closes the pool and drops the PostgreSQL database.
        pub async fn cleanup(self) {
            self.db.close().await;
            if let (Some(admin), Some(name)) = (self.admin_url, self.name)
                && let Ok(mut conn) = sqlx::AnyConnection::connect(&admin).await
            {
                // `name` is ours: `yiwang_test_` and hex digits.
                let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                    .execute(&mut conn)
                    .await;
            }
        }
    }

    /// `CI` set to anything but empty, `0` or `false`.
    pub fn in_ci() -> bool {
        std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
    }

    fn admin_url() -> String {
        std::env::var("YIWANG_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
    }

    /// A fresh, migrated PostgreSQL database, or `None` (with a visible
    /// `SKIPPED` line) when no server answers outside CI.
    pub async fn postgres(test: &str) -> Option<TestDb> {
        sqlx::any::install_default_drivers();
        let admin = admin_url();
        let mut conn = match sqlx::AnyConnection::connect(&admin).await {
            Ok(conn) => conn,
            Err(e) => {
                assert!(
                    !in_ci(),
                    "CI: PostgreSQL is required and not reachable: {e}"
                );
                eprintln!("SKIPPED on PostgreSQL: {test}: no server answers at the test URL ({e})");
                return None;
            }
        };
        let mut suffix = [0u8; 6];
        yiwang_core::crypto::random_bytes(&mut suffix).expect("random");
        let name = format!("yiwang_test_{}", hex::encode(suffix));
        // `name` is ours: `yiwang_test_` and hex digits.
        let create = format!("CREATE DATABASE {name}");
        sqlx::query(sqlx::AssertSqlSafe(create))
            .execute(&mut conn)
            .await
            .expect("create database");
        let _ = conn.close().await;
        let url = match admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("the PostgreSQL test URL has no database part"),
        };
        let db = Db::connect(&url)
            .await
            .expect("connect to the test database");
        Some(TestDb {
            db,
            url,
            admin_url: Some(admin),
            name: Some(name),
        })
    }

    /// An in-memory SQLite database.
    pub async fn sqlite() -> TestDb {
        let url = "sqlite::memory:".to_owned();
        TestDb {
            db: Db::connect(&url).await.expect("in-memory SQLite"),
            url,
            admin_url: None,
            name: None,
        }
    }

    /// Every backend available: SQLite, and PostgreSQL when reachable.
    pub async fn all(test: &str) -> Vec<TestDb> {
        let mut dbs = vec![sqlite().await];
        dbs.extend(postgres(test).await);
        dbs
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn migrations_and_ping_on_every_backend() {
        for test_db in testing::all("migrations_and_ping_on_every_backend").await {
            let db = &test_db.db;
            db.ping().await.unwrap();
            let created = db.meta("created_at").await.unwrap().unwrap();
            assert!(
                created.ends_with('Z') && created.len() == 20,
                "{:?}: {created}",
                db.backend()
            );
            assert_eq!(db.meta("nope").await.unwrap(), None);
            // Connecting again does not re-apply the migrations (an in-memory
            // database is new on every connection: use a file for SQLite).
            if test_db.url.contains(":memory:") {
                test_db.cleanup().await;
                continue;
            }
            let again = Db::connect(&test_db.url).await.unwrap();
            assert_eq!(
                again.meta("created_at").await.unwrap().as_deref(),
                Some(created.as_str())
            );
            again.close().await;
            test_db.cleanup().await;
        }
    }

    #[tokio::test]
    async fn an_sqlite_file_is_created_once_and_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("y.db").display());
        let db = Db::connect(&url).await.unwrap();
        let created = db.meta("created_at").await.unwrap();
        db.close().await;
        assert!(dir.path().join("y.db").exists());
        let again = Db::connect(&url).await.unwrap();
        assert_eq!(again.meta("created_at").await.unwrap(), created);
        again.close().await;
    }

    #[tokio::test]
    async fn unsupported_urls_are_refused() {
        for url in ["mysql://localhost/db", "", "file:x.db"] {
            assert!(
                matches!(Db::connect(url).await, Err(DbError::UnsupportedUrl)),
                "{url}"
            );
        }
    }
}
