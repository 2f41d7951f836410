#[cfg(feature = "client")]
#[warn(missing_docs)]
pub mod client;
pub mod credential;
pub mod crypto;
pub mod forms;
pub mod identity;
pub mod qr;
pub mod scan;
pub mod wallet;
