//! Learn an EQ + compressor preset from a reference recording (issue 4).

pub mod align;
pub mod comp_fit;
pub mod eq_fit;
pub mod loudness;
pub mod metrics;
pub mod spectrum;
