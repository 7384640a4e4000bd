//! Preset files. STUB.
