//! Stage 4, the EQ: up to N bands fitted to the target ([`eq_fit`]: a search on the analog
//! prototypes, then the exact digital response polishes). Paired, the cuts are chosen by how
//! well their phase matches the two takes' cross spectrum ([`phase`]). Between compressor
//! rounds the EQ is corrected for what the compressor does to the spectrum ([`EqRefit`]).

use super::align::{self, Takes};
use super::eq_fit::{self, Columns, EqFit, FitTarget};
use super::excerpts::{self, Excerpt, PAIRED_EXCERPT, SPECTRUM_EXCERPT, concat_mid};
use super::phase;
use super::spectrum::{self, TOP_FREQ_RATIO};
use super::target::{MAX_BOOST_DB, MAX_CUT_DB, frame_starts, ltas_db, smoothing, target_curve};
use crate::dsp::{ChainSettings, EqBandSettings, NUM_BANDS};

/// Levenberg–Marquardt steps on the exact digital band responses after the search on the
/// analog prototypes (they differ by hundredths of a dB below fs/4, so a few steps settle it).
pub const EXACT_ITERATIONS: usize = 8;
/// Levenberg–Marquardt steps that move the bands to a corrected target between paired rounds.
const WARM_ITERATIONS: usize = 30;
/// Most a bell's Q may be when the two recordings are different performances: the
/// difference of their spectra is content as much as EQ, and narrow bands would chase it.
pub const MAX_BELL_Q_UNPAIRED: f64 = 2.5;

/// The fit's limits for these takes: boosts to [`MAX_BOOST_DB`], bells narrower when paired.
pub fn limits(takes: &Takes<'_>) -> eq_fit::FitLimits {
    eq_fit::FitLimits {
        max_gain_db: MAX_BOOST_DB,
        max_bell_q: if takes.paired {
            eq_fit::BELL_BOUNDS.max_q
        } else {
            MAX_BELL_Q_UNPAIRED
        },
        top_hz: TOP_FREQ_RATIO * takes.src_fs,
    }
}

/// Paired, the takes lined up again once the EQ in `settings` is known. The pairing's lag
/// includes the reference chain's group delay (a few samples for a steep band-pass), which the
/// EQ reproduces: a lag within [`align::RESIDUAL_LAG_SAMPLES`] is taken for that delay alone
/// (the takes start together: the plugin and most chains add no latency), a longer one is
/// moved to where the reference meets the source through the EQ ([`align::residual_lag`]).
/// Unpaired takes stay as they are.
pub fn realign<'a>(takes: &Takes<'a>, settings: &ChainSettings) -> Option<Takes<'a>> {
    let lag = takes.alignment.filter(|_| takes.paired)?.lag_samples;
    if lag.abs() <= align::RESIDUAL_LAG_SAMPLES {
        return (lag != 0).then(|| takes.realigned(0));
    }
    let mut eq_only = settings.clone();
    eq_only.compressor.enabled = false;
    eq_only.ceiling.enabled = false;
    let (ref_mid, src_mid) = takes.whole_mids();
    let eq_mid = excerpts::render(&eq_only, &[src_mid.to_vec()], takes.src_fs).remove(0);
    let residual = align::residual_lag(ref_mid, &eq_mid, takes.ref_fs, lag);
    (residual != lag).then(|| takes.realigned(residual))
}

/// The first EQ fit: paired, with the cuts whose phase matches; unpaired, by the magnitude.
pub fn fit(
    target: &FitTarget,
    takes: &Takes<'_>,
    bands: usize,
    limits: &eq_fit::FitLimits,
) -> EqFit {
    if takes.paired {
        // Fits that differ in their cuts match the magnitude alike; the paired takes show
        // whose phase is right.
        let cross = paired_cross_spectrum(takes.src_mid, takes.ref_mid, takes.src_fs);
        let score = |bands: &[EqBandSettings]| cross.correlation(bands, takes.src_fs);
        fit_bands(
            target,
            bands,
            limits,
            Cuts::Choose(Some(&score)),
            takes.src_fs,
        )
    } else {
        fit_bands(target, bands, limits, Cuts::Choose(None), takes.src_fs)
    }
}

/// How the EQ search treats cuts.
pub enum Cuts<'a> {
    /// Choose them: by `score` where given (paired: the one whose phase matches), else by
    /// the magnitude.
    Choose(Option<&'a eq_fit::BandsScore<'a>>),
    /// Keep these (a choice already made) and fit the other bands around them.
    Keep(&'a [EqBandSettings]),
}

