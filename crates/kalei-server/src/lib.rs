//! The Kalei server: HTTP API, background workers and admin tooling behind
//! one binary, `kalei`. One module per domain; see ARCHITECTURE.md.

pub mod admin;
pub mod analyze_cmd;
pub mod app;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod briefs;
pub mod card;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod entitlements;
pub mod error;
pub mod gallery;
pub mod generation;
pub mod http;
pub mod jobs;
pub mod jobs_cmd;
pub mod keys;
pub mod lens;
pub mod me;
pub mod mirror;
pub mod notifications;
pub mod openapi;
pub mod ops;
pub mod preferences;
pub mod privacy;
pub mod product;
pub mod safety;
pub mod spectrum;
pub mod telemetry;
pub mod time;
pub mod turn;
