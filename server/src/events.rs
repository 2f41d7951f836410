//! Life events from departments (`POST /v1/events`): a birth registered, a
//! marriage, a licence issued or about to expire, a move, a retirement, a
//! death, an application's status. Departments are service clients whose
//! scopes name the event types they may post (`events:birth_registered`, …).
//!
//! A batch holds up to 500 events; each is checked on its own and answered
//! on its own line (accepted, duplicate or rejected with its code), so one
//! bad event does not hold up the others. An event names its citizen by ID
//! number (looked up by its keyed hash, never stored) or by 网号, and is
//! stored by 网号, once per sender and event id: the same id again is a
//! duplicate, or rejected if its content differs. Accepted events wait,
//! `pending`, for the recommendation engine.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use yiwang_core::identity::IdNumber;

use crate::AppState;
use crate::clients;
use crate::db::Params;
use crate::error::{ApiError, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_events))
        // A full batch is larger than other requests' bodies.
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
}

/// The largest batch body accepted: 500 events of up to 2 KiB.
pub const BODY_LIMIT: usize = MAX_BATCH * 2048;

/// Most events in one request.
pub const MAX_BATCH: usize = 500;

/// A `data` key of an event type: (key, kind, required).
pub type DataField = (&'static str, Kind, bool);

/// Event types and the keys of their `data`.
pub const EVENT_TYPES: &[(&str, &[DataField])] = &[
    (
        "birth_registered",
        &[
            ("child_birth_date", Kind::Date, true),
            ("child_sex", Kind::OneOf(&["male", "female"]), false),
        ],
    ),
    (
        "marriage_registered",
        &[("registered_on", Kind::Date, true)],
    ),
    (
        "licence_issued",
        &[
            ("licence_type", Kind::LicenceType, true),
            ("licence_id", Kind::LicenceId, false),
            ("valid_until", Kind::Date, false),
        ],
    ),
    (
        "licence_expiring",
        &[
            ("licence_type", Kind::LicenceType, true),
            ("expires_on", Kind::Date, true),
        ],
    ),
    ("residence_changed", &[("region_code", Kind::Region, true)]),
    ("retired", &[("retired_on", Kind::Date, true)]),
    (
        "death_registered",
        &[
            ("died_on", Kind::Date, true),
            (
                "relation",
                Kind::OneOf(&["spouse", "child", "parent", "sibling", "other"]),
                true,
            ),
        ],
    ),
    (
        "application_status_changed",
        &[
            ("receipt", Kind::Receipt, true),
            (
                "status",
                Kind::OneOf(&[
                    "accepted",
                    "needs_supplement",
                    "approved",
                    "rejected",
                    "completed",
                ]),
                true,
            ),
        ],
    ),
];

/// What a `data` value must be.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// `YYYY-MM-DD`, a real date.
    Date,
    /// A 21-character GB/T 36904 licence type code.
    LicenceType,
    /// A GB/T 36904 licence identifier (check character verified).
    LicenceId,
    /// A GB/T 2260 region code (6 digits, known province).
    Region,
    /// An application's receipt number: 1-40 characters of `A-Z 0-9 -`.
    Receipt,
    OneOf(&'static [&'static str]),
}

/// The scope that allows posting `event_type`.
pub fn scope(event_type: &str) -> String {
    format!("events:{event_type}")
}

/// Whether `scope` is an event scope of a known type.
pub fn is_event_scope(scope: &str) -> bool {
    scope
        .strip_prefix("events:")
        .is_some_and(|t| EVENT_TYPES.iter().any(|(name, _)| *name == t))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    /// 1-500 events, each `{"event_id", "type", "subject": {"id_number"} |
    /// {"network_id"}, "occurred_at" (Unix s), "data": {…}}`.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<Value>,
}

/// The answer for one event, in the batch's order.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct EventResult {
    /// As sent (absent if it was not a string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// `accepted`, `duplicate` (this id was accepted before with the same
    /// content) or `rejected`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventBatchResult {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: usize,
    pub results: Vec<EventResult>,
}

/// An event that passed its checks, its citizen not yet looked up.
#[derive(Debug)]
struct Checked {
    index: usize,
    event_id: String,
    event_type: &'static str,
    subject: Subject,
    occurred_ms: i64,
    /// `data` as checked, keys sorted.
    data: String,
}

