//! The weekly brief (issue 7, item 5): a short summary of the user's last
//! complete week, built from the stored Spectrum aggregate and insight,
//! with overlay state (shown once, soft/hard dismissal, engagement) and the
//! frequency preference. [`generate`] builds and verifies briefs,
//! [`cadence`] decides which weeks are offered, [`api`] serves them; the
//! "your week is ready" push lives in `crate::notifications::weekly`.

pub mod api;
pub mod cadence;
pub mod generate;

pub use api::router;
