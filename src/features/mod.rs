//! Feature store.
