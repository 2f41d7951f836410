pub mod crypto;
pub mod identity;