#[derive(Debug)]
enum Subject {
    /// The keyed hash of the ID number.
    PersonKey(String),
    NetworkId(String),
}

struct Rejection {
    code: &'static str,
    message: String,
}

fn reject(code: &'static str, message: impl Into<String>) -> Rejection {
    Rejection {
        code,
        message: message.into(),
    }
}

const ENVELOPE_KEYS: &[&str] = &["event_id", "type", "subject", "occurred_at", "data"];

fn is_event_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn is_network_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Checks one event: shape, type, scope, data. `allowed` is the sender's
/// event types (`None`: all, the admin).
fn check(
    state: &AppState,
    index: usize,
    event: &Value,
    allowed: Option<&[String]>,
) -> Result<Checked, Rejection> {
    let at = |key: &str| format!("events[{index}].{key}");
    let object = event
        .as_object()
        .ok_or_else(|| reject("YW-4801", format!("events[{index}]: an object")))?;
    if let Some(key) = object.keys().find(|k| !ENVELOPE_KEYS.contains(&k.as_str())) {
        let key: String = key.chars().take(32).collect();
        return Err(reject("YW-4801", format!("{}: unknown key", at(&key))));
    }
    let event_id = object
        .get("event_id")
        .and_then(Value::as_str)
        .filter(|s| is_event_id(s))
        .ok_or_else(|| {
            reject(
                "YW-4801",
                format!("{}: 1-64 characters of A-Z a-z 0-9 - _ . :", at("event_id")),
            )
        })?
        .to_owned();
    let type_name = object
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| reject("YW-4801", format!("{}: a string", at("type"))))?;
    let (event_type, fields) = EVENT_TYPES
        .iter()
        .find(|(name, _)| *name == type_name)
        .ok_or_else(|| reject("YW-4802", format!("{}: unknown event type", at("type"))))?;
    if let Some(allowed) = allowed
        && !allowed.iter().any(|t| t == event_type)
    {
        return Err(reject(
            "YW-4803",
            format!("{}: this client may not post {event_type}", at("type")),
        ));
    }
    let subject = match object.get("subject").and_then(Value::as_object) {
        Some(s) if s.len() == 1 => match (s.get("id_number"), s.get("network_id")) {
            (Some(Value::String(number)), None) => {
                // The parse error names the position at fault, never the value.
                let number = IdNumber::parse(number).map_err(|e| {
                    reject(
                        "YW-4801",
                        format!(
                            "{}: not a valid ID number ({})",
                            at("subject.id_number"),
                            e.code()
                        ),
                    )
                })?;
                Subject::PersonKey(state.issuer().issuer().person_key(&number))
            }
            (None, Some(Value::String(id))) if is_network_id(id) => Subject::NetworkId(id.clone()),
            _ => {
                return Err(reject(
                    "YW-4801",
                    format!("{}: {{\"id_number\"}} or {{\"network_id\"}}", at("subject")),
                ));
            }
        },
        _ => {
            return Err(reject(
                "YW-4801",
                format!("{}: {{\"id_number\"}} or {{\"network_id\"}}", at("subject")),
            ));
        }
    };
    let now_s = crate::issuer::now();
    let occurred_at = object
        .get("occurred_at")
        .and_then(Value::as_i64)
        // From 1900 to a day ahead (clocks differ).
        .filter(|t| (-2_208_988_800..=now_s + 86_400).contains(t))
        .ok_or_else(|| {
            reject(
                "YW-4801",
                format!("{}: Unix seconds, not in the future", at("occurred_at")),
            )
        })?;
    let data = object
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(|| reject("YW-4804", format!("{}: an object", at("data"))))?;
    let checked =
        check_data(event_type, fields, data, &at).map_err(|message| reject("YW-4804", message))?;
    Ok(Checked {
        index,
        event_id,
        event_type,
        subject,
        occurred_ms: occurred_at * 1000,
        data: serde_json::to_string(&checked).unwrap_or_default(),
    })
}

