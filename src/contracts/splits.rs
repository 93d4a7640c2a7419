//! Split leakage contracts (owned by the model/split work).
