//! The OpenAPI 3 document of the receiver's HTTP API, generated from this
//! code (utoipa) and served at `/api-docs/openapi.json`, with Swagger UI at
//! `/swagger-ui/` (compiled in: nothing is fetched at build or run time).
//!
//! The handlers parse bodies by hand (so every error names the caller's
//! field), so the shapes are described here by schema types that mirror the
//! JSON; a test compares them with what the API really answers. The error
//! `code`s and the statuses they come with are taken from the one table in
//! `error.rs`, so a new code shows up here without anyone remembering to.
//!
//! Text fields carry the domain's rule (`checked_text`: not blank, no
//! control character, i.e. none of U+0000–U+001F and U+007F–U+009F) as a
//! `pattern`, written out at each (utoipa takes only literals), so that
//! whatever the document calls valid is accepted.
// The schema types only describe JSON; nothing constructs them.
#![allow(dead_code)]

use actix_web::web;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{RefOr, Response};
use utoipa::{IntoResponses, Modify, OpenApi, PartialSchema, ToSchema};
use utoipa_swagger_ui::SwaggerUi;

use crate::error::ErrorCode;

pub const DOCUMENT_PATH: &str = "/api-docs/openapi.json";

/// The body of `POST /api/backup-requests`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
struct NewBackupRequest {
    /// Must be `2022-05-22`.
    #[schema(example = "2022-05-22", pattern = "^2022-05-22$")]
    api_version: String,
    /// Not blank, no control characters.
    #[schema(min_length = 1, max_length = 50, example = "job-17",
             pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    backup_job_id: String,
    #[schema(format = Date, example = "2022-05-30")]
    data_date: String,
    /// Stored as `preparedDataPathName`. Not blank, no control characters.
    #[schema(min_length = 1, max_length = 250, example = "/prepared/job-17/2022-05-30",
             pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    backup_data_location: String,
}

/// Where a request is.
#[derive(ToSchema)]
enum StatusTypeCode {
    Received,
    Allowed,
    NotAllowed,
    Sent,
    Succeeded,
    Failed,
    Cancelled,
}

/// A backup request as stored (SPEC §2).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
struct BackupRequest {
    backup_request_id: String,
    backup_job_id: String,
    #[schema(format = Date)]
    data_date: String,
    prepared_data_path_name: String,
    status_type_code: StatusTypeCode,
    /// `HTTP` or `Queue`.
    transport_type_code: String,
    /// The caller's identity; empty when auth is off.
    requester_id: String,
    /// `""`, `Local`, `CloudA` or `CloudB`, copied from the job when allowed.
    backup_provider_code: String,
    storage_path_name: Option<String>,
    #[schema(format = DateTime)]
    received_timestamp: String,
    #[schema(format = DateTime)]
    checked_timestamp: Option<String>,
    #[schema(format = DateTime)]
    sent_to_interface_timestamp: Option<String>,
    #[schema(format = DateTime)]
    reply_timestamp: Option<String>,
    reply_message_text: Option<String>,
    not_allowed_reason: Option<String>,
}

/// The Backup recorded on the first `Succeeded` reply.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
struct Backup {
    backup_id: String,
    backup_request_id: String,
    backup_job_id: String,
    #[schema(format = Date)]
    data_date: String,
    backup_provider_code: String,
    days_to_keep_count: i32,
    hold_flag: bool,
    storage_path_name: String,
    backup_byte_count: i64,
    #[schema(format = DateTime)]
    copy_start_timestamp: String,
    #[schema(format = DateTime)]
    copy_end_timestamp: String,
    #[schema(format = DateTime)]
    verify_start_timestamp: Option<String>,
    #[schema(format = DateTime)]
    verify_end_timestamp: Option<String>,
    verify_hash_text: Option<String>,
    #[schema(format = Date)]
    due_to_delete_date: String,
}

/// A request with its Backup, once it exists.
#[derive(ToSchema)]
struct BackupRequestView {
    #[serde(flatten)]
    request: BackupRequest,
    backup: Option<Backup>,
}

/// One page of the list, newest first.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
struct RequestList {
    items: Vec<BackupRequest>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    next_cursor: Option<String>,
}

/// One status change.
#[derive(ToSchema)]
struct HistoryEntry {
    status: StatusTypeCode,
    #[schema(format = DateTime)]
    at: String,
    /// The process instance that made the change, such as `check-allowed-0`.
    by: String,
    /// The reason (not allowed, cancelled) or the interface's reply text.
    detail: Option<String>,
}

