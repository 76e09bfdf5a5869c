//! The HTTP routes of the receiver (SPEC §3 and the zpages of §7), and the
//! answers to what no route serves.

mod backup_requests;
mod bodies;
mod browse;
pub(crate) mod metrics;
pub(crate) mod operator_dead_letters;
mod operator_recovery;
mod operator_stages;
pub mod zpages;


use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::error::{ApiError, ErrorCode};

/// Registers every route; anything else is answered in the same JSON shape
/// (an unknown path by `not_found`, a method a path does not serve by
/// `method_not_allowed_as_json`).
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/api/backup-requests")
                .route(web::post().to(backup_requests::create))
                .route(web::get().to(browse::list)),
        )
        .service(
            web::resource("/api/backup-requests/{backupRequestId}")
                .route(web::get().to(backup_requests::get)),
        )
        .service(
            web::resource("/api/backup-requests/{backupRequestId}/history")
                .route(web::get().to(browse::history)),
        )
        .service(
            web::resource("/api/backup-requests/{backupRequestId}/cancel")
                .route(web::post().to(browse::cancel)),
        )
        .service(
            web::resource("/api/operator/recovery")
                .route(web::post().to(operator_recovery::recover)),
        )
        .configure(operator_dead_letters::routes)
        .configure(operator_stages::routes)
        .configure(crate::dashboard::routes)
        .service(web::resource("/api/zpages/livez").route(web::get().to(zpages::livez)))
        .service(web::resource("/api/zpages/readyz").route(web::get().to(zpages::readyz)))
        .service(web::resource("/api/zpages/healthz").route(web::get().to(zpages::healthz)))
        .service(web::resource("/api/zpages/healthz/all").route(web::get().to(zpages::healthz_all)));
}

pub async fn not_found(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(ErrorCode::NotFound, format!("no route for {}", request.path())))
}

/// A method a resource does not serve: actix answers 405 with the `Allow`
/// header listing the methods it does serve (RFC 9110 §15.5.6); this gives
/// that answer the JSON shape of every other error, keeping `Allow`.
pub fn method_not_allowed_as_json<B>(response: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let (request, answered) = response.into_parts();
    let mut json = ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{} is not allowed on {}", request.method(), request.path()),
    )
    .error_response();
    if let Some(allow) = answered.headers().get(header::ALLOW) {
        json.headers_mut().insert(header::ALLOW, allow.clone());
    }
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(request, json).map_into_right_body()))
}
