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

use crate::dsp::eq::design::FitGrid;
use crate::dsp::eq::{BandCurve, PrototypeCurve};
use crate::dsp::{EqBandSettings, FilterKind, ranges};

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

    fn bounds(&self, kind: FilterKind) -> KindBounds {
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

/// A band in the fitter's coordinates: `[log2 f, gain dB, ln Q]`, and a cut's slope.
#[derive(Debug, Clone, Copy)]
struct Param {
    kind: FilterKind,
    slope_db_per_oct: u32,
    x: [f64; 3],
}

impl Param {
    fn new(kind: FilterKind, x: [f64; 3]) -> Self {
        Self {
            kind,
            slope_db_per_oct: 12,
            x,
        }
    }

    fn from_band(b: &EqBandSettings) -> Self {
        Self {
            kind: b.kind,
            slope_db_per_oct: b.slope_db_per_oct,
            x: [
                (b.freq_hz as f64).log2(),
                b.gain_db as f64,
                (b.q as f64).ln(),
            ],
        }
    }

    fn band(&self) -> EqBandSettings {
        EqBandSettings {
            enabled: true,
            kind: self.kind,
            freq_hz: 2f64.powf(self.x[0]) as f32,
            gain_db: self.x[1] as f32,
            q: self.x[2].exp() as f32,
            slope_db_per_oct: self.slope_db_per_oct,
        }
    }

    fn is_cut(&self) -> bool {
        self.kind.uses_slope()
    }

    /// Whether coordinate `d` shapes the band (a cut has no gain; a first-order one no Q).
    fn is_free(&self, d: usize) -> bool {
        match d {
            1 => !self.is_cut(),
            2 => !self.is_cut() || self.slope_db_per_oct >= 12,
            _ => true,
        }
    }

    fn clamp(&mut self, limits: &FitLimits) {
        let b = limits.bounds(self.kind);
        self.x[0] = self.x[0].clamp(b.min_hz.log2(), b.max_hz.log2());
        self.x[1] = self.x[1].clamp(b.min_gain_db, b.max_gain_db);
        self.x[2] = if self.is_free(2) {
            self.x[2].clamp(b.min_q.ln(), b.max_q.ln())
        } else {
            std::f64::consts::FRAC_1_SQRT_2.ln()
        };
    }
}

/// A band's magnitude in dB at each of `freqs_hz`, written to `out`.
pub trait BandResponse: Fn(&EqBandSettings, &[f64], &mut [f64]) {}
impl<F: Fn(&EqBandSettings, &[f64], &mut [f64])> BandResponse for F {}

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
/// Levenberg–Marquardt steps, and report their curve and errors under `response`: the exact
/// digital response polishes a fit found on the analog prototype; the prototype moves a fit
/// to a corrected target.
pub fn refine<R: BandResponse>(
    fit: &EqFit,
    target: &FitTarget,
    limits: &FitLimits,
    response: &R,
    iterations: usize,
) -> EqFit {
    let mut params: Vec<Param> = fit.bands.iter().map(Param::from_band).collect();
    levenberg_marquardt(&mut params, target, limits, response, iterations);
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
pub type BandsScore<'a> = dyn Fn(&[EqBandSettings]) -> f64 + 'a;

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
    let plain = around(Vec::new());
    let cuts = choose_cuts(target, limits, response);
    let mut seeds: Vec<Vec<Param>> = Vec::new();
    if !cuts.is_empty() {
        seeds.push(cuts.clone());
    }
    // Without a score only the magnitude speaks, and it hardly tells a hidden cut or another
    // slope from bands: the cuts the target plainly asks for are all that is worth a fit.
    let hidden = if score.is_some() {
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
    // The fits from each seed are independent: half of them on a second core.
    let seeds: Vec<Vec<Param>> = seeds.into_iter().filter(|s| s.len() <= max_bands).collect();
    let (first, second) = seeds.split_at(seeds.len() / 2);
    let fits: Vec<EqFit> = std::thread::scope(|scope| {
        let later = (!second.is_empty())
            .then(|| scope.spawn(|| second.iter().map(|s| around(s.clone())).collect::<Vec<_>>()));
        let mut fits: Vec<EqFit> = first.iter().map(|s| around(s.clone())).collect();
        if let Some(later) = later {
            fits.extend(later.join().expect("the fit does not panic"));
        }
        fits
    });
    let mut best = (merit(&plain), plain);
    for fit in fits {
        let m = merit(&fit);
        if m > best.0 {
            best = (m, fit);
        }
    }
    // The slopes were chosen before the bands around them: walk each one a step at a time.
    let cut_count = if score.is_some() {
        best.1.bands.iter().filter(|b| b.kind.uses_slope()).count()
    } else {
        0
    };
    for i in 0..cut_count {
        for step in [-1i64, 1] {
            loop {
                let mut cuts: Vec<Param> = best
                    .1
                    .bands
                    .iter()
                    .filter(|b| b.kind.uses_slope())
                    .map(Param::from_band)
                    .collect();
                let slopes = ranges::CUT_SLOPES_DB_PER_OCT;
                let Some(k) = slopes.iter().position(|s| *s == cuts[i].slope_db_per_oct) else {
                    break;
                };
                let Some(&slope) = slopes.get((k as i64 + step) as usize) else {
                    break;
                };
                cuts[i].slope_db_per_oct = slope;
                cuts[i].clamp(limits);
                let fit = around(cuts);
                let m = merit(&fit);
                if m <= best.0 {
                    break;
                }
                best = (m, fit);
            }
        }
    }
    best.1
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

/// The cuts the target asks for: at each end, the cut (kind, slope, corner) that alone
/// explains most of the weighted target, if it lowers the error by [`CUT_MIN_GAIN_DB`].
/// Only weighted points count, so a roll-off into the noise floor is judged where it is seen.
fn choose_cuts<R: BandResponse>(
    target: &FitTarget,
    limits: &FitLimits,
    response: &R,
) -> Vec<Param> {
    let n = target.freqs_hz.len();
    let mut chosen: Vec<Param> = Vec::new();
    let mut curve = vec![0.0; n];
    let mut shape = vec![0.0; n];
    let mut trial = vec![0.0; n];
    for kind in [FilterKind::LowCut, FilterKind::HighCut] {
        let before = weighted_rms(target, &curve);
        let b = limits.bounds(kind);
        let mut best: Option<(f64, Param)> = None;
        for slope in ranges::CUT_SLOPES_DB_PER_OCT {
            // Corners every 1/6 octave.
            let mut u = b.min_hz.log2();
            while u <= b.max_hz.log2() {
                let mut p = Param {
                    kind,
                    slope_db_per_oct: slope,
                    x: [u, 0.0, std::f64::consts::FRAC_1_SQRT_2.ln()],
                };
                p.clamp(limits);
                response(&p.band(), &target.freqs_hz, &mut shape);
                for ((t, c), s) in trial.iter_mut().zip(&curve).zip(&shape) {
                    *t = c + s;
                }
                let error = weighted_rms(target, &trial);
                if best.as_ref().is_none_or(|(e, _)| error < *e) {
                    best = Some((error, p));
                }
                u += 1.0 / 6.0;
            }
        }
        if let Some((error, p)) = best
            && before - error >= CUT_MIN_GAIN_DB
        {
            response(&p.band(), &target.freqs_hz, &mut shape);
            for (c, s) in curve.iter_mut().zip(&shape) {
                *c += s;
            }
            chosen.push(p);
        }
    }
    chosen
}

/// Where the target falls by [`END_FALL_DB`] towards an end of its weighted range (the lowest
/// or highest octave and a half that is seen), a cut there: at the corner where the fall
/// passes 3 dB, one per slope of [`SEED_SLOPES`]. These find the cuts that bands next to them
/// hide from [`choose_cuts`] (a 25 Hz cut under a low-shelf boost).
fn end_seeds(target: &FitTarget, limits: &FitLimits) -> Vec<Param> {
    let seen: Vec<(f64, f64)> = target
        .freqs_hz
        .iter()
        .zip(&target.target_db)
        .zip(&target.weights)
        .filter(|(_, w)| **w > 0.0)
        .map(|((f, t), _)| (*f, *t))
        .collect();
    let (Some(&(lo, _)), Some(&(hi, _))) = (seen.first(), seen.last()) else {
        return Vec::new();
    };
    let mut seeds = Vec::new();
    for kind in [FilterKind::LowCut, FilterKind::HighCut] {
        // The end region, walked from the inside towards the end.
        let region: Vec<(f64, f64)> = if kind == FilterKind::LowCut {
            seen.iter()
                .rev()
                .filter(|(f, _)| *f <= lo * 2.8)
                .copied()
                .collect()
        } else {
            seen.iter()
                .filter(|(f, _)| *f >= hi / 2.8)
                .copied()
                .collect()
        };
        let Some(peak) = region.iter().map(|p| p.1).reduce(f64::max) else {
            continue;
        };
        let end = region.last().map_or(peak, |p| p.1);
        if peak - end < END_FALL_DB {
            continue;
        }
        let start = region.iter().position(|p| p.1 == peak).unwrap_or(0);
        let Some(&(corner_hz, _)) = region[start..].iter().find(|p| p.1 <= peak - 3.0) else {
            continue;
        };
        for slope in SEED_SLOPES {
            let mut p = Param {
                kind,
                slope_db_per_oct: slope,
                x: [corner_hz.log2(), 0.0, std::f64::consts::FRAC_1_SQRT_2.ln()],
            };
            p.clamp(limits);
            seeds.push(p);
        }
    }
    seeds
}

/// How far the target must fall towards an end for [`end_seeds`] to try a cut there, dB.
const END_FALL_DB: f64 = 4.0;
/// The slopes [`end_seeds`] tries (the others are walked to from the best fit).
const SEED_SLOPES: [u32; 1] = [12];

/// The greedy fit with `initial` bands (the cuts) in place from the start; they are refined
/// with the rest and never pruned. `settle`: refine them alone first (rough seeds).
fn fit_around<R: BandResponse>(
    target: &FitTarget,
    max_bands: usize,
    limits: &FitLimits,
    response: &R,
    dictionary: &Dictionary,
    initial: Vec<Param>,
    settle: bool,
) -> EqFit {
    let mut params = initial;
    if settle && !params.is_empty() {
        levenberg_marquardt(&mut params, target, limits, response, 30);
    }
    let curve = total_curve(&params, &target.freqs_hz, response);
    let mut best_error = weighted_rms(target, &curve);
    let mut best = params.clone();
    while params.len() < max_bands {
        let curve = total_curve(&params, &target.freqs_hz, response);
        let mut residual = vec![0.0; curve.len()];
        errors(target, &curve, &mut residual);
        residual.iter_mut().for_each(|r| *r = -*r);
        let Some(atom) = dictionary.best_atom(&residual, &target.weights, &params, limits) else {
            break;
        };
        params.push(atom);
        levenberg_marquardt(&mut params, target, limits, response, 60);
        let curve = total_curve(&params, &target.freqs_hz, response);
        let error = weighted_rms(target, &curve);
        let improvement = best_error - error;
        if error < best_error {
            best_error = error;
            best = params.clone();
        }
        if error <= GOOD_ENOUGH_DB || improvement < MIN_IMPROVEMENT_DB {
            break;
        }
    }
    let mut params = best;
    let before = params.len();
    params.retain(|p| p.is_cut() || p.x[1].abs() >= PRUNE_GAIN_DB);
    if params.len() != before {
        levenberg_marquardt(&mut params, target, limits, response, 30);
    }
    // Low to high: the order people read an EQ in.
    finish(params, target, response)
}

fn total_curve<R: BandResponse>(params: &[Param], freqs_hz: &[f64], response: &R) -> Vec<f64> {
    let mut curve = vec![0.0; freqs_hz.len()];
    let mut one = vec![0.0; freqs_hz.len()];
    for p in params {
        response(&p.band(), freqs_hz, &mut one);
        for (c, o) in curve.iter_mut().zip(&one) {
            *c += o;
        }
    }
    curve
}

/// Target values at or below this are the analysis's clamp ([`super::MAX_CUT_DB`]): they say
/// "at least this much cut" (a cut's stop band, or a null), so a curve below them is no error.
const FLOOR_DB: f64 = super::MAX_CUT_DB;

fn is_floor(target_db: f64) -> bool {
    target_db <= FLOOR_DB + 1e-9
}

/// The level shift that brings `curve` closest to the target (the weighted mean of
/// target − curve over the points that are not at the floor), and the errors
/// curve + shift − target, 0 where the target is at the floor and the curve below it.
fn errors(target: &FitTarget, curve: &[f64], out: &mut [f64]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for ((t, c), w) in target.target_db.iter().zip(curve).zip(&target.weights) {
        if !is_floor(*t) {
            num += w * (t - c);
            den += w;
        }
    }
    let shift = if den > 0.0 { num / den } else { 0.0 };
    for ((o, t), c) in out.iter_mut().zip(&target.target_db).zip(curve) {
        let e = c + shift - t;
        *o = if is_floor(*t) { e.max(0.0) } else { e };
    }
    shift
}

/// The level shift of [`errors`].
fn offset(target: &FitTarget, curve: &[f64]) -> f64 {
    errors(target, curve, &mut vec![0.0; curve.len()])
}

/// Weighted RMS of the [`errors`], dB.
fn weighted_rms(target: &FitTarget, curve: &[f64]) -> f64 {
    let mut e = vec![0.0; curve.len()];
    errors(target, curve, &mut e);
    let (mut num, mut den) = (0.0, 0.0);
    for (e, w) in e.iter().zip(&target.weights) {
        num += w * e * e;
        den += w;
    }
    (num / den.max(1e-12)).sqrt()
}

/// Unit-gain shapes (the response at +6 dB divided by 6: nearly linear in gain, matching.md
/// §6.1(b)) of every candidate band, for the greedy choice.
struct Dictionary {
    atoms: Vec<(Param, Vec<f64>)>,
}

impl Dictionary {
    fn new<R: BandResponse>(freqs_hz: &[f64], limits: &FitLimits, response: &R) -> Self {
        let mut atoms = Vec::new();
        let kinds: [(FilterKind, &[f64]); 3] = [
            (FilterKind::Bell, &[0.5, 0.8, 1.2, 1.8, 2.7, 4.0]),
            (FilterKind::LowShelf, &[0.5, 0.71]),
            (FilterKind::HighShelf, &[0.5, 0.71]),
        ];
        for (kind, qs) in kinds {
            let b = limits.bounds(kind);
            // Centres every 1/6 octave inside the kind's bounds.
            let mut u = b.min_hz.max(25.0).log2();
            while u <= b.max_hz.log2() {
                for &q in qs.iter().filter(|q| **q <= b.max_q) {
                    let param = Param::new(kind, [u, 6.0, f64::ln(q)]);
                    let band = param.band();
                    let mut shape = vec![0.0; freqs_hz.len()];
                    response(&band, freqs_hz, &mut shape);
                    shape.iter_mut().for_each(|v| *v /= 6.0);
                    atoms.push((param, shape));
                }
                u += 1.0 / 6.0;
            }
        }
        Self { atoms }
    }

    /// The atom (with its least-squares gain) that removes most weighted residual energy.
    /// A kind already used for a shelf is not offered again (one low and one high shelf).
    fn best_atom(
        &self,
        residual: &[f64],
        weights: &[f64],
        used: &[Param],
        limits: &FitLimits,
    ) -> Option<Param> {
        let mut best: Option<(f64, Param)> = None;
        // The level is free: residual and shapes count with their weighted means removed.
        let total: f64 = weights.iter().sum::<f64>().max(1e-12);
        let residual_sum: f64 = residual.iter().zip(weights).map(|(r, w)| w * r).sum();
        for (param, shape) in &self.atoms {
            if param.kind != FilterKind::Bell && used.iter().any(|p| p.kind == param.kind) {
                continue;
            }
            let (mut dot, mut norm, mut shape_sum) = (0.0, 0.0, 0.0);
            for ((r, s), w) in residual.iter().zip(shape).zip(weights) {
                dot += w * r * s;
                norm += w * s * s;
                shape_sum += w * s;
            }
            dot -= residual_sum * shape_sum / total;
            norm -= shape_sum * shape_sum / total;
            if norm < 1e-12 {
                continue;
            }
            let gain = dot / norm;
            let explained = dot * dot / norm;
            if best.as_ref().is_none_or(|(e, _)| explained > *e) {
                let mut p = *param;
                p.x[1] = gain;
                best = Some((explained, p));
            }
        }
        best.map(|(_, mut p)| {
            p.clamp(limits);
            p
        })
    }
}

/// Weight of the ridge on gains (per grid point, on dB²): keeps bands that fight each other
/// from growing without bound (matching.md §6.1(d), λ_g ≈ 1e-3).
const GAIN_RIDGE: f64 = 1e-4;

/// Joint refinement of all bands: Levenberg–Marquardt with forward-difference Jacobian,
/// Marquardt's diagonal damping, projection onto the bounds after every step.
fn levenberg_marquardt<R: BandResponse>(
    params: &mut [Param],
    target: &FitTarget,
    limits: &FitLimits,
    response: &R,
    max_iterations: usize,
) {
    let n = target.freqs_hz.len();
    let m = params.len() * 3;
    if m == 0 {
        return;
    }
    let sqrt_w: Vec<f64> = target.weights.iter().map(|w| w.sqrt()).collect();
    let ridge = (GAIN_RIDGE * n as f64).sqrt();
    // Weighted curve errors ([`errors`]: level free, floor one-sided) of a summed curve.
    let weighted_errors = |sum: &[f64], out: &mut [f64]| {
        errors(target, sum, out);
        out.iter_mut().zip(&sqrt_w).for_each(|(e, w)| *e *= w);
    };
    // Residual vector: the weighted errors, then one ridge row per band.
    let residuals = |params: &[Param], per_band: &[Vec<f64>]| -> Vec<f64> {
        let sum: Vec<f64> = (0..n)
            .map(|i| per_band.iter().map(|b| b[i]).sum::<f64>())
            .collect();
        let mut r = vec![0.0; n];
        weighted_errors(&sum, &mut r);
        r.extend(params.iter().map(|p| ridge * p.x[1]));
        r
    };
    let band_curve = |p: &Param| -> Vec<f64> {
        let mut curve = vec![0.0; n];
        response(&p.band(), &target.freqs_hz, &mut curve);
        curve
    };
    let mut per_band: Vec<Vec<f64>> = params.iter().map(band_curve).collect();
    let mut r = residuals(params, &per_band);
    let mut cost: f64 = r.iter().map(|v| v * v).sum();
    let mut mu = -1.0;
    const STEPS: [f64; 3] = [1e-4, 1e-3, 1e-4];
    for _ in 0..max_iterations {
        // Jacobian, column by column: only the perturbed band's curve changes.
        let rows = n + params.len();
        let mut jac = vec![0.0; rows * m];
        let sum: Vec<f64> = (0..n)
            .map(|i| per_band.iter().map(|b| b[i]).sum::<f64>())
            .collect();
        let (mut moved, mut moved_errors) = (vec![0.0; n], vec![0.0; n]);
        for (k, p) in params.iter().enumerate() {
            for d in (0..3).filter(|&d| p.is_free(d)) {
                let mut q = *p;
                q.x[d] += STEPS[d];
                let curve = band_curve(&q);
                let col = 3 * k + d;
                for i in 0..n {
                    moved[i] = sum[i] + curve[i] - per_band[k][i];
                }
                weighted_errors(&moved, &mut moved_errors);
                for i in 0..n {
                    jac[i * m + col] = (moved_errors[i] - r[i]) / STEPS[d];
                }
                if d == 1 {
                    jac[(n + k) * m + col] = ridge;
                }
            }
        }
        let mut jtj = vec![0.0; m * m];
        let mut jtr = vec![0.0; m];
        for i in 0..rows {
            let row = &jac[i * m..(i + 1) * m];
            for a in 0..m {
                if row[a] == 0.0 {
                    continue;
                }
                jtr[a] += row[a] * r[i];
                for b in a..m {
                    jtj[a * m + b] += row[a] * row[b];
                }
            }
        }
        for a in 0..m {
            for b in 0..a {
                jtj[a * m + b] = jtj[b * m + a];
            }
        }
        if mu < 0.0 {
            mu = 1e-3;
        }
        let mut improved = false;
        for _ in 0..8 {
            let mut lhs = jtj.clone();
            for a in 0..m {
                lhs[a * m + a] += mu * jtj[a * m + a].max(1e-9);
                if !params[a / 3].is_free(a % 3) {
                    // A coordinate that shapes nothing stays where it is.
                    lhs[a * m + a] = 1.0;
                }
            }
            let rhs: Vec<f64> = jtr.iter().map(|v| -v).collect();
            let Some(step) = solve(&mut lhs, rhs, m) else {
                mu *= 4.0;
                continue;
            };
            let mut trial: Vec<Param> = params.to_vec();
            for (k, p) in trial.iter_mut().enumerate() {
                for d in 0..3 {
                    p.x[d] += step[3 * k + d];
                }
                p.clamp(limits);
            }
            let trial_bands: Vec<Vec<f64>> = trial.iter().map(band_curve).collect();
            let trial_r = residuals(&trial, &trial_bands);
            let trial_cost: f64 = trial_r.iter().map(|v| v * v).sum();
            if trial_cost < cost {
                let relative = (cost - trial_cost) / cost.max(1e-30);
                params.copy_from_slice(&trial);
                per_band = trial_bands;
                r = trial_r;
                cost = trial_cost;
                mu = (mu / 3.0).max(1e-9);
                improved = relative > 1e-7;
                break;
            }
            mu *= 4.0;
        }
        if !improved {
            break;
        }
    }
}

/// Solve `a·x = b` (a is m×m, row-major) by Gaussian elimination with partial pivoting.
fn solve(a: &mut [f64], mut b: Vec<f64>, m: usize) -> Option<Vec<f64>> {
    for col in 0..m {
        let pivot =
            (col..m).max_by(|&i, &j| a[i * m + col].abs().total_cmp(&a[j * m + col].abs()))?;
        if a[pivot * m + col].abs() < 1e-15 {
            return None;
        }
        if pivot != col {
            for k in 0..m {
                a.swap(pivot * m + k, col * m + k);
            }
            b.swap(pivot, col);
        }
        for row in col + 1..m {
            let factor = a[row * m + col] / a[col * m + col];
            for k in col..m {
                a[row * m + k] -= factor * a[col * m + k];
            }
            b[row] -= factor * b[col];
        }
    }
    let mut x = vec![0.0; m];
    for row in (0..m).rev() {
        let s: f64 = (row + 1..m).map(|k| a[row * m + k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row * m + row];
    }
    Some(x)
}

/// Whether a fitted band sits inside the plugin's ranges (used by tests and as a guard).
pub fn in_plugin_ranges(band: &EqBandSettings) -> bool {
    ranges::BAND_FREQ_HZ.check(band.freq_hz).is_ok()
        && ranges::BAND_GAIN_DB.check(band.gain_db).is_ok()
        && ranges::BAND_Q.check(band.q).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::spectrum::log_grid_hz;
    use crate::dsp::eq::analog_band_magnitude_db;

    fn band(kind: FilterKind, freq_hz: f32, gain_db: f32, q: f32) -> EqBandSettings {
        EqBandSettings::on(kind, freq_hz, gain_db, q)
    }

    fn target_of(bands: &[EqBandSettings], fs: f64) -> FitTarget {
        let freqs_hz = log_grid_hz(fs);
        let target_db = freqs_hz
            .iter()
            .map(|&f| bands.iter().map(|b| analog_band_magnitude_db(b, f)).sum())
            .collect();
        let weights = vec![1.0; freqs_hz.len()];
        FitTarget {
            freqs_hz,
            target_db,
            weights,
        }
    }

    #[test]
    fn analog_bell_has_its_gain_at_the_centre_and_half_at_the_shelf_corner() {
        let b = band(FilterKind::Bell, 1000.0, 9.0, 2.0);
        assert!((analog_band_magnitude_db(&b, 1000.0) - 9.0).abs() < 1e-9);
        assert!(analog_band_magnitude_db(&b, 100.0).abs() < 0.1);
        let s = band(FilterKind::LowShelf, 200.0, -12.0, 0.707);
        assert!((analog_band_magnitude_db(&s, 200.0) + 6.0).abs() < 1e-9);
        assert!((analog_band_magnitude_db(&s, 10.0) + 12.0).abs() < 0.05);
        let h = band(FilterKind::HighShelf, 5000.0, 6.0, 0.707);
        assert!((analog_band_magnitude_db(&h, 20_000.0) - 6.0).abs() < 0.1);
    }

    #[test]
    fn recovers_a_four_band_curve_within_a_tenth_of_a_db() {
        let truth = [
            band(FilterKind::LowShelf, 150.0, -6.0, 0.707),
            band(FilterKind::Bell, 400.0, -4.0, 1.5),
            band(FilterKind::Bell, 3000.0, 7.0, 1.0),
            band(FilterKind::HighShelf, 8000.0, 4.0, 0.707),
        ];
        let target = target_of(&truth, 48_000.0);
        let fit = fit_eq(&target, 8, &FitLimits::new(21_600.0), &prototype_curve);
        assert!(
            fit.rms_error_db < 0.1,
            "rms {} bands {:?}",
            fit.rms_error_db,
            fit.bands
        );
        assert!(fit.max_error_db < 0.4, "max {}", fit.max_error_db);
        assert!(fit.bands.iter().all(in_plugin_ranges));
    }

    #[test]
    fn recovers_one_bell_and_one_shelf_exactly() {
        let truth = [
            band(FilterKind::Bell, 3000.0, 7.0, 2.0),
            band(FilterKind::HighShelf, 10_000.0, -5.0, 0.707),
        ];
        let target = target_of(&truth, 48_000.0);
        let fit = fit_eq(&target, 8, &FitLimits::new(21_600.0), &prototype_curve);
        assert_eq!(fit.bands.len(), 2, "{:?}", fit.bands);
        let bell = fit
            .bands
            .iter()
            .find(|b| b.kind == FilterKind::Bell)
            .unwrap();
        assert!((bell.freq_hz / 3000.0).log2().abs() < 0.02, "{bell:?}");
        assert!(
            (bell.gain_db - 7.0).abs() < 0.1 && (bell.q - 2.0).abs() < 0.1,
            "{bell:?}"
        );
    }

    #[test]
    fn band_budget_is_respected_and_zero_target_needs_no_band() {
        let truth = [
            band(FilterKind::Bell, 100.0, 5.0, 2.0),
            band(FilterKind::Bell, 500.0, -5.0, 2.0),
            band(FilterKind::Bell, 2000.0, 5.0, 2.0),
            band(FilterKind::Bell, 8000.0, -5.0, 2.0),
        ];
        let target = target_of(&truth, 44_100.0);
        let two = fit_eq(&target, 2, &FitLimits::new(19_845.0), &prototype_curve);
        assert!(two.bands.len() <= 2);
        let four = fit_eq(&target, 4, &FitLimits::new(19_845.0), &prototype_curve);
        assert!(four.rms_error_db < two.rms_error_db - 1.0);
        let flat = target_of(&[], 44_100.0);
        assert!(
            fit_eq(&flat, 8, &FitLimits::new(19_845.0), &prototype_curve)
                .bands
                .is_empty()
        );
    }

    #[test]
    fn cuts_are_learned_as_cuts_with_their_slopes() {
        // A 24 dB/oct low cut, a bell and a 12 dB/oct high cut; the target clamped at the
        // analysis's deepest cut, as `analysis` builds it (below it: "at least this much").
        let cut = |kind, freq_hz, slope_db_per_oct| EqBandSettings {
            slope_db_per_oct,
            ..band(kind, freq_hz, 0.0, 0.707)
        };
        let truth = [
            cut(FilterKind::LowCut, 120.0, 24),
            band(FilterKind::Bell, 1000.0, 5.0, 1.0),
            cut(FilterKind::HighCut, 6000.0, 12),
        ];
        let freqs_hz = log_grid_hz(48_000.0);
        let mut one = vec![0.0; freqs_hz.len()];
        let mut target_db = vec![0.0; freqs_hz.len()];
        for b in &truth {
            prototype_curve(b, &freqs_hz, &mut one);
            target_db.iter_mut().zip(&one).for_each(|(t, o)| *t += o);
        }
        target_db.iter_mut().for_each(|t| *t = t.max(FLOOR_DB));
        let weights = vec![1.0; freqs_hz.len()];
        let target = FitTarget {
            freqs_hz,
            target_db,
            weights,
        };
        let fit = fit_eq(&target, 8, &FitLimits::new(21_600.0), &prototype_curve);
        assert!(
            fit.rms_error_db < 0.1,
            "{} {:?}",
            fit.rms_error_db,
            fit.bands
        );
        for want in [truth[0], truth[2]] {
            let got = fit.bands.iter().find(|b| b.kind == want.kind);
            assert!(
                got.is_some_and(|b| b.slope_db_per_oct == want.slope_db_per_oct
                    && (b.freq_hz / want.freq_hz).log2().abs() < 0.05),
                "{want:?} in {:?}",
                fit.bands
            );
        }
    }

    #[test]
    fn zero_weight_regions_are_ignored() {
        let truth = [band(FilterKind::Bell, 1000.0, 6.0, 1.0)];
        let mut target = target_of(&truth, 48_000.0);
        // A huge spike the fit must not chase, with no weight.
        for (t, (f, w)) in target
            .target_db
            .iter_mut()
            .zip(target.freqs_hz.iter().zip(target.weights.iter_mut()))
        {
            if *f > 12_000.0 {
                *t += 30.0;
                *w = 0.0;
            }
        }
        let fit = fit_eq(&target, 8, &FitLimits::new(21_600.0), &prototype_curve);
        assert!(fit.rms_error_db < 0.1, "{}", fit.rms_error_db);
        assert!(
            fit.bands.iter().all(|b| b.gain_db < 10.0),
            "{:?}",
            fit.bands
        );
    }
}
