//! Fit up to eight parametric bands (low and high cut, low shelf, bells, high shelf) to a
//! target curve in dB.
//!
//! Method (matching.md §6.1): a greedy matching pursuit picks each new band from a dictionary
//! of shapes (kind × centre × Q) by how much of the weighted residual it explains; after every
//! addition, Levenberg–Marquardt refines all bands jointly over (log2 f, gain dB, ln Q) inside
//! the bounds below. The fitter is generic over the band response: it searches on the DSP's
//! analog prototypes ([`PrototypeCurve`]) and polishes on exactly what the DSP runs
//! ([`BandCurve`]). The curve's level is free (the output
//! gain sets it), so every error is measured with its weighted mean removed.
//!
//! Cuts: where the target falls away at an end of the spectrum, a low or high cut (6 to
//! 48 dB/oct) is chosen from the visible part of the roll-off (the weights mask the rest)
//! and the bands are fitted around it. A shelf can copy a cut's magnitude where it is seen,
//! but not its phase, which the unseen part decides: with the paired waveforms at hand the
//! caller scores the candidates by them ([`fit_eq_scored`]); by the magnitude alone a cut
//! must fit better than bands without it.
//!
//! Files: [`greedy`] (the band-by-band fit and its dictionary), [`cuts`] (which cuts to try),
//! [`lm`] (the fitter's coordinates, the error and Levenberg–Marquardt).

mod cuts;
mod greedy;
mod lm;
#[cfg(test)]
mod tests;

use crate::dsp::eq::design::FitGrid;
use crate::dsp::eq::{BandCurve, PrototypeCurve};
use crate::dsp::{EqBandSettings, FilterKind, ranges};
use cuts::{choose_cuts, end_seeds};
use greedy::{Dictionary, fit_around};
pub use lm::Columns;
use lm::{Param, errors, levenberg_marquardt, offset, total_curve, weighted_rms};

/// Bounds of one band kind during fitting: a subset of the plugin's ranges, chosen so fitted
/// bands stay musical (AutoEq constants, matching.md §6.1(b)).
#[derive(Debug, Clone, Copy)]
pub struct KindBounds {
    pub min_hz: f64,
    pub max_hz: f64,
    pub min_q: f64,
    pub max_q: f64,
    pub min_gain_db: f64,
    pub max_gain_db: f64,
}

/// Bells: Q 0.3–6 (AutoEq 0.18–6; narrower ring and chase noise), cuts to −24 dB (the plugin's
/// limit), boosts to +18 dB.
pub const BELL_BOUNDS: KindBounds = KindBounds {
    min_hz: 20.0,
    max_hz: 16_000.0,
    min_q: 0.3,
    max_q: 6.0,
    min_gain_db: -24.0,
    max_gain_db: 18.0,
};

/// Shelves: Q 0.4–1.0; below 0.4 they sag, above ~0.7 they overshoot (AutoEq), and 1.0 leaves
/// room for presets made by hand at Butterworth-plus settings.
pub const SHELF_BOUNDS: KindBounds = KindBounds {
    min_hz: 20.0,
    max_hz: 16_000.0,
    min_q: 0.4,
    max_q: 1.0,
    min_gain_db: -24.0,
    max_gain_db: 18.0,
};

/// Cuts: corners from 20 Hz up (the plugin's range) to the top of the fit; Q only for slopes
/// of 12 dB/oct and more, near Butterworth (0.5–1.2, no resonant cuts); no gain.
pub const CUT_BOUNDS: KindBounds = KindBounds {
    min_hz: 20.0,
    max_hz: 20_000.0,
    min_q: 0.5,
    max_q: 1.2,
    min_gain_db: 0.0,
    max_gain_db: 0.0,
};

/// A cut is offered when it alone lowers the weighted RMS error by at least this, dB.
pub const CUT_MIN_GAIN_DB: f64 = 0.3;

/// Judged by the magnitude alone, a fit with cuts must be closer than one without by this
/// much, dB: the phase that would speak for a cut is not seen, so the simpler fit wins ties.
pub const CUT_MARGIN_DB: f64 = 0.02;

/// Stop adding bands when the weighted RMS error is below this, dB.
pub const GOOD_ENOUGH_DB: f64 = 0.1;

/// ... or when the last band improved the error by less than this, dB.
pub const MIN_IMPROVEMENT_DB: f64 = 0.03;