/// Every status change of a request, oldest first.
#[derive(ToSchema)]
struct History {
    items: Vec<HistoryEntry>,
}

/// Every error answer.
#[derive(ToSchema)]
struct ErrorBody {
    code: ErrorCode,
    /// Names the offending field as the caller spelled it.
    message: String,
}

impl PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("The stable error code; callers branch on it."))
            .enum_values(Some(ErrorCode::ALL.iter().map(|code| code.as_str())))
            .into()
    }
}

impl ToSchema for ErrorCode {}

/// The body of an action whose parameters are in its path and query: `{}`.
/// It must be sent as `application/json`, so that no web page can send it
/// from another site.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
struct NoParameters {}

/// A probe's answer.
#[derive(ToSchema)]
struct Probe {
    status: String,
}

#[utoipa::path(
    post,
    path = "/api/backup-requests",
    tag = "backup requests",
    description = "Stores a backup request as `Received`; answers only once the request and its \
                   `BackupRequestReceived` event are committed.",
    request_body(content = NewBackupRequest, content_type = "application/json"),
    params(
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 100, pattern = r"^[!-~]([ -~]*[!-~])?$",
         description = "1–100 visible ASCII characters: a repeat with the same key and body returns the original request (200)"),
        ("traceparent" = Option<String>, Header, description = "W3C trace context to continue; answered back in the `traceparent` response header"),
    ),
    responses(
        (status = 202, description = "Stored", body = BackupRequest,
         headers(("Location" = String, description = "/api/backup-requests/{backupRequestId}"))),
        (status = 200, description = "A repeat of an earlier request under the same `Idempotency-Key`", body = BackupRequest),
        (status = 400, body = ErrorBody),
        (status = 401, description = "Missing or invalid bearer token (SPEC §8, when auth is on)", body = ErrorBody),
        (status = 403, description = "The caller lacks the `post-backup-request` scope (SPEC §8)", body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 503, body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
fn post_backup_request() {}

#[utoipa::path(
    get,
    path = "/api/backup-requests/{backupRequestId}",
    tag = "backup requests",
    params(("backupRequestId" = String, Path, description = "As assigned by POST")),
    responses(
        (status = 200, description = "Every field, and the Backup once it exists", body = BackupRequestView),
        (status = 401, description = "Missing or invalid bearer token (SPEC §8, when auth is on)", body = ErrorBody),
        (status = 403, description = "The caller has neither `get-backup-request` nor `read-health` (SPEC §8)", body = ErrorBody),
        (status = 404, description = "Unknown, or another requester's without `read-health`", body = ErrorBody),
        (status = 503, body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
fn get_backup_request() {}

#[utoipa::path(
    get,
    path = "/api/backup-requests",
    tag = "backup requests",
    description = "Requests newest first (`receivedTimestamp`, then id), keyset-paginated. With \
                   `get-backup-request` only the caller's own requests, with `read-health` every requester's.",
    params(
        ("status" = Option<StatusTypeCode>, Query, description = "Only requests in this status"),
        ("backupJobId" = Option<String>, Query, min_length = 1, max_length = 50,
         pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
         description = "Only requests of this job"),
        ("requesterId" = Option<String>, Query, max_length = 255,
         pattern = r"^([^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*)?$",
         description = "Only requests of this requester; empty for those made with auth off"),
        ("receivedFrom" = Option<String>, Query, format = DateTime, description = "RFC 3339: received at or after"),
        ("receivedTo" = Option<String>, Query, format = DateTime, description = "RFC 3339: received before"),
        ("limit" = Option<u16>, Query, minimum = 1, maximum = 500, description = "1–500, default 50"),
        ("cursor" = Option<String>, Query,
         pattern = r"^((3[0-9]){1,16}3a(3[0-9]|6[1-6]){8}2d(3[0-9]|6[1-6]){4}2d(3[0-9]|6[1-6]){4}2d(3[0-9]|6[1-6]){4}2d(3[0-9]|6[1-6]){12})?$",
         description = "The `nextCursor` of the previous page; empty or absent for the first"),
    ),
    responses(
        (status = 200, description = "One page", body = RequestList),
        (status = 400, description = "An invalid filter, limit or cursor, named in the message", body = ErrorBody),
        (status = 401, description = "Missing or invalid bearer token (SPEC §8, when auth is on)", body = ErrorBody),
        (status = 403, description = "The caller has neither `get-backup-request` nor `read-health`", body = ErrorBody),
        (status = 503, body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
fn list_backup_requests() {}

#[utoipa::path(
    get,
    path = "/api/backup-requests/{backupRequestId}/history",
    tag = "backup requests",
    description = "Every status change, in order, recorded in the transaction that made it.",
    params(("backupRequestId" = String, Path, description = "As assigned by POST")),
    responses(
        (status = 200, description = "The history", body = History),
        (status = 401, description = "Missing or invalid bearer token (SPEC §8, when auth is on)", body = ErrorBody),
        (status = 403, description = "The caller has neither `get-backup-request` nor `read-health`", body = ErrorBody),
        (status = 404, description = "Unknown, or another requester's without `read-health`", body = ErrorBody),
        (status = 503, body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
fn backup_request_history() {}

#[utoipa::path(
    post,
    path = "/api/backup-requests/{backupRequestId}/cancel",
    tag = "backup requests",
    description = "Cancels a `Received` or `Allowed` request: it will not be checked or sent. The requester \
                   that submitted it may (`get-backup-request`), and `operate` may cancel any.",
    params(("backupRequestId" = String, Path, description = "As assigned by POST")),
    request_body(content = NoParameters, content_type = "application/json"),
    responses(
        (status = 200, description = "The request, now `Cancelled` (also when it already was)", body = BackupRequest),
        (status = 400, description = "A body other than `{}`", body = ErrorBody),
        (status = 401, description = "Missing or invalid bearer token (SPEC §8, when auth is on)", body = ErrorBody),
        (status = 403, description = "The caller has neither `get-backup-request` nor `operate`, or the request came \
                                      from another site's page", body = ErrorBody),
        (status = 404, description = "Unknown, or another requester's without `operate`", body = ErrorBody),
        (status = 409, description = "The request was sent to the interface or ended", body = ErrorBody),
        (status = 415, description = "Not sent as `application/json`", body = ErrorBody),
        (status = 503, body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
fn cancel_backup_request() {}

#[utoipa::path(
    post,
    path = "/api/operator/recovery",
    tag = "operations",
    description = "Re-emits every request still `Received` or `Allowed` (SPEC §6).",
    params(("olderThanSecs" = Option<u64>, Query, minimum = 0.0, maximum = 4294967295.0,
            description = "Only requests last changed this long ago, in seconds (default 0)")),
    request_body(content = NoParameters, content_type = "application/json"),
    responses(
        (status = 202, description = "The pass's summary, once its events are in the outbox"),
        (status = 400, body = ErrorBody),
        (status = 409, description = "Another recovery holds the lock", body = ErrorBody),
        (status = 503, body = ErrorBody),
        OperatorActionRefusals,
    )
)]
fn post_recovery() {}

/// What every operator action may answer before it runs.
#[derive(IntoResponses)]
enum OperatorActionRefusals {
    #[response(status = 401, description = "Missing or invalid bearer token (SPEC §8, when auth is on)")]
    Unauthorized(ErrorBody),
    #[response(status = 403, description = "The caller lacks the `operate` scope, or the request came from another site's page")]
    Forbidden(ErrorBody),
    #[response(status = 415, description = "Not sent as `application/json`")]
    NotJson(ErrorBody),
}

#[utoipa::path(get, path = "/api/zpages/livez", tag = "operations",
    responses((status = 200, body = Probe), (status = 503, description = "Stopping", body = Probe)))]
fn livez() {}

#[utoipa::path(get, path = "/api/zpages/readyz", tag = "operations",
    responses((status = 200, description = "A request could be stored now"), (status = 503, description = "Not ready")))]
fn readyz() {}

#[utoipa::path(get, path = "/api/zpages/healthz", tag = "operations",
    description = "This process: name, instance, host, pid, version, start time, uptime, memory, CPU, \
                   dependency states and HTTP request counts by route and status.",
    responses((status = 200, description = "This process's health", content_type = "application/json"),
              (status = 401, description = "Missing or invalid bearer token (SPEC §8, when auth is on)", body = ErrorBody),
              (status = 403, description = "The caller lacks the `read-health` scope", body = ErrorBody)))]
fn healthz() {}

#[utoipa::path(get, path = "/api/zpages/healthz/all", tag = "operations",
    description = "The whole system: every process heard from through its heartbeat (on any host; `stale` once \
                   silent for `heartbeat.stale_after_ms`), each work queue's depth, consumers, dead letters and \
                   waiting retries as the broker counts them, the BZI's queues with Azure's approximate counts, \
                   the outbox backlog and its oldest age, requests per \
                   status and the oldest `Received`, `Allowed` and `Sent` request's age. A part that cannot be read \
                   holds an `error` instead.",
    responses((status = 200, description = "The system's health", content_type = "application/json")))]
