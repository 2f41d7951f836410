//! uniffi bindings over `yiwang-core` (issue 5). The crate exists now so the
//! workspace layout is final; it re-exports nothing yet.
