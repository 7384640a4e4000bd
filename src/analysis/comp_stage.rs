//! Stage 5, the compressor: fitted on excerpts of the source through the EQ so far
//! ([`comp_fit`]). Paired, from the gain trace against the same excerpts of the reference
//! ([`comp_fit::fit_paired`]); unpaired, from the reference's level statistics
//! ([`comp_fit::fit_unpaired`]).

use super::align::Takes;
use super::comp_fit::{self, CompFit, PairedReference};
use super::excerpts::{
    Excerpt, PAIRED_EXCERPT, UNPAIRED_EXCERPT, concat_channels, render_segments,
};
use crate::dsp::ChainSettings;

/// The compressor's excerpts, and what stays the same from round to round.
#[derive(Clone)]
pub struct CompressorStage {
    /// The source's excerpt; paired, the same stretches of the reference.
    excerpt: Excerpt,
    /// The reference's envelopes, prepared in the first paired round.
    paired_reference: Option<PairedReference>,
}

impl CompressorStage {
    pub fn new(takes: &Takes<'_>) -> Self {
        let budget = if takes.paired {
            PAIRED_EXCERPT
        } else {
            UNPAIRED_EXCERPT
        };
        Self {
            excerpt: Excerpt::of(takes, budget, takes.paired),
            paired_reference: None,
        }
    }

    /// The compressor for the EQ in `settings`, written into `settings` (off when compression
    /// does not help; its mix from `amount`). `previous`: the last round's fit, which a paired
    /// fit refines instead of searching afresh.
    pub fn fit(
        &mut self,
        takes: &Takes<'_>,
        settings: &mut ChainSettings,
        previous: Option<&CompFit>,
        amount: f64,
    ) -> CompFit {
        let eq_only = {
            let mut s = settings.clone();
            s.compressor.enabled = false;
            s.ceiling.enabled = false;
            s
        };
        let src_eq = render_segments(&eq_only, &self.excerpt.source, takes.src_fs);
        let fit = if takes.paired {
            let start = previous.and_then(|c| c.model);
            let excerpt = &self.excerpt;
            let reference = self
                .paired_reference
                .get_or_insert_with(|| PairedReference::new(&excerpt.reference, takes.ref_fs));
            comp_fit::fit_paired(&src_eq, reference, takes.src_fs, start)
        } else {
            fit_unpaired(takes, &self.excerpt.source, &src_eq)
        };
        settings.compressor.enabled = false;
        if let Some(model) = fit.model {
            settings.compressor = model.settings(0.0);
            settings.compressor.mix_pct = (100.0 * amount) as f32;
        }
        fit
    }
}

/// Unpaired: the reference's statistics are the goal. The excerpt is not the whole source, so
/// the goal is shifted by how the excerpt's statistics differ from the whole source's.
fn fit_unpaired(takes: &Takes<'_>, excerpt: &[Vec<Vec<f32>>], src_eq: &[Vec<Vec<f32>>]) -> CompFit {
    let part = comp_fit::measure_stats(
        &concat_channels(excerpt)
            .iter()
            .map(Vec::as_slice)
            .collect::<Vec<_>>(),
        takes.src_fs,
    );
    let full = comp_fit::measure_stats(&takes.src_channels, takes.src_fs);
    let goal = comp_fit::measure_stats(&takes.ref_channels, takes.ref_fs).shifted(&part, &full);
    comp_fit::fit_unpaired(src_eq, &goal, takes.src_fs)
}