fn healthz_all() {}

#[utoipa::path(get, path = "/api/operator/dead-letters", tag = "operations",
    description = "Every parking queue (`<queue>.dead` of each work queue, and `store-statuses-poison`) with its count.",
    responses((status = 200, description = "`{queues: [{queue, count}]}`", content_type = "application/json"),
              (status = 503, body = ErrorBody)))]
fn dead_letter_counts() {}

#[utoipa::path(get, path = "/api/operator/dead-letters/{queue}", tag = "operations",
    description = "The parked messages of one queue, or with `messageId` the one message.",
    params(("queue" = String, Path, description = "check-allowed, send-to-interface, receive-status or store-statuses-poison"),
           ("limit" = Option<u64>, Query, minimum = 1.0, maximum = 10000.0, description = "At most this many (default 100)"),
           ("messageId" = Option<String>, Query, description = "Only this message")),
    responses((status = 200, description = "`{queue, items}`, or the one item", content_type = "application/json"),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
fn dead_letters_list() {}

#[utoipa::path(delete, path = "/api/operator/dead-letters/{queue}", tag = "operations",
    description = "Purges one parking queue.",
    params(("queue" = String, Path, description = "check-allowed, send-to-interface, receive-status or store-statuses-poison")),
    request_body(content = NoParameters, content_type = "application/json"),
    responses((status = 200, description = "`{queue, purged}`", content_type = "application/json"),
              (status = 400, description = "A body other than `{}`", body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 503, body = ErrorBody), OperatorActionRefusals))]