/// Bands with less gain than this are dropped, dB.
pub const PRUNE_GAIN_DB: f64 = 0.2;

/// Limits of a fit on top of the kind bounds: how far the result may boost, how narrow a bell
/// may be, and the highest centre frequency (0.45·fs: bilinear-like cramping above).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitLimits {
    pub max_gain_db: f64,
    pub max_bell_q: f64,
    pub top_hz: f64,
}

impl FitLimits {
    /// The kind bounds only, centres up to `top_hz`.
    pub fn new(top_hz: f64) -> Self {
        Self {
            max_gain_db: BELL_BOUNDS.max_gain_db,
            max_bell_q: BELL_BOUNDS.max_q,
            top_hz,
        }
    }

    pub(crate) fn bounds(&self, kind: FilterKind) -> KindBounds {
        let mut b = bounds(kind);
        b.max_gain_db = b.max_gain_db.min(self.max_gain_db);
        b.max_hz = b.max_hz.min(self.top_hz);
        if kind == FilterKind::Bell {
            b.max_q = b.max_q.min(self.max_bell_q);
        }
        b
    }
}

fn bounds(kind: FilterKind) -> KindBounds {
    match kind {
        FilterKind::LowShelf | FilterKind::HighShelf => SHELF_BOUNDS,
        FilterKind::LowCut | FilterKind::HighCut => CUT_BOUNDS,
        _ => BELL_BOUNDS,
    }
}

/// What to fit: a target curve on a frequency grid, with a weight per point (0 = ignore).
#[derive(Debug, Clone, PartialEq)]
pub struct FitTarget {
    pub freqs_hz: Vec<f64>,
    pub target_db: Vec<f64>,
    pub weights: Vec<f64>,
}

/// The fitted bands and how well they match.
#[derive(Debug, Clone, PartialEq)]
pub struct EqFit {
    pub bands: Vec<EqBandSettings>,
    /// Summed response of `bands` on the target's grid, dB.
    pub curve_db: Vec<f64>,
    /// Weighted RMS of curve − target, dB.
    pub rms_error_db: f64,
    /// The level the bands' sum is shifted by to meet the target (free: the output gain
    /// sets the level), dB; included in `curve_db`.
    pub offset_db: f64,
    /// Largest |curve − target| where the weight is at least 0.5, dB.
    pub max_error_db: f64,
}

/// A band's magnitude in dB at each of `freqs_hz`, written to `out`.
pub trait BandResponse: Fn(&EqBandSettings, &[f64], &mut [f64]) + Sync {}

impl<F: Fn(&EqBandSettings, &[f64], &mut [f64]) + Sync> BandResponse for F {}

/// The band exactly as the DSP runs it at `sample_rate` ([`BandCurve`]), designed once per
/// call and evaluated at every frequency.
pub fn digital_curve(sample_rate: f64) -> impl BandResponse {
    let grid = FitGrid::new(sample_rate);
    move |band: &EqBandSettings, freqs_hz: &[f64], out: &mut [f64]| {
        BandCurve::with_grid(band, sample_rate, &grid).magnitudes_db(freqs_hz, out);
    }
}

/// The analog prototype the DSP's bands are matched to ([`PrototypeCurve`]), as a
/// [`BandResponse`]: a few flops per point, so the search runs on it and only the last
/// iterations use the exact digital response ([`refine`]).
pub fn prototype_curve(band: &EqBandSettings, freqs_hz: &[f64], out: &mut [f64]) {
    PrototypeCurve::new(band).magnitudes_db(freqs_hz, out);
}

/// Move `fit`'s bands towards `target` under `response` for at most `iterations`
/// Levenberg–Marquardt steps (the Jacobian's columns computed as `columns` says), and report
/// their curve and errors under `response`: the exact digital response polishes a fit found
/// on the analog prototype; the prototype moves a fit to a corrected target.
pub fn refine<R: BandResponse>(
    fit: &EqFit,
    target: &FitTarget,
    limits: &FitLimits,
    response: &R,
    iterations: usize,
    columns: Columns,
) -> EqFit {
    let mut params: Vec<Param> = fit.bands.iter().map(Param::from_band).collect();
    levenberg_marquardt(&mut params, target, limits, response, iterations, columns);
    finish(params, target, response)
}

