//! The Kalei server: HTTP API, background workers and admin tooling behind
//! one binary, `kalei`. One module per domain; see ARCHITECTURE.md.

pub mod admin;
pub mod analyze_cmd;
pub mod app;
pub mod audit;
pub mod auth;
pub mod config;
pub mod error;
pub mod http;
pub mod jobs;
pub mod jobs_cmd;
pub mod me;
pub mod openapi;
pub mod ops;
pub mod telemetry;
pub mod time;
