//! Column-encryption key management: the live key ring (reloaded when the
//! key file changes), the list of sealed columns, the re-encryption job and
//! the `kalei keys` commands (rotate, status, retire, reencrypt).
//!
//! Rotation in short: `kalei keys rotate` appends a new key to the key file
//! and makes it active; running servers notice the file change and seal new
//! values with it; the `keys.reseal` job re-seals every older value; `kalei
//! keys retire ID` drops an old key once `kalei keys status` shows no value
//! uses it. The `encryption_keys` table remembers every key that was ever
//! active, so a start without one of them fails loudly.

pub mod cmd;
pub mod columns;
pub mod keyring;
pub mod registry;
pub mod reseal;
pub mod usage;

pub use columns::{SealedColumn, SEALED_COLUMNS};
pub use keyring::Keyring;