/// Checks an event's `data` against its type's fields (the console's dry
/// run too): `Err` is the message, starting with the path (`at("data.…")`).
pub(crate) fn check_data(
    event_type: &str,
    fields: &[DataField],
    data: &serde_json::Map<String, Value>,
    at: &dyn Fn(&str) -> String,
) -> Result<BTreeMap<String, Value>, String> {
    let mut checked = BTreeMap::new();
    for (key, value) in data {
        let Some((_, kind, _)) = fields.iter().find(|(name, _, _)| name == key) else {
            let key: String = key.chars().take(32).collect();
            return Err(format!(
                "{}: not a field of {event_type}",
                at(&format!("data.{key}"))
            ));
        };
        check_value(*kind, value)
            .map_err(|wanted| format!("{}: {wanted}", at(&format!("data.{key}"))))?;
        checked.insert(key.clone(), value.clone());
    }
    if let Some((missing, _, _)) = fields
        .iter()
        .find(|(name, _, required)| *required && !data.contains_key(*name))
    {
        return Err(format!(
            "{}: required for {event_type}",
            at(&format!("data.{missing}"))
        ));
    }
    Ok(checked)
}

/// `Err` says what the value should be.
pub(crate) fn check_value(kind: Kind, value: &Value) -> Result<(), String> {
    let text = value.as_str().ok_or("a string")?;
    let ok = match kind {
        Kind::Date => jiff::civil::Date::strptime("%Y-%m-%d", text).is_ok() && text.len() == 10,
        Kind::LicenceType => yiwang_core::forms::is_licence_type_code(text),
        Kind::LicenceId => yiwang_core::identity::LicenceId::parse(text).is_ok(),
        Kind::Region => yiwang_core::identity::RegionCode::parse(text).is_ok(),
        Kind::Receipt => {
            (1..=40).contains(&text.len())
                && text
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        }
        Kind::OneOf(options) => options.contains(&text),
    };
    if ok {
        return Ok(());
    }
    Err(match kind {
        Kind::Date => "a date YYYY-MM-DD".to_owned(),
        Kind::LicenceType => "a 21-character licence type code".to_owned(),
        Kind::LicenceId => "a GB/T 36904 licence identifier".to_owned(),
        Kind::Region => "a 6-digit region code".to_owned(),
        Kind::Receipt => "1-40 characters of A-Z 0-9 -".to_owned(),
        Kind::OneOf(options) => format!("one of {}", options.join(", ")),
    })
}

fn digest(event: &Checked, network_id: &str) -> String {
    let text = format!(
        "{}\n{network_id}\n{}\n{}",
        event.event_type, event.occurred_ms, event.data
    );
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes()).as_ref())
}

fn reused(result: &mut EventResult, index: usize) {
    result.status = "rejected";
    result.code = Some("YW-4806");
    result.message = Some(format!(
        "events[{index}].event_id: used before for another event"
    ));
}

/// Puts events (by `events.id`) in the matcher's queue, `pending_events`:
/// an event is pending exactly while it is there.
pub(crate) async fn queue(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    ids: &[i64],
) -> Result<(), ApiError> {
    let backend = crate::db::Backend::of(tx);
    for chunk in ids.chunks(backend.rows_per_statement(1)) {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO pending_events (id) VALUES {}",
            Params::new(backend).rows(chunk.len(), 1)
        )));
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// An event the server raises itself (the licence library, applications):
/// `data` is its JSON.
pub(crate) struct OwnEvent<'a> {
    pub source: &'a str,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub network_id: &'a str,
    pub at_ms: i64,
    pub data: &'a str,
}

/// Stores `event` in `tx` and queues it for the matcher, unless its source
/// stored that event id before; whether it was new.
pub(crate) async fn insert_own(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    event: OwnEvent<'_>,
) -> Result<bool, ApiError> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO events (source, event_id, event_type, network_id, occurred_ms, data, digest, \
         received_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $5) \
         ON CONFLICT (source, event_id) DO NOTHING RETURNING id",
    )
    .bind(event.source)
    .bind(event.event_id)
    .bind(event.event_type)
    .bind(event.network_id)
    .bind(event.at_ms)
    .bind(event.data)
    .bind(hex::encode(
        yiwang_core::crypto::Suite::Intl.hash(event.data.as_bytes()),
    ))
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(id) = id {
        queue(tx, &[id]).await?;
    }
    Ok(id.is_some())
}