/// At most `bands` EQ bands for `target`: the search on the analog prototype (cheap), then
/// the exact digital response at `sample_rate` polishes.
pub fn fit_bands(
    target: &FitTarget,
    bands: usize,
    limits: &eq_fit::FitLimits,
    cuts: Cuts<'_>,
    sample_rate: f64,
) -> EqFit {
    let prototype = &eq_fit::prototype_curve;
    let coarse = match cuts {
        Cuts::Choose(score) => eq_fit::fit_eq_scored(target, bands, limits, prototype, score),
        Cuts::Keep(cuts) => eq_fit::fit_eq_with_cuts(target, bands, limits, prototype, cuts),
    };
    let exact = eq_fit::digital_curve(sample_rate);
    eq_fit::refine(
        &coarse,
        target,
        limits,
        &exact,
        EXACT_ITERATIONS,
        Columns::OnTwoCores,
    )
}

/// The cross spectrum of the paired takes on [`PAIRED_EXCERPT`] of both.
pub(super) fn paired_cross_spectrum(
    source: &[f32],
    reference: &[f32],
    sample_rate: f64,
) -> phase::CrossSpectrum {
    let mut cross = phase::CrossSpectrum::new(spectrum::fft_len_for(sample_rate));
    let segments = excerpts::excerpt_segments(source.len(), sample_rate, PAIRED_EXCERPT);
    for (start, len) in segments {
        let end = (start + len).min(source.len()).min(reference.len());
        cross.add(&source[start..end], &reference[start..end]);
    }
    cross
}

/// `base` with `bands` in its EQ (the rest off).
pub fn with_bands(base: &ChainSettings, bands: &[EqBandSettings]) -> ChainSettings {
    let mut s = base.clone();
    s.eq.bands = [EqBandSettings::default(); NUM_BANDS];
    for (dst, b) in s.eq.bands.iter_mut().zip(bands) {
        *dst = *b;
    }
    s
}

/// `base` with the fitted bands, and the fit's level as input gain: the fit's level is free,
/// and the input gain puts the EQ'd source where the target has it, so the compressor sees
/// the level it will see.
pub fn with_eq_fit(base: &ChainSettings, fit: &EqFit) -> ChainSettings {
    let mut s = with_bands(base, &fit.bands);
    s.input_gain_db = crate::dsp::ranges::IN_GAIN_DB.clamp(fit.offset_db as f32);
    s
}

/// The EQ correction between compressor rounds: once the compressor is known, what it does
/// to the spectrum is known too, and the EQ is refitted to the difference that remains,
/// measured on [`SPECTRUM_EXCERPT`] of the takes (the very same frames of both when paired).
pub struct EqRefit {
    excerpt: Excerpt,
    limits: eq_fit::FitLimits,
    /// Most bands, and how much of the correction to apply (the user's `--amount`).
    bands: usize,
    amount: f64,
    paired: bool,
    ref_fs: f64,
    src_fs: f64,
    /// The reference's spectrum and the frames it is read on (paired: the same every round).
    paired_goal: Option<(Vec<usize>, Vec<f64>)>,
    /// What the rounds compare ([`Measure`]).
    measure: Measure,
    /// [`Measure::LinearResponse`]: the source's mid on the excerpt, and the reference's
    /// linear response to it (the same every round).
    linear_goal: Option<(Vec<f32>, Vec<f64>)>,
}

/// What the EQ's correction between rounds compares, as the first fit's target did: the
/// spectra of the reference and of the source through the chain, or (paired) the linear
/// responses of the reference and of the chain to the source
/// ([`phase::CrossSpectrum::linear_response_db`]). A fast compressor's modulation reads in
/// the linear response of both alike, so their difference is the EQ's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Spectra,
    LinearResponse,
}

impl EqRefit {
    pub fn new(
        takes: &Takes<'_>,
        limits: eq_fit::FitLimits,
        bands: usize,
        amount: f64,
        measure: Measure,
    ) -> Self {
        Self {
            measure,
            linear_goal: None,
            excerpt: Excerpt::of(takes, SPECTRUM_EXCERPT, takes.paired),
            limits,
            bands,
            amount,
            paired: takes.paired,
            ref_fs: takes.ref_fs,
            src_fs: takes.src_fs,
            paired_goal: None,
        }
    }

