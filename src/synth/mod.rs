//! Synthetic Home Credit data.