/// Bands sorted low to high, with their curve and errors.
fn finish<R: BandResponse>(mut params: Vec<Param>, target: &FitTarget, response: &R) -> EqFit {
    params.sort_by(|a, b| a.x[0].total_cmp(&b.x[0]));
    let mut curve_db = total_curve(&params, &target.freqs_hz, response);
    let offset_db = offset(target, &curve_db);
    curve_db.iter_mut().for_each(|c| *c += offset_db);
    let rms_error_db = weighted_rms(target, &curve_db);
    let mut e = vec![0.0; curve_db.len()];
    errors(target, &curve_db, &mut e);
    let max_error_db = e
        .iter()
        .zip(&target.weights)
        .filter(|(_, w)| **w >= 0.5)
        .fold(0.0f64, |m, (e, _)| m.max(e.abs()));
    EqFit {
        bands: params.iter().map(Param::band).collect(),
        curve_db,
        rms_error_db,
        offset_db,
        max_error_db,
    }
}

/// Fit at most `max_bands` bands to `target` inside `limits`, each band's magnitude given by
/// `response`. Deterministic. Cuts are kept when they match the magnitude better than bands
/// without them ([`CUT_MARGIN_DB`]).
pub fn fit_eq<R: BandResponse + Sync>(
    target: &FitTarget,
    max_bands: usize,
    limits: &FitLimits,
    response: &R,
) -> EqFit {
    fit_eq_scored(target, max_bands, limits, response, None)
}

/// A score of a set of bands (higher is better).
pub type BandsScore<'a> = dyn Fn(&[EqBandSettings]) -> f64 + Sync + 'a;

/// [`fit_eq`], with the cuts chosen by `score` (higher is better) where given: fits that
/// differ in their cuts can match the magnitude alike where the target is seen (a shelf for
/// a gentle cut, one slope for another under a noise floor) while their phase differs, and
/// a caller with the paired waveforms can tell the phases apart. Tried: the fit without
/// cuts, the fit around the cuts the target suggests ([`choose_cuts`]) and, with a score,
/// around cuts hidden next to other bands ([`end_seeds`]) and, from the best, with each
/// cut's slope one step steeper or gentler while that scores better.
pub fn fit_eq_scored<R: BandResponse + Sync>(
    target: &FitTarget,
    max_bands: usize,
    limits: &FitLimits,
    response: &R,
    score: Option<&BandsScore<'_>>,
) -> EqFit {
    let max_bands = max_bands.min(crate::dsp::NUM_BANDS);
    let dictionary = Dictionary::new(&target.freqs_hz, limits, response);
    let around =
        |cuts: Vec<Param>| fit_around(target, max_bands, limits, response, &dictionary, cuts, true);
    // Higher is better: the score, or the magnitude error (cuts must earn their place).
    let penalty = |fit: &EqFit| if has_cuts(fit) { CUT_MARGIN_DB } else { 0.0 };
    let merit = |fit: &EqFit| match score {
        Some(score) => score(&fit.bands),
        None => -fit.rms_error_db - penalty(fit),
    };
    let seeds = cut_seeds(target, limits, response, score.is_some(), max_bands);
    // The fit without cuts and those from each seed are independent: on two cores.
    let starts: Vec<Vec<Param>> = std::iter::once(Vec::new()).chain(seeds).collect();
    let mut fits = crate::analysis::on_two_cores(&starts, |s| around(s.clone())).into_iter();
    let plain = fits
        .next()
        .expect("the fit without cuts is among the starts");
    let mut best = (merit(&plain), plain);
    for fit in fits {
        let m = merit(&fit);
        if m > best.0 {
            best = (m, fit);
        }
    }
    if score.is_some() {
        best = walk_slopes(best, limits, &around, &merit);
    }
    best.1
}

/// The cut seeds worth a fit: the cuts the target asks for ([`choose_cuts`]) and, when a
/// score will judge them (`scored`), each with a cut hidden next to other bands
/// ([`end_seeds`]). Without a score only the magnitude speaks, and it hardly tells a hidden
/// cut or another slope from bands: the cuts the target plainly asks for are all that is
/// worth a fit.
fn cut_seeds<R: BandResponse>(
    target: &FitTarget,
    limits: &FitLimits,
    response: &R,
    scored: bool,
    max_bands: usize,
) -> Vec<Vec<Param>> {
    let cuts = choose_cuts(target, limits, response);
    let mut seeds: Vec<Vec<Param>> = Vec::new();
    if !cuts.is_empty() {
        seeds.push(cuts.clone());
    }
    let hidden = if scored {
        end_seeds(target, limits)
    } else {
        Vec::new()
    };
    for seed in hidden {
        if cuts.iter().all(|c| c.kind != seed.kind) {
            let mut with = cuts.clone();
            with.push(seed);
            seeds.push(with);
        }
    }
    seeds.into_iter().filter(|s| s.len() <= max_bands).collect()
}