    /// `eq_fit` corrected for what `settings` (its compressor) do to the spectrum. `last`:
    /// the last round fits the bands afresh around the chosen cuts; earlier rounds only move
    /// them (the compressor's next fit needs them close).
    pub fn refit(
        &mut self,
        eq_fit: &EqFit,
        target: &FitTarget,
        settings: &ChainSettings,
        last: bool,
    ) -> EqFit {
        let src_fs = self.src_fs;
        let grid_hz = &target.freqs_hz;
        let out_x = self.render_mid_and_paired_goal(settings, grid_hz);
        let residual = if self.measure == Measure::LinearResponse {
            let excerpt = &self.excerpt;
            let (source_mid, goal) = self.linear_goal.get_or_insert_with(|| {
                let source_mid = concat_mid(&excerpt.source);
                let reference_mid = concat_mid(&excerpt.reference);
                let goal = linear_response_db(&source_mid, &reference_mid, grid_hz, src_fs);
                (source_mid, goal)
            });
            let model = linear_response_db(source_mid, &out_x, grid_hz, src_fs);
            target_curve(grid_hz, goal, &model, &target.weights, MAX_BOOST_DB, 1.0)
        } else {
            self.spectra_residual(target, settings, &out_x)
        };
        let (limits, bands, amount) = (&self.limits, self.bands, self.amount);
        let refined = FitTarget {
            target_db: eq_fit
                .curve_db
                .iter()
                .zip(&residual)
                .map(|(c, r)| (c + amount * r).clamp(MAX_CUT_DB, MAX_BOOST_DB))
                .collect(),
            ..target.clone()
        };
        if last {
            fit_bands(&refined, bands, limits, Cuts::Keep(&eq_fit.bands), src_fs)
        } else {
            let moved = eq_fit::refine(
                eq_fit,
                &refined,
                limits,
                &eq_fit::prototype_curve,
                WARM_ITERATIONS,
                Columns::InTurn,
            );
            let exact = eq_fit::digital_curve(src_fs);
            eq_fit::refine(
                &moved,
                &refined,
                limits,
                &exact,
                EXACT_ITERATIONS,
                Columns::OnTwoCores,
            )
        }
    }

    /// [`EqRefit::render_mid`]; on the first paired round with [`Measure::Spectra`], the
    /// reference's spectrum that every round aims at is read on the second core meanwhile.
    fn render_mid_and_paired_goal(
        &mut self,
        settings: &ChainSettings,
        grid_hz: &[f64],
    ) -> Vec<f32> {
        let wanted = self.paired && self.measure == Measure::Spectra && self.paired_goal.is_none();
        if !wanted {
            return self.render_mid(settings);
        }
        let (reference, width) = (&self.excerpt.reference, smoothing(true));
        let (fft_fs, fs) = (self.ref_fs, self.src_fs);
        let (goal, out_x) = std::thread::scope(|scope| {
            let goal =
                scope.spawn(|| spectrum_goal(&concat_mid(reference), fft_fs, fs, grid_hz, width));
            let out_x = self.render_mid(settings);
            (goal.join().expect("spectra do not panic"), out_x)
        });
        self.paired_goal = Some(goal);
        out_x
    }

    /// The mid of the source's excerpt through `settings`.
    fn render_mid(&self, settings: &ChainSettings) -> Vec<f32> {
        concat_mid(&excerpts::render_segments(
            settings,
            &self.excerpt.source,
            self.src_fs,
        ))
    }

    /// What remains between the reference's spectrum and `out_x`'s, the mid of the excerpt
    /// through `settings` (paired, after [`EqRefit::render_mid_and_paired_goal`]).
    fn spectra_residual(
        &self,
        target: &FitTarget,
        settings: &ChainSettings,
        out_x: &[f32],
    ) -> Vec<f64> {
        let (ref_fs, src_fs) = (self.ref_fs, self.src_fs);
        let grid_hz = &target.freqs_hz;
        let width = smoothing(self.paired);
        // The spectrum to aim at, and the frames it is read on: the reference's when paired
        // (the same in every round, read beside the first round's render); unpaired, the
        // source through the EQ alone, which the first fit matched to the reference.
        let unpaired_goal;
        let (starts, r_db) = if self.paired {
            self.paired_goal
                .as_ref()
                .expect("read beside the first paired round's render")
        } else {
            let mut eq_only = settings.clone();
            eq_only.compressor.enabled = false;
            let eq_mid = self.render_mid(&eq_only);
            unpaired_goal = spectrum_goal(&eq_mid, ref_fs, src_fs, grid_hz, width);
            &unpaired_goal
        };
        let o_db = ltas_db(out_x, src_fs, starts, grid_hz, width);
        target_curve(grid_hz, r_db, &o_db, &target.weights, MAX_BOOST_DB, 1.0)
    }
}

