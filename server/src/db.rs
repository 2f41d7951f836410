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

    /// Rows per multi-row statement when each binds `params` values.
    /// Statements that bind hundreds of values number them with [`Params`]:
    /// on SQLite those are anonymous `?`, because sqlx binds a SQLite
    /// statement by asking `sqlite3_bind_parameter_name` for every
    /// parameter and SQLite answers by walking the statement's list of
    /// named ones (`$n`), so binding named parameters is quadratic in their
    /// number (docs/performance.md). Both backends take up to 3,000 values
    /// and 200 rows a statement.
    pub fn rows_per_statement(self, params: usize) -> usize {
        (3_000 / params.max(1)).clamp(1, 200)
    }
}

/// The placeholders of one statement, numbered in the order they appear
/// in its text: `$1, $2, …` on PostgreSQL and anonymous `?` on SQLite,
/// which numbers them the same way (and binds them in linear time). Values
/// must be bound in the order their placeholders appear, and a statement
/// built with `Params` uses no other placeholders.
#[derive(Debug)]
pub struct Params {
    backend: Backend,
    next: usize,
}

impl Params {
    pub fn new(backend: Backend) -> Self {
        Self { backend, next: 1 }
    }

    /// The placeholder of the next value.
    pub fn one(&mut self) -> String {
        self.next += 1;
        match self.backend {
            Backend::Sqlite => "?".to_owned(),
            Backend::Postgres => format!("${}", self.next - 1),
        }
    }

    /// `n` placeholders, comma-separated (a row of values, an `IN` list).
    pub fn list(&mut self, n: usize) -> String {
        (0..n).map(|_| self.one()).collect::<Vec<_>>().join(", ")
    }

    /// `rows` rows of `width` placeholders each: `(…), (…)`.
    pub fn rows(&mut self, rows: usize, width: usize) -> String {
        (0..rows)
            .map(|_| format!("({})", self.list(width)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A handle to the database pool. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    /// SQLite files: the one connection write transactions use.
    write_pool: Option<AnyPool>,
    backend: Backend,
    /// SQLite has one writer: transactions that write queue here, in
    /// process, instead of in SQLite's busy handler (which sleeps in growing
    /// steps and made the latency tail; docs/performance.md).
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Told when a writer's turn ends: the WAL may have grown.
    written: std::sync::Arc<tokio::sync::Notify>,
}

/// A transaction that writes, with (on SQLite) the process's writer turn.
/// Commit `tx`; the turn ends when this is dropped.
pub struct WriteTx {
    pub tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<WriterTurn>,
}

/// The SQLite writer's turn; its end wakes the checkpointer.
struct WriterTurn {
    _guard: tokio::sync::OwnedMutexGuard<()>,
    written: std::sync::Arc<tokio::sync::Notify>,
}

impl Drop for WriterTurn {
    fn drop(&mut self) {
        self.written.notify_one();
    }
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
        let in_memory = url.contains(":memory:");
        let pool = match backend {
            // An in-memory database exists per connection: keep one.
            Backend::Sqlite => sqlite_options(if in_memory { 1 } else { 8 }, in_memory),
            Backend::Postgres => postgres_options(),
        }
        .connect(&url)
        .await
        .map_err(DbError::Open)?;
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        migrator.run(&pool).await.map_err(DbError::Migrate)?;
        // A file's write transactions all run on one connection of their own:
        // SQLite empties a connection's page cache whenever another
        // connection has written, so with writes spread over the pool every
        // transaction began by reading its B-tree pages again.
        let write_pool = if backend == Backend::Sqlite && !in_memory {
            Some(
                sqlite_options(1, false)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect(&url)
                    .await
                    .map_err(DbError::Open)?,
            )
        } else {
            None
        };
        let db = Self {
            pool,
            write_pool,
            backend,
            writer: std::sync::Arc::default(),
            written: std::sync::Arc::default(),
        };
        if db.write_pool.is_some() {
            tokio::spawn(checkpointer(
                db.pool.clone(),
                std::sync::Arc::downgrade(&db.writer),
                db.written.clone(),
            ));
        }
        Ok(db)
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
            Backend::Sqlite => Some(WriterTurn {
                _guard: self.writer.clone().lock_owned().await,
                written: self.written.clone(),
            }),
            Backend::Postgres => None,
        };
        Ok(WriteTx {
            tx: self
                .write_pool
                .as_ref()
                .unwrap_or(&self.pool)
                .begin()
                .await?,
            _turn: turn,
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        if let Some(write_pool) = &self.write_pool {
            write_pool.close().await;
        }
        self.pool.close().await;
    }
}

/// SQLite pool options: no ping before each use (it doubled the round trips
/// of every statement, docs/performance.md; a dead connection fails its
/// query and is replaced), WAL, and for a file no automatic checkpoints: the
/// [`checkpointer`] does them, off the writers' path.
fn sqlite_options(max_connections: u32, in_memory: bool) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .test_before_acquire(false)
        .max_connections(max_connections)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                     PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;",
                )
                .await?;
                if !in_memory {
                    conn.execute(
                        "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
}

/// The planner's cost of a random page read for our sessions, unless the
/// operator set `random_page_cost` (in the server's configuration, for the
/// database or for the role): PostgreSQL's default, 4, prices a disk head's
/// seek. With it the planner scanned whole tables of a few hundred thousand
/// rows (inbox, recommendations) to find a thousand citizens' rows, though
/// their index pages were in memory: 29 ms instead of 4 ms for one batch's
/// inbox counts (docs/performance.md). 1.1 is the usual value for SSDs.
pub const POSTGRES_RANDOM_PAGE_COST: &str = "1.1";

/// PostgreSQL pool options: no ping before each use, and on each new
/// connection [`POSTGRES_RANDOM_PAGE_COST`] unless the operator set one.
fn postgres_options() -> AnyPoolOptions {
    AnyPoolOptions::new()
        .test_before_acquire(false)
        .max_connections(16)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query(
                    "SELECT set_config('random_page_cost', $1, false) FROM pg_settings \
                     WHERE name = 'random_page_cost' AND source = 'default'",
                )
                .bind(POSTGRES_RANDOM_PAGE_COST)
                .execute(&mut *conn)
                .await?;
                Ok(())
            })
        })
}

