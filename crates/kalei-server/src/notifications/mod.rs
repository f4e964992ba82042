//! Notifications: push device registration ([`devices`]), the [`push::Push`]
//! providers, quiet hours ([`quiet`]) and the weekly brief notification with
//! its push deliveries ([`weekly`]).

pub mod devices;
pub mod push;
pub mod quiet;
pub mod weekly;

pub use devices::router;
pub use push::PushConfig;
