//! The OpenAPI 3.1 document (`/api/openapi.json`) and the docs page
//! (`/api/docs`). Paths come from each module's `#[utoipa::path]` handlers.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kalei API",
        version = "1",
        description = "Backend of Kalei, a reflective-writing wellness app. Errors are RFC 9457 \
            `application/problem+json` with a stable `code` and the request id. Every response \
            carries `x-request-id`. Authenticated write endpoints accept `Idempotency-Key`."
    ),
    paths(crate::ops::healthz, crate::ops::readyz, crate::ops::metrics),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Accounts, tokens and device sessions"),
        (name = "me", description = "The signed-in account"),
        (name = "ops", description = "Health, readiness and metrics"),
        (name = "mirror", description = "Free writing in sessions, fragments and reflections"),
        (name = "turn", description = "One thought, three reframes and a micro-action"),
        (name = "lens", description = "Goals, actions, streaks and the daily affirmation"),
        (name = "gallery", description = "Saved turns and reflections with their cards"),
        (name = "spectrum", description = "Weekly and monthly emotional analytics, exclusions and reset"),
        (name = "briefs", description = "The weekly brief: overlay, dismissal and engagement"),
        (name = "notifications", description = "Push devices for notifications such as \"your week is ready\""),
        (name = "billing", description = "Plans, entitlements and store notifications"),
        (name = "admin", description = "Operator endpoints (admin role)"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Documents the answers the shared layers and extractors can give on any
/// operation, so the document lists every status a client can see (the
/// schemathesis run checks that): 401 from the bearer extractor, 400/413/
/// 415/422 from the JSON body extractor, 400/422 from query parameters, the
/// `Idempotency-Key` answers on writes, and 503 from the request timeout and
/// database overload. Statuses a handler documents itself are kept as they
/// are. Applied to the merged document, so routes added later get it too.
pub fn document_common_responses(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;

    for item in doc.paths.paths.values_mut() {
        let path_level_query = item
            .parameters
            .iter()
            .flatten()
            .any(|p| p.parameter_in == ParameterIn::Query);
        let operations = [
            (&mut item.get, false),
            (&mut item.put, true),
            (&mut item.post, true),
            (&mut item.delete, true),
            (&mut item.patch, true),
        ];
        for (op, writes) in operations {
            let Some(op) = op.as_mut() else { continue };
            let bearer = requires_bearer(op);
            let json_body = op
                .request_body
                .as_ref()
                .is_some_and(|b| b.content.keys().any(|c| c.starts_with("application/json")));
            let query = path_level_query
                || op
                    .parameters
                    .iter()
                    .flatten()
                    .any(|p| p.parameter_in == ParameterIn::Query);
            let mut needed: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
            let mut add = |status, description| needed.entry(status).or_default().push(description);
            if bearer {
                add(
                    "401",
                    "Missing, invalid or expired access token, or a signed-out session.",
                );
            }
            // The `admin` tag marks the operator endpoints (`AdminUser`).
            if bearer && op.tags.iter().flatten().any(|t| t == "admin") {
                add("403", "The caller does not have the admin role.");
            }
            if json_body {
                add("400", "The body is not valid JSON.");
                add("413", "The body is larger than http.body_limit_bytes.");
                add("415", "The body is not application/json.");
                add("422", "Invalid or unknown fields.");
            }
            if query {
                add("400", "A query parameter has the wrong type, or the cursor is not one this API issued.");
                add("422", "A query parameter is out of range.");
            }
            if writes && bearer {
                add(
                    "400",
                    "The Idempotency-Key header is not 1-255 visible ASCII characters.",
                );
                add(
                    "409",
                    "A request with this Idempotency-Key is still being processed.",
                );
                add("413", "The body is larger than http.body_limit_bytes.");
                add(
                    "422",
                    "This Idempotency-Key was used with a different request.",
                );
            }
            add(
                "503",
                "Overloaded or timed out; retry after the Retry-After delay.",
            );
            for (status, mut descriptions) in needed {
                descriptions.dedup();
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| problem_response(&descriptions.join(" ")).into());
            }
        }
    }
}

/// Whether every security alternative of `op` includes the bearer token
/// (an empty alternative means the token is optional).
fn requires_bearer(op: &utoipa::openapi::path::Operation) -> bool {
    op.security.as_ref().is_some_and(|alternatives| {
        !alternatives.is_empty()
            && alternatives.iter().all(|requirement| {
                serde_json::to_value(requirement)
                    .ok()
                    .and_then(|v| v.get("bearer").map(|_| ()))
                    .is_some()
            })
    })
}

fn problem_response(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}