/// The slopes were chosen before the bands around them: walk each of `best`'s cuts a step at
/// a time, steeper and gentler, while the fit around the changed cuts has more `merit`.
///
/// A step that does not score better leaves `best` as it was, so the walk's next step is
/// known before the current one ends: the two are fitted on two cores, and where the current
/// one fails the next is ready (made from the same `best`, it is the fit the walk asks for;
/// where the current one succeeds it is dropped). The fits are those of the walk one step
/// after another, so it chooses the same.
fn walk_slopes(
    mut best: (f64, EqFit),
    limits: &FitLimits,
    around: &(dyn Fn(Vec<Param>) -> EqFit + Sync),
    merit: &(dyn Fn(&EqFit) -> f64 + Sync),
) -> (f64, EqFit) {
    let cut_count = best.1.bands.iter().filter(|b| b.kind.uses_slope()).count();
    // Each cut one step gentler, then one steeper, in turn.
    let moves: Vec<(usize, i64)> = (0..cut_count).flat_map(|i| [(i, -1), (i, 1)]).collect();
    let scored = |cuts: Vec<Param>| {
        let fit = around(cuts);
        (merit(&fit), fit)
    };
    let mut ahead: Option<(f64, EqFit)> = None;
    let mut k = 0;
    while k < moves.len() {
        let (i, step) = moves[k];
        let Some(cuts) = slope_step(&best.1, limits, i, step) else {
            k += 1;
            continue;
        };
        let tried = ahead.take().unwrap_or_else(|| {
            let next = moves[k + 1..]
                .iter()
                .find_map(|&(i, step)| slope_step(&best.1, limits, i, step));
            std::thread::scope(|scope| {
                let next = next.map(|next| scope.spawn(|| scored(next)));
                let tried = scored(cuts);
                ahead = next.map(|n| n.join().expect("fits do not panic"));
                tried
            })
        });
        if tried.0 <= best.0 {
            k += 1;
        } else {
            best = tried;
            ahead = None;
        }
    }
    best
}

/// `fit`'s cuts with cut `i` one slope `step` along (steeper for 1, gentler for −1); `None`
/// past the last slope.
fn slope_step(fit: &EqFit, limits: &FitLimits, i: usize, step: i64) -> Option<Vec<Param>> {
    let mut cuts: Vec<Param> = fit
        .bands
        .iter()
        .filter(|b| b.kind.uses_slope())
        .map(Param::from_band)
        .collect();
    cuts[i].slope_db_per_oct = ranges::cut_slope_beside(cuts[i].slope_db_per_oct, step)?;
    cuts[i].clamp(limits);
    Some(cuts)
}

fn has_cuts(fit: &EqFit) -> bool {
    fit.bands.iter().any(|b| b.kind.uses_slope())
}

/// A fit around the given cuts (their kinds and slopes kept, their corners refined with the
/// bands): how a chosen set of cuts is refitted to a new target.
pub fn fit_eq_with_cuts<R: BandResponse>(
    target: &FitTarget,
    max_bands: usize,
    limits: &FitLimits,
    response: &R,
    cuts: &[EqBandSettings],
) -> EqFit {
    let max_bands = max_bands.min(crate::dsp::NUM_BANDS);
    let dictionary = Dictionary::new(&target.freqs_hz, limits, response);
    let seed: Vec<Param> = cuts
        .iter()
        .filter(|b| b.kind.uses_slope())
        .take(max_bands)
        .map(|b| {
            let mut p = Param::from_band(b);
            p.clamp(limits);
            p
        })
        .collect();
    fit_around(
        target,
        max_bands,
        limits,
        response,
        &dictionary,
        seed,
        false,
    )
}

/// Whether a fitted band sits inside the plugin's ranges (used by tests and as a guard).
pub fn in_plugin_ranges(band: &EqBandSettings) -> bool {
    ranges::BAND_FREQ_HZ.check(band.freq_hz).is_ok()
        && ranges::BAND_GAIN_DB.check(band.gain_db).is_ok()
        && ranges::BAND_Q.check(band.q).is_ok()
}
