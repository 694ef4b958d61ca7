//! Tools the model calls.
