//! Push notifications (PRODUCT §3): devices' push tokens, the inbox, the
//! outbox and its dispatcher, and the clients of the push providers.

pub mod providers;
