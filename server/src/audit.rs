//! The audit log: an append-only table with a row for every read or change
//! of personal data — who (`actor`: `citizen`, `enrolment`, `rp:<client id>`,
//! `admin`), what (`action`), whose (`subject`: a 网号, never an ID number)
//! and the request id that ties it to the server log. Nothing updates or
//! deletes these rows; operators read them through `GET /v1/admin/audit`.

use serde::Serialize;
use sqlx::Row;

use crate::db::Db;
use crate::error::{ApiError, current_request_id};
use crate::issuer::now;

/// Appends one entry, inside the caller's transaction or on the pool.
pub async fn record<'e, E>(
    executor: E,
    actor: &str,
    action: &str,
    subject: Option<&str>,
) -> Result<(), ApiError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, subject, request_id) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(now())
    .bind(actor)
    .bind(action)
    .bind(subject)
    .bind(current_request_id())
    .execute(executor)
    .await?;
    Ok(())
}

/// Appends one entry per distinct subject (same actor and action) inside
/// the caller's transaction, a few multi-row statements for a batch. A
/// subject named twice gets one entry: the two would be identical (same
/// time, actor, action, request and subject), e.g. a citizen sent two
/// recommendations by one matcher batch.
pub async fn record_many(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    actor: &str,
    action: &str,
    subjects: &[&str],
) -> Result<(), ApiError> {
    let backend = crate::db::Backend::of(tx);
    let (at, request_id) = (now(), current_request_id());
    let mut seen = std::collections::HashSet::with_capacity(subjects.len());
    let subjects: Vec<&str> = subjects
        .iter()
        .copied()
        .filter(|s| seen.insert(*s))
        .collect();
    for chunk in subjects.chunks(backend.rows_per_statement(5)) {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO audit_log (at, actor, action, request_id, subject) VALUES {}",
            crate::db::Params::new(backend).rows(chunk.len(), 5)
        )));
        for subject in chunk {
            query = query
                .bind(at)
                .bind(actor)
                .bind(action)
                .bind(request_id.as_str())
                .bind(*subject);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// One row of the log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Entry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub request_id: String,
}

/// A query: every filter optional, newest first, paged by id.
#[derive(Debug, Default)]
pub struct Filter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub subject: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub before: Option<i64>,
    pub limit: i64,
}

/// The entries matching `filter`. Every value is bound, never spliced.
pub async fn query(db: &Db, filter: &Filter) -> Result<Vec<Entry>, ApiError> {
    let rows = sqlx::query(
        "SELECT id, at, actor, action, subject, request_id FROM audit_log \
         WHERE ($1 IS NULL OR actor = $1) AND ($2 IS NULL OR action = $2) \
           AND ($3 IS NULL OR subject = $3) AND ($4 IS NULL OR at >= $4) \
           AND ($5 IS NULL OR at <= $5) AND ($6 IS NULL OR id < $6) \
         ORDER BY id DESC LIMIT $7",
    )
    .bind(filter.actor.as_deref())
    .bind(filter.action.as_deref())
    .bind(filter.subject.as_deref())
    .bind(filter.since)
    .bind(filter.until)
    .bind(filter.before)
    .bind(filter.limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Entry {
                id: row.try_get("id")?,
                at: row.try_get("at")?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                subject: row.try_get("subject")?,
                request_id: row.try_get("request_id")?,
            })
        })
        .collect()
}
