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