fn dead_letters_purge() {}

#[utoipa::path(post, path = "/api/operator/dead-letters/{queue}/replay", tag = "operations",
    description = "Puts parked messages back to work as first attempts: all of them, or with `messageId` one.",
    params(("queue" = String, Path, description = "check-allowed, send-to-interface, receive-status or store-statuses-poison"),
           ("messageId" = Option<String>, Query, description = "Only this message")),
    request_body(content = NoParameters, content_type = "application/json"),
    responses((status = 200, description = "`{queue, replayed}`", content_type = "application/json"),
              (status = 400, description = "A body other than `{}`", body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 503, body = ErrorBody), OperatorActionRefusals))]
fn dead_letters_replay() {}

#[utoipa::path(get, path = "/api/operator/stages", tag = "operations",
    description = "Every stage an operator can pause (SPEC §10), in pipeline order: \
                   `{stages: [{stage, state: running|paused, pausedBy, pausedAt}]}`; who paused it and when are null \
                   while it runs.",
    responses((status = 200, description = "The stages", content_type = "application/json"),
              (status = 401, description = "Missing or invalid bearer token (SPEC §8, when auth is on)", body = ErrorBody),
              (status = 403, description = "The caller lacks the `read-health` scope", body = ErrorBody),
              (status = 503, body = ErrorBody)))]
fn stages_list() {}

#[utoipa::path(post, path = "/api/operator/stages/{stage}/pause", tag = "operations",
    description = "Pauses a stage: within 5 s every copy of it, on every host, takes no new work (work in flight \
                   finishes) and its requests wait in their queue. A stage already paused keeps who paused it and when.",
    params(("stage" = String, Path, description = "check-allowed, send-to-interface, interface-listener, receive-status or notify-requesters")),
    request_body(content = NoParameters, content_type = "application/json"),
    responses((status = 200, description = "The stage's entry `{stage, state, pausedBy, pausedAt}`", content_type = "application/json"),
              (status = 400, description = "A body other than `{}`", body = ErrorBody),
              (status = 404, description = "No such stage", body = ErrorBody), (status = 503, body = ErrorBody), OperatorActionRefusals))]
fn stage_pause() {}

#[utoipa::path(post, path = "/api/operator/stages/{stage}/resume", tag = "operations",
    description = "Resumes a stage: its copies take the requests that waited in its queue.",
    params(("stage" = String, Path, description = "check-allowed, send-to-interface, interface-listener, receive-status or notify-requesters")),
    request_body(content = NoParameters, content_type = "application/json"),
    responses((status = 200, description = "The stage's entry `{stage, state, pausedBy, pausedAt}`", content_type = "application/json"),
              (status = 400, description = "A body other than `{}`", body = ErrorBody),
              (status = 404, description = "No such stage", body = ErrorBody), (status = 503, body = ErrorBody), OperatorActionRefusals))]
