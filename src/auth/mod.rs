//! auth layer.
