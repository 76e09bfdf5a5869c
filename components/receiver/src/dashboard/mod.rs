//! The operator dashboard (SPEC §7): `GET /dashboard`, its script and style
//! compiled into the binary (nothing from a CDN, nothing fetched at run
//! time), and `GET /api/dashboard/samples`, the last hour of samples the
//! receiver keeps in memory for the plots.
//!
//! The page reads the same API an operator would (`healthz/all`, the list,
//! history and cancel, the dead-letter operations), with the bearer token it
//! asks for when auth is on, kept in the tab's `sessionStorage`. The assets
//! themselves hold no data and need no token.

pub mod ring;
pub mod samples;

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::auth::{Authorized, ReadHealth};
use crate::state::ApiState;

const PAGE: &str = include_str!("index.html");
const SCRIPT: &str = include_str!("app.js");
const STYLE: &str = include_str!("app.css");

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // The page loads only its own script and style, talks only to
        // this receiver, and is never framed (a frame could lure a click on
        // its buttons).
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; \
             frame-ancestors 'none'",
        ))
        .body(body)
}

async fn page() -> HttpResponse {
    asset("text/html; charset=utf-8", PAGE)
}

async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLE)
}

/// `GET /api/dashboard/samples`: `{intervalSeconds, items: [sample...]}`, oldest first.
async fn samples(_caller: Authorized<ReadHealth>, state: web::Data<ApiState>) -> HttpResponse {
    HttpResponse::Ok().json(state.samples.snapshot())
}

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/dashboard").route(web::get().to(page)))
        .service(web::resource("/dashboard/app.js").route(web::get().to(script)))
        .service(web::resource("/dashboard/app.css").route(web::get().to(style)))
        .service(web::resource("/api/dashboard/samples").route(web::get().to(samples)));
}
