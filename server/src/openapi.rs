//! The OpenAPI 3.1 document (`GET /openapi.json`), generated from the
//! handlers' `#[utoipa::path]` annotations as the routers are built, so the
//! document and the routes cannot drift apart.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "yiwang",
        description = "Government-services backend: 网证 enrolment, login, scan-to-login for websites. \
                       Errors are `{code, message, request_id}` with stable YW-xxxx codes (docs/formats.md).",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "identity", description = "Enrolment (网证 issuance), the issuer key and its status list"),
        (name = "auth", description = "Login with the 网证, tokens, JWKS"),
        (name = "accounts", description = "The citizen's account and devices"),
        (name = "scan-to-login", description = "Websites' scan-to-login (扫码登录) and ID tokens"),
        (name = "push", description = "Push registration, the inbox, sending notifications and their status"),
        (name = "recommendations", description = "Proactive recommendations: rule sets, the feed, consent and opt-outs"),
        (name = "events", description = "Life events posted by departments"),
        (name = "catalog", description = "The service catalog: matters (事项), their versions and forms"),
        (name = "library", description = "The e-licence library (电子证照库): licence types and the trust list"),
        (name = "admin", description = "Operator routes (admin token)"),
        (name = "operations", description = "Probes, metrics, this document"),
    )
)]
pub struct ApiDoc;

/// `bearer` (a citizen's access token), `admin` (the admin token), `client`
/// (a relying party's or service client's HTTP Basic credentials).
#[derive(Debug)]
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = || {
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            )
        };
        components.add_security_scheme("bearer", bearer());
        components.add_security_scheme(
            "admin",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "client",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
    }
}

/// `GET /openapi.json`
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses(
    (status = 200, description = "This document (OpenAPI 3.1)", content_type = "application/json")))]
pub async fn document() -> axum::Json<&'static utoipa::openapi::OpenApi> {
    axum::Json(crate::openapi_document())
}
