//! Split.
