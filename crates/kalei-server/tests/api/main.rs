//! HTTP API tests: the real server over real HTTP, a fresh database per test,
//! on SQLite (always) and on Postgres + Redis (when configured).

mod helpers;

mod admin;
mod auth;
mod billing;
mod briefs;
mod cli;
mod conventions;
mod demo_cli;
mod keys;
mod ops;
mod privacy;
mod product;
mod security;
mod seed;
mod social;
mod spectrum;
mod spectrum_cases;