/// A spectrum to aim at: the frames of `x` (frames as long as at `fft_fs`) and its smoothed
/// long-term spectrum on `grid_hz` (dB), read at `fs`.
fn spectrum_goal(
    x: &[f32],
    fft_fs: f64,
    fs: f64,
    grid_hz: &[f64],
    width: fn(f64) -> f64,
) -> (Vec<usize>, Vec<f64>) {
    let (starts, _) = frame_starts(x, spectrum::fft_len_for(fft_fs));
    let db = ltas_db(x, fs, &starts, grid_hz, width);
    (starts, db)
}

/// The linear response of `output` to `source` (paired takes, lined up) on `grid_hz`, dB
/// ([`phase::CrossSpectrum::linear_response_db`], smoothed as paired spectra are).
fn linear_response_db(
    source: &[f32],
    output: &[f32],
    grid_hz: &[f64],
    sample_rate: f64,
) -> Vec<f64> {
    let mut cross = phase::CrossSpectrum::new(spectrum::fft_len_for(sample_rate));
    cross.add(source, output);
    cross
        .linear_response_db(grid_hz, sample_rate, smoothing(true))
        .0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{render, test_bursts};
    use crate::dsp::eq::magnitude_db;
    use crate::preset::factory::find_factory;

    /// Telephone (a 300 Hz–3.4 kHz band-pass at 24 dB/oct, then 6:1 with a 3 ms attack) on
    /// noise in bursts, against the same chain with its low cut at 200 Hz instead: 14 dB more
    /// at 75–150 Hz. Far down the cut the compressor's modulation of what the band passes
    /// fills both outputs' spectra alike, and the spectra's difference reads only part of the
    /// EQ's; the linear responses' difference reads the EQ's.
    #[test]
    fn the_linear_responses_differ_by_the_eq_where_the_spectra_read_the_compressor() {
        let fs = 48_000.0;
        let bursts = test_bursts(10 * 48_000);
        let truth = find_factory("Telephone")
            .expect("a factory preset")
            .1
            .settings;
        let mut model = truth.clone();
        let cut = model
            .eq
            .bands
            .iter_mut()
            .find(|b| b.enabled && b.kind == crate::dsp::FilterKind::LowCut)
            .expect("Telephone has a low cut");
        cut.freq_hz = 200.0;
        let source = std::slice::from_ref(&bursts);
        let reference = render(&truth, source, fs).remove(0);
        let output = render(&model, source, fs).remove(0);
        let grid = [75.0, 100.0, 150.0, 1_000.0];
        let eq_db: Vec<f64> = grid
            .iter()
            .map(|&f| magnitude_db(&truth.eq, f, fs) - magnitude_db(&model.eq, f, fs))
            .collect();
        let linear: Vec<f64> = {
            let r = linear_response_db(&bursts, &reference, &grid, fs);
            let o = linear_response_db(&bursts, &output, &grid, fs);
            r.iter().zip(&o).map(|(r, o)| r - o).collect()
        };
        let spectra: Vec<f64> = {
            let len = spectrum::fft_len_for(fs);
            let (starts, _) = frame_starts(&reference, len);
            let r = ltas_db(&reference, fs, &starts, &grid, smoothing(true));
            let o = ltas_db(&output, fs, &starts, &grid, smoothing(true));
            r.iter().zip(&o).map(|(r, o)| r - o).collect()
        };
        // Measured: the EQ −14.1, −14.1, −13.7, 0.0 dB; the linear responses −14.4, −14.5,
        // −13.5, +0.06 dB; the spectra −7.4 dB at 75 Hz, −12.2 dB at 100 Hz.
        for k in 0..grid.len() {
            assert!(
                (linear[k] - eq_db[k]).abs() < 0.6,
                "{linear:?} against {eq_db:?}"
            );
        }
        assert!(spectra[0] > eq_db[0] + 5.0, "{spectra:?} against {eq_db:?}");
    }
}