fn stage_resume() {}

#[utoipa::path(get, path = "/dashboard", tag = "operations",
    description = "The operator dashboard: one page whose script and style (`/dashboard/app.js`, `/dashboard/app.css`) \
                   are compiled into the receiver. It reads the API below with the bearer token it asks for.",
    responses((status = 200, description = "The page", content_type = "text/html", body = String)))]
fn dashboard() {}

#[utoipa::path(get, path = "/api/dashboard/samples", tag = "operations",
    description = "The dashboard's last hour, sampled every `intervalSeconds` into a ring kept in memory: \
                   `{intervalSeconds, items: [{at, requests (per status), changes (status changes since the sample \
                   before, by status reached), queues (as in healthz/all)}]}`, oldest first.",
    responses((status = 200, description = "The samples", content_type = "application/json"),
              (status = 401, description = "Missing or invalid bearer token (SPEC §8, when auth is on)", body = ErrorBody),
              (status = 403, description = "The caller lacks the `read-health` scope", body = ErrorBody)))]
fn dashboard_samples() {}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
fn metrics() {}

#[derive(OpenApi)]
#[openapi(
    info(title = "linebacker http-receiver", description = "Backup requests intake (SPEC §3) and operations (SPEC §7)."),
    paths(
        post_backup_request,
        get_backup_request,
        list_backup_requests,
        backup_request_history,
        cancel_backup_request,
        post_recovery,
        livez,
        readyz,
        healthz,
        healthz_all,
        dead_letter_counts,
        dead_letters_list,
        dead_letters_purge,
        dead_letters_replay,
        stages_list,
        stage_pause,
        stage_resume,
        dashboard,
        dashboard_samples,
        metrics,
    ),
    components(schemas(NewBackupRequest, BackupRequest, BackupRequestView, Backup, RequestList, History, HistoryEntry, ErrorBody, ErrorCode, StatusTypeCode, NoParameters)),
    modifiers(&ErrorCodesPerStatus),
)]
struct ApiDoc;

/// Writes into each error response which `code`s it may carry, from the
/// table in `error.rs`; a response with neither codes nor a description of
/// its own is described by its status.
struct ErrorCodesPerStatus;

impl Modify for ErrorCodesPerStatus {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                for (status, response) in operation.responses.responses.iter_mut() {
                    if let RefOr::T(response) = response {
                        describe_codes(status, response);
                    }
                }
            }
        }
    }
}

fn describe_codes(status: &str, response: &mut Response) {
    let codes: Vec<&str> = ErrorCode::ALL
        .iter()
        .filter(|code| code.status().as_str() == status)
        .map(|code| code.as_str())
        .collect();
    if codes.is_empty() {
        // OpenAPI requires a description on every response.
        if response.description.is_empty() {
            let reason = status.parse().ok().and_then(|s| actix_web::http::StatusCode::from_u16(s).ok());
            response.description = reason.and_then(|s| s.canonical_reason()).unwrap_or("Answer").to_owned();
        }
        return;
    }
    let codes = format!("`code`: {}", codes.join(", "));
    response.description =
        if response.description.is_empty() { codes } else { format!("{}. {codes}", response.description) };
}

/// The document, as served.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Registers the document and Swagger UI. `/swagger-ui` without the slash
/// is where people type it: it redirects to the UI.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(web::redirect("/swagger-ui", "/swagger-ui/"))
        .service(SwaggerUi::new("/swagger-ui/{_:.*}").url(DOCUMENT_PATH, document()));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_error_code_of_the_table_is_in_the_document() {
        let json = serde_json::to_value(document()).unwrap();
        let listed = &json["components"]["schemas"]["ErrorCode"]["enum"];
        for code in ErrorCode::ALL {
            assert!(listed.as_array().unwrap().iter().any(|c| c == code.as_str()), "{}", code.as_str());
        }
        let bad_request = json["paths"]["/api/backup-requests"]["post"]["responses"]["400"]["description"].as_str().unwrap();
        for code in ["InvalidJson", "InvalidApiVersion", "BadData"] {
            assert!(bad_request.contains(code), "{bad_request}");
        }
    }
}