/// `POST /v1/events` → 200 with one result per event.
#[utoipa::path(post, path = "/v1/events", tag = "events",
    security(("client" = []), ("admin" = [])),
    request_body = EventBatch, responses(
    (status = 200, description = "Each event's result, in order: accepted, duplicate or rejected (YW-4801 malformed, YW-4802 unknown type, YW-4803 type outside the client's scopes, YW-4804 bad data for the type, YW-4805 unknown citizen, YW-4806 event id reused with other content)", body = EventBatchResult),
    (status = 401, description = "YW-4023 service client authentication required", body = ErrorBody),
    (status = 403, description = "YW-4033 the client may post no event type", body = ErrorBody),
    (status = 413, description = "YW-4004 the body is over 1 MiB", body = ErrorBody),
    (status = 422, description = "YW-4002 not `{\"events\": […]}`, YW-4807 not 1-500 events", body = ErrorBody)))]
async fn post_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<EventBatch>, JsonRejection>,
) -> Result<Json<EventBatchResult>, ApiError> {
    let all_scopes: Vec<String> = EVENT_TYPES.iter().map(|(t, _)| scope(t)).collect();
    let wanted: Vec<&str> = all_scopes.iter().map(String::as_str).collect();
    let sender = clients::authenticate_any(&state, &headers, &wanted).await?;
    // Not JSON, not `{"events": [...]}`, too large: YW-4001..4004.
    let Json(batch) = body?;
    if batch.events.is_empty() || batch.events.len() > MAX_BATCH {
        return Err(ApiError::unprocessable(
            "YW-4807",
            format!("events: 1-{MAX_BATCH} events"),
        ));
    }
    // The event types this sender may post; the admin may post any.
    let allowed: Option<Vec<String>> = sender.client_id.as_ref().map(|_| {
        sender
            .scopes
            .iter()
            .filter_map(|s| s.strip_prefix("events:").map(str::to_owned))
            .collect()
    });
    let source = sender
        .client_id
        .clone()
        .unwrap_or_else(|| "admin".to_owned());
    let mut results: Vec<EventResult> = batch
        .events
        .iter()
        .map(|e| EventResult {
            event_id: e
                .get("event_id")
                .and_then(Value::as_str)
                .map(|s| s.chars().take(64).collect()),
            status: "rejected",
            code: None,
            message: None,
        })
        .collect();
    let mut checked = Vec::new();
    for (index, event) in batch.events.iter().enumerate() {
        match check(&state, index, event, allowed.as_deref()) {
            Ok(event) => checked.push(event),
            Err(r) => {
                results[index].code = Some(r.code);
                results[index].message = Some(r.message);
            }
        }
    }

    // The citizens, in one query per kind of subject.
    let mut by_key: HashMap<String, String> = HashMap::new();
    let keys: Vec<&str> = checked
        .iter()
        .filter_map(|e| match &e.subject {
            Subject::PersonKey(k) => Some(k.as_str()),
            Subject::NetworkId(_) => None,
        })
        .collect();
    let ids: Vec<&str> = checked
        .iter()
        .filter_map(|e| match &e.subject {
            Subject::NetworkId(id) => Some(id.as_str()),
            Subject::PersonKey(_) => None,
        })
        .collect();
    let pool = state.db().pool();
    let backend = state.db().backend();
    for chunk in keys.chunks(backend.rows_per_statement(1)) {
        let sql = format!(
            "SELECT person_key, network_id FROM accounts WHERE person_key IN ({})",
            Params::new(backend).list(chunk.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for key in chunk {
            query = query.bind(*key);
        }
        for row in query.fetch_all(pool).await? {
            by_key.insert(row.try_get("person_key")?, row.try_get("network_id")?);
        }
    }
    let mut known_ids = std::collections::HashSet::new();
    for chunk in ids.chunks(backend.rows_per_statement(1)) {
        let sql = format!(
            "SELECT network_id FROM accounts WHERE network_id IN ({})",
            Params::new(backend).list(chunk.len())
        );
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(*id);
        }
        known_ids.extend(query.fetch_all(pool).await?);
    }

    let now = crate::push::now_ms();
    // Each event's citizen, or its refusal; a repeated event id within the
    // batch is judged against its first occurrence.
    let mut first: HashMap<&str, (usize, String)> = HashMap::new();
    let mut rows: Vec<(&Checked, String, String)> = Vec::new();
    let mut repeats: Vec<(usize, bool, usize)> = Vec::new();
    for event in &checked {
        let network_id = match &event.subject {
            Subject::PersonKey(key) => by_key.get(key).cloned(),
            Subject::NetworkId(id) => known_ids.contains(id).then(|| id.clone()),
        };
        let Some(network_id) = network_id else {
            let result = &mut results[event.index];
            result.code = Some("YW-4805");
            result.message = Some(format!(
                "events[{}].subject: no account for this citizen",
                event.index
            ));
            continue;
        };
        let digest = digest(event, &network_id);
        if let Some((index, earlier)) = first.get(event.event_id.as_str()) {
            repeats.push((event.index, *earlier == digest, *index));
            continue;
        }
        first.insert(&event.event_id, (event.index, digest.clone()));
        rows.push((event, network_id, digest));
    }

    // Stored set-wise: the new ones come back from RETURNING; for the
    // others, the stored digest tells a repeat from a reused id.
    let mut write = state.db().begin_write().await?;
    let tx = &mut write.tx;
    let mut accepted: Vec<&str> = Vec::new();
    for chunk in rows.chunks(backend.rows_per_statement(8)) {
        let mut params = Params::new(backend);
        let values: Vec<String> = (0..chunk.len())
            .map(|_| format!("({})", params.list(8)))
            .collect();
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO events (source, received_ms, event_id, event_type, network_id, \
             occurred_ms, data, digest) VALUES {} \
             ON CONFLICT (source, event_id) DO NOTHING RETURNING id, event_id",
            values.join(", ")
        )));
        for (event, network_id, digest) in chunk {
            query = query
                .bind(&source)
                .bind(now)
                .bind(event.event_id.as_str())
                .bind(event.event_type)
                .bind(network_id.as_str())
                .bind(event.occurred_ms)
                .bind(event.data.as_str())
                .bind(digest.as_str());
        }
        let mut inserted = std::collections::HashSet::new();
        let mut ids = Vec::with_capacity(chunk.len());
        for row in query.fetch_all(&mut **tx).await? {
            inserted.insert(row.try_get::<String, _>("event_id")?);
            ids.push(row.try_get::<i64, _>("id")?);
        }
        queue(tx, &ids).await?;
        let mut earlier = Vec::new();
        for (event, network_id, digest) in chunk {
            if inserted.contains(&event.event_id) {
                results[event.index].status = "accepted";
                accepted.push(network_id.as_str());
            } else {
                earlier.push((event, digest));
            }
        }
        if earlier.is_empty() {
            continue;
        }
        let mut params = Params::new(backend);
        let sql = format!(
            "SELECT event_id, digest FROM events WHERE source = {} AND event_id IN ({})",
            params.one(),
            params.list(earlier.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&source);
        for (event, _) in &earlier {
            query = query.bind(event.event_id.as_str());
        }
        let stored: HashMap<String, String> = query
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|row| Ok((row.try_get("event_id")?, row.try_get("digest")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        for (event, digest) in earlier {
            if stored.get(&event.event_id) == Some(digest) {
                results[event.index].status = "duplicate";
            } else {
                reused(&mut results[event.index], event.index);
            }
        }
    }
    // A repeat within the batch: a duplicate of its first occurrence, or a
    // reused id when the content differs.
    for (index, same, first_index) in repeats {
        if !same {
            reused(&mut results[index], index);
        } else if results[first_index].status == "rejected" {
            results[index] = results[first_index].clone();
            results[index].message = Some(format!(
                "events[{index}].event_id: used before for another event"
            ));
        } else {
            results[index].status = "duplicate";
        }
    }
    crate::audit::record_many(tx, &sender.actor, "event.received", &accepted).await?;
    write.tx.commit().await?;
    state.events_wake().notify_waiters();
    let count = |status: &str| results.iter().filter(|r| r.status == status).count();
    Ok(Json(EventBatchResult {
        accepted: count("accepted"),
        duplicates: count("duplicate"),
        rejected: count("rejected"),
        results,
    }))
}