/// WAL frames (4 KiB pages) past which the checkpointer truncates the WAL
/// instead of leaving it to be reused: 64 MiB.
const WAL_TRUNCATE_FRAMES: i64 = 16_384;

/// Checkpoints an SQLite file's WAL off the writers' path: shortly after a
/// writer's turn ends (or every 5 s), a `PASSIVE` checkpoint on a pooled
/// connection copies the committed pages into the database file while the
/// next writer goes on appending. Done by the committing connection (SQLite's
/// `wal_autocheckpoint`), the copy and its fsync held the single writer for
/// about a quarter of each matcher batch (docs/performance.md). Readers that
/// never pause could keep a passive checkpoint from reaching the WAL's end,
/// so past [`WAL_TRUNCATE_FRAMES`] it takes the writer turn and truncates the
/// WAL (`TRUNCATE` waits for readers through the busy timeout). Ends when
/// every [`Db`] handle is dropped or the pool is closed.
async fn checkpointer(
    pool: AnyPool,
    writer: std::sync::Weak<tokio::sync::Mutex<()>>,
    written: std::sync::Arc<tokio::sync::Notify>,
) {
    use sqlx::Row;
    loop {
        tokio::select! {
            () = written.notified() => {}
            () = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
        }
        // Let a burst of commits pass before copying its pages.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if pool.is_closed() {
            return;
        }
        let Some(writer) = writer.upgrade() else {
            return;
        };
        let frames = match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await
        {
            // (busy, frames in the WAL, frames checkpointed)
            Ok(row) => row.try_get::<i64, _>(1).unwrap_or(0),
            Err(e) if pool.is_closed() => {
                tracing::debug!(error = %e, "checkpointer stops: the pool is closed");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed");
                continue;
            }
        };
        if frames >= WAL_TRUNCATE_FRAMES {
            let _turn = writer.lock().await;
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&pool)
                .await
            {
                tracing::warn!(error = %e, frames, "WAL truncation failed");
            }
        }
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

    /// Our sessions plan for SSDs, unless the operator chose a
    /// `random_page_cost` (here for the database).
    #[tokio::test]
    async fn postgres_sessions_take_our_random_page_cost_unless_one_is_set() {
        let Some(test_db) =
            testing::postgres("postgres_sessions_take_our_random_page_cost_unless_one_is_set")
                .await
        else {
            return;
        };
        let cost = |db: Db| async move {
            sqlx::query_scalar::<_, String>("SELECT current_setting('random_page_cost')")
                .fetch_one(db.pool())
                .await
                .unwrap()
        };
        assert_eq!(cost(test_db.db.clone()).await, POSTGRES_RANDOM_PAGE_COST);
        let name = test_db.url.rsplit_once('/').unwrap().1.to_owned();
        // `name` is ours: `yiwang_test_` and hex digits.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {name} SET random_page_cost = 2.5"
        )))
        .execute(test_db.db.pool())
        .await
        .unwrap();
        let again = Db::connect(&test_db.url).await.unwrap();
        assert_eq!(cost(again.clone()).await, "2.5");
        again.close().await;
        test_db.cleanup().await;
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

    #[test]
    fn params_number_in_order_of_appearance() {
        let mut pg = Params::new(Backend::Postgres);
        assert_eq!(pg.one(), "$1");
        assert_eq!(pg.rows(2, 2), "($2, $3), ($4, $5)");
        assert_eq!(pg.list(2), "$6, $7");
        let mut lite = Params::new(Backend::Sqlite);
        assert_eq!(lite.one(), "?");
        assert_eq!(lite.rows(2, 2), "(?, ?), (?, ?)");
        assert_eq!(Backend::Sqlite.rows_per_statement(15), 200);
        assert_eq!(Backend::Postgres.rows_per_statement(15), 200);
        assert_eq!(Backend::Sqlite.rows_per_statement(1_000), 3);
        assert_eq!(Backend::Postgres.rows_per_statement(10_000), 1);
    }

    /// The largest statement `rows_per_statement` allows binds every value
    /// to its own placeholder, on both backends.
    #[tokio::test]
    async fn a_full_multi_row_statement_binds_each_value_in_place() {
        for test_db in testing::all("a_full_multi_row_statement_binds_each_value_in_place").await {
            let db = &test_db.db;
            let backend = db.backend();
            let rows = backend.rows_per_statement(3);
            let mut params = Params::new(backend);
            let sql = format!(
                "INSERT INTO audit_log (at, actor, action, request_id, subject) VALUES {}",
                (0..rows)
                    .map(|_| format!("({}, 'test.params', '-', {})", params.list(2), params.one()))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for i in 0..rows {
                let i = i64::try_from(i).unwrap();
                query = query
                    .bind(1_000 + i)
                    .bind(format!("actor-{i}"))
                    .bind(format!("subject-{i}"));
            }
            {
                let mut write = db.begin_write().await.unwrap();
                query.execute(&mut *write.tx).await.unwrap();
                write.tx.commit().await.unwrap();
            }
            let stored: Vec<(i64, String, String)> = sqlx::query_as(
                "SELECT at, actor, subject FROM audit_log WHERE action = 'test.params' ORDER BY at",
            )
            .fetch_all(db.pool())
            .await
            .unwrap();
            assert_eq!(stored.len(), rows, "{backend:?}");
            for (i, (at, actor, subject)) in stored.iter().enumerate() {
                assert_eq!(*at, 1_000 + i64::try_from(i).unwrap(), "{backend:?}");
                assert_eq!(actor, &format!("actor-{i}"), "{backend:?}");
                assert_eq!(subject, &format!("subject-{i}"), "{backend:?}");
            }
            test_db.cleanup().await;
        }
    }

    /// On a file, the connections do not checkpoint on commit; the
    /// checkpointer copies committed pages into the database file soon after
    /// a write, and the write connection is one connection of its own.
    #[tokio::test]
    async fn an_sqlite_file_is_checkpointed_by_the_checkpointer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("y.db");
        let db = Db::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let automatic: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(automatic, 0);
        // The turn ends with the block, which wakes the checkpointer.
        {
            let mut write = db.begin_write().await.unwrap();
            sqlx::query("CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
                .execute(&mut *write.tx)
                .await
                .unwrap();
            // About 8 MiB in 2,000 rows: 2,000 pages and more in the WAL.
            for chunk in 0..20 {
                let mut params = Params::new(Backend::Sqlite);
                let sql = format!(
                    "INSERT INTO filler (id, body) VALUES {}",
                    params.rows(100, 2)
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for i in 0..100_i64 {
                    query = query.bind(chunk * 100 + i).bind("x".repeat(4_000));
                }
                query.execute(&mut *write.tx).await.unwrap();
            }
            write.tx.commit().await.unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let size = std::fs::metadata(&path).unwrap().len();
            if size > 8_000_000 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the database file is still {size} bytes: no checkpoint"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM filler")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(rows, 2_000);
        db.close().await;
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
