//! HTTP conventions shared by every route (SPEC section 4): request ids,
//! problem+json errors, access logs and metrics, JSON bodies, idempotency,
//! pagination, client IPs and security headers.

pub mod client_ip;
pub mod idempotency;
pub mod json;
pub mod observe;
pub mod pagination;
pub mod security;

pub use client_ip::ClientIp;
pub use json::ApiJson;
pub use observe::RequestContext;
pub use pagination::{Page, PageParams};
