//! uniffi bindings over `yiwang-core`: the Kotlin package and Swift module
//! `yiwang`. Only wrappers and conversions live here (matrix-rust-sdk's FFI
//! crate is the model): every rule is in the core.
//!
//! - Errors cross as one flat [`YiwangError`] with a stable `YW-xxxx` code and
//!   a message that never contains personal data.
//! - The platform's key store (Secure Enclave, Android Keystore) is the foreign
//!   trait [`PlatformKeyStore`]; [`software_key_store`] is a Rust one for tests.
//! - Anything doing I/O is `async` and runs on the library's tokio runtime.

mod client;
mod credential;
mod error;
mod forms;
mod identity;
mod keystore;
mod wallet;

pub use client::*;
pub use credential::*;
pub use error::YiwangError;
pub use forms::*;
pub use identity::*;
pub use keystore::*;
pub use wallet::*;

uniffi::setup_scaffolding!("yiwang");

/// The library's version (the `yiwang-ffi` crate version).
#[uniffi::export]
pub fn library_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
