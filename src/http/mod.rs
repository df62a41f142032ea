//! The HTTP surface: the router, its layers, and extractors that turn every bad input into an
//! `AppError` (never axum's plain-text rejections).

pub mod api;
pub mod assets;
mod drain;
mod help;
pub mod proxy;
pub mod serve;

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::error::AppError;
use crate::state::AppState;

/// JSON body; malformed JSON → 400 `invalid_json`, wrong types or missing fields → 422
/// `invalid_body`, too large → 413, wrong content type → 415.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rej) => Err(json_rejection(rej)),
        }
    }
}

fn json_rejection(rej: JsonRejection) -> AppError {
    match rej {
        JsonRejection::JsonSyntaxError(e) => AppError::bad_request(
            "invalid_json",
            format!("the body is not valid JSON: {}", e.body_text()),
        ),
        JsonRejection::JsonDataError(e) => {
            let text = e.body_text();
            let field = text
                .split("at `")
                .nth(1)
                .or_else(|| text.split('`').nth(1))
                .and_then(|s| s.split('`').next())
                .map(str::to_string);
            let mut err = AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", text);
            err.field = field;
            err
        }
        JsonRejection::MissingJsonContentType(_) => AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json",
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the body is larger than this endpoint accepts",
        ),
        other => AppError::bad_request("invalid_body", other.body_text()),
    }
}

/// Path parameters; a non-numeric id → 400 `invalid_id`.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, AppError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e: PathRejection| {
                AppError::bad_request(
                    "invalid_id",
                    format!("bad path parameter: {}", e.body_text()),
                )
            })
    }
}

/// Query string; wrong types → 400 `invalid_query`.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, AppError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| AppError::bad_request("invalid_query", e.body_text()))
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Atiende API", description = "The public HTTP API of Atiende (see API.md)."),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&SecurityAddon)
)]
struct ApiDoc;

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document, generated from the routed handlers.
#[cfg(test)]
pub fn openapi() -> utoipa::openapi::OpenApi {
    let c = crate::config::Config::default();
    api::routes(
        OpenApiRouter::with_openapi(ApiDoc::openapi()),
        c.max_body_bytes,
        c.max_upload_bytes,
    )
    .split_for_parts()
    .1
}

pub fn router(state: AppState) -> Router {
    let (api, doc) = api::routes(
        OpenApiRouter::with_openapi(ApiDoc::openapi()),
        state.config.max_body_bytes,
        state.config.max_upload_bytes,
    )
    .split_for_parts();
    let doc = Arc::new(doc);
    Router::new()
        .merge(api)
        .route("/api/openapi.json", get(move || async move { Json(doc.as_ref().clone()) }))
        .route("/healthz", get(api::health::healthz))
        .merge(crate::channels::pages(state.config.max_upload_bytes))
        .route("/status", get(api::status::page))
        .route("/ayuda", get(help::page))
        .route("/metrics", get(api::status::metrics))
        .merge(assets::routes())
        .fallback(fallback)
        .layer(axum::middleware::from_fn(drain::drain_refused_body))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            ),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            proxy::forwarded,
        ))
        .layer(TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn_with_state(state.clone(), count_request))
        .with_state(state)
}

/// Counts every response and its time to headers for /metrics.
async fn count_request(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    state
        .metrics
        .observe(res.status().as_u16(), started.elapsed());
    res
}

/// Text made safe inside HTML elements and quoted attributes (pages the server renders).
pub fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

async fn fallback(req: Request) -> impl IntoResponse {
    AppError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no such endpoint: {} {}", req.method(), req.uri().path()),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn openapi_lists_the_contract_paths() {
        let doc = super::openapi();
        for p in [
            "/api/v1/session",
            "/api/v1/me",
            "/api/v1/users/{id}/deactivate",
            "/api/v1/accounts/{id}/inbound",
            "/api/v1/tickets",
            "/api/v1/tickets/{number}/merge",
            "/api/v1/tickets/bulk",
            "/api/v1/contacts/{id}/link",
            "/api/v1/search",
            "/api/v1/uploads",
            "/api/v1/attachments/{id}",
            "/api/v1/events",
            "/api/v1/canned_responses",
            "/api/v1/assignment",
        ] {
            assert!(
                doc.paths.paths.contains_key(p),
                "{p} missing from the OpenAPI document"
            );
        }
    }
}
