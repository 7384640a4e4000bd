//! Filter design: analog prototypes and their magnitude-matched digital biquads.
//!
//! Every EQ shape is defined by an analog prototype (RBJ cookbook forms, w3.org/2011/audio/
//! audio-eq-cookbook.html). The digital filter is *matched* to it rather than bilinear-
//! transformed, so it does not cramp near Nyquist (M. Vicanek, "Matched Second Order Digital
//! Filters", 2016, vicanek.de/articles/BiquadFits.pdf): poles by impulse invariance, and the
//! numerator's squared magnitude, which is linear in three coefficients B0..B2, chosen to
//! match the analog |H|. Cuts and the band pass use the paper's closed forms. Bells, shelves
//! and tilts are exact at DC and at the band frequency and least-squares fitted elsewhere
//! (weighted to be tightest below fs/4), which keeps a 16 kHz bell at 44.1 kHz within about
//! a decibel of the analog curve up to 20 kHz.

use crate::dsp::settings::{EqBandSettings, FilterKind};
use std::f64::consts::PI;

/// Highest band frequency as a fraction of the sample rate. Above this the f0 and Nyquist
/// conditions crowd together and the numerator fit becomes ill-conditioned.
pub const MAX_FREQ_RATIO: f64 = 0.46;

/// Most sections one band uses (a 48 dB/oct cut: four second-order sections; a 6 dB/oct cut
/// is one first-order section).
pub const MAX_SECTIONS: usize = 4;

/// An analog second-order section in s normalised to the band frequency:
/// H(s) = (n[0]·s² + n[1]·s + n[2]) / (d[0]·s² + d[1]·s + d[2]).
/// A first-order section (a 6 dB/oct cut) has n[0] = d[0] = 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Analog {
    pub n: [f64; 3],
    pub d: [f64; 3],
}

impl Analog {
    /// |H(jΩ)|² at normalised frequency Ω = f / f0.
    pub fn magnitude_sq(&self, omega: f64) -> f64 {
        let w2 = omega * omega;
        let (nr, ni) = (self.n[2] - self.n[0] * w2, self.n[1] * omega);
        let (dr, di) = (self.d[2] - self.d[0] * w2, self.d[1] * omega);
        (nr * nr + ni * ni) / (dr * dr + di * di)
    }

    fn inverted(&self) -> Analog {
        Analog {
            n: self.d,
            d: self.n,
        }
    }
}

/// A digital biquad H(z) = (b0 + b1 z⁻¹ + b2 z⁻²) / (1 + a1 z⁻¹ + a2 z⁻²).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Biquad {
    pub b: [f64; 3],
    pub a: [f64; 2],
}

impl Biquad {
    /// The filter that passes everything unchanged.
    pub const IDENTITY: Biquad = Biquad {
        b: [1.0, 0.0, 0.0],
        a: [0.0, 0.0],
    };

    /// |H(e^jω)|² at `w` radians per sample.
    pub fn magnitude_sq(&self, w: f64) -> f64 {
        let (phi0, phi1, phi2) = phis(w);
        let [b0, b1, b2] = self.b;
        let [a1, a2] = self.a;
        let num =
            (b0 + b1 + b2).powi(2) * phi0 + (b0 - b1 + b2).powi(2) * phi1 - 4.0 * b0 * b2 * phi2;
        let den = (1.0 + a1 + a2).powi(2) * phi0 + (1.0 - a1 + a2).powi(2) * phi1 - 4.0 * a2 * phi2;
        // Rounding can push an exact zero (a notch) a hair below 0.
        num.max(0.0) / den
    }

    /// Finite, with both poles inside the unit circle by a margin that keeps the SVF form
    /// well conditioned.
    pub fn is_stable(&self) -> bool {
        const MARGIN: f64 = 1e-9;
        let [a1, a2] = self.a;
        self.b.iter().chain(&self.a).all(|v| v.is_finite())
            && a2.abs() < 1.0 - MARGIN
            && a1.abs() < 1.0 + a2 - MARGIN
    }

    /// 1/H: numerator and denominator swapped, renormalised.
    fn inverted(&self) -> Biquad {
        let b0 = self.b[0];
        Biquad {
            b: [1.0 / b0, self.a[0] / b0, self.a[1] / b0],
            a: [self.b[1] / b0, self.b[2] / b0],
        }
    }
}

/// Vicanek's φ basis: φ0 = cos²(ω/2), φ1 = sin²(ω/2), φ2 = 4·φ0·φ1.
pub(super) fn phis(w: f64) -> (f64, f64, f64) {
    let s = (0.5 * w).sin();
    let phi1 = s * s;
    let phi0 = 1.0 - phi1;
    (phi0, phi1, 4.0 * phi0 * phi1)
}

/// The analog sections of a band (gain, Q and slope applied; frequency normalised away).
/// Returns the section count; unused entries are left as they were.
pub fn analog_sections(band: &EqBandSettings, out: &mut [Analog; MAX_SECTIONS]) -> usize {
    analog_sections_raw(
        band.kind,
        band.gain_db as f64,
        band.q as f64,
        band.slope_db_per_oct,
        out,
    )
}

/// As [`analog_sections`], from raw values (used while parameters glide).
pub fn analog_sections_raw(
    kind: FilterKind,
    gain_db: f64,
    q: f64,
    slope_db_per_oct: u32,
    out: &mut [Analog; MAX_SECTIONS],
) -> usize {
    let a = 10f64.powf(gain_db / 40.0);
    let sa = a.sqrt();
    let one = |n: [f64; 3], d: [f64; 3], out: &mut [Analog; MAX_SECTIONS]| {
        out[0] = Analog { n, d };
        1
    };
    match kind {
        FilterKind::Bell => one([1.0, a / q, 1.0], [1.0, 1.0 / (a * q), 1.0], out),
        FilterKind::LowShelf => one([a, a * sa / q, a * a], [a, sa / q, 1.0], out),
        FilterKind::HighShelf => one([a * a, a * sa / q, a], [1.0, sa / q, a], out),
        // A high shelf of the full gain, lowered by half of it: −g/2 below, +g/2 above.
        FilterKind::Tilt => one([a, sa / q, 1.0], [1.0, sa / q, a], out),
        FilterKind::Notch => one([1.0, 0.0, 1.0], [1.0, 1.0 / q, 1.0], out),
        FilterKind::BandPass => one([0.0, 1.0 / q, 0.0], [1.0, 1.0 / q, 1.0], out),
        // First order, s/(s + 1) or 1/(s + 1): 6 dB/oct, Q has no part in it.
        FilterKind::LowCut if slope_db_per_oct < 12 => one([0.0, 1.0, 0.0], [0.0, 1.0, 1.0], out),
        FilterKind::HighCut if slope_db_per_oct < 12 => one([0.0, 0.0, 1.0], [0.0, 1.0, 1.0], out),
        FilterKind::LowCut | FilterKind::HighCut => {
            let n = (slope_db_per_oct / 12).clamp(1, MAX_SECTIONS as u32) as usize;
            for (i, section) in out.iter_mut().take(n).enumerate() {
                let sq = cut_section_q(i, n, q);
                let num = if kind == FilterKind::LowCut {
                    [1.0, 0.0, 0.0]
                } else {
                    [0.0, 0.0, 1.0]
                };
                *section = Analog {
                    n: num,
                    d: [1.0, 1.0 / sq, 1.0],
                };
            }
            n
        }
    }
}

/// Q of section `i` of an `n`-section cut: Butterworth of order 2n, with the band's Q scaling
/// the resonance of the sharpest section (Q = 0.707 gives a plain Butterworth response).
fn cut_section_q(i: usize, n: usize, q: f64) -> f64 {
    // Butterworth pole pairs: Q_i = 1 / (2 cos θ_i), θ_i = π (2i + 1) / (4n).
    let theta = PI * (2 * i + 1) as f64 / (4 * n) as f64;
    let butterworth_q = 1.0 / (2.0 * theta.cos());
    if i == n - 1 {
        butterworth_q * q / std::f64::consts::FRAC_1_SQRT_2
    } else {
        butterworth_q
    }
}

/// The matched digital biquad of one analog section for a band at `w0` radians per sample
/// (0 < w0 < π); `grid` is the sample rate's [`FitGrid`].
pub fn matched(kind: FilterKind, analog: &Analog, w0: f64, grid: &FitGrid) -> Biquad {
    match kind {
        FilterKind::LowCut if analog.d[0] == 0.0 => first_order_highpass(analog, w0),
        FilterKind::HighCut if analog.d[0] == 0.0 => first_order_lowpass(analog, w0),
        FilterKind::LowCut => highpass(analog, w0),
        FilterKind::HighCut => lowpass(analog, w0),
        FilterKind::BandPass => bandpass(analog, w0),
        FilterKind::Notch => notch(analog, w0),
        FilterKind::Bell | FilterKind::LowShelf | FilterKind::HighShelf | FilterKind::Tilt => {
            // Impulse invariance places poles well only below Nyquist, so design whichever of
            // H and 1/H has the lower (or, at equal frequency, the sharper) pole pair, and
            // invert if needed. Bells and shelves are reciprocal for ±gain, so this is the
            // design of the opposite-gain filter, flipped.
            let pole_w = (analog.d[2] / analog.d[0]).sqrt();
            let zero_w = (analog.n[2] / analog.n[0]).sqrt();
            let pole_zeta = analog.d[1] / (2.0 * (analog.d[0] * analog.d[2]).sqrt());
            let zero_zeta = analog.n[1] / (2.0 * (analog.n[0] * analog.n[2]).sqrt());
            let invert = zero_w < pole_w * (1.0 - 1e-12)
                || (zero_w <= pole_w * (1.0 + 1e-12) && zero_zeta < pole_zeta);
            let design = |a: &Analog| {
                [fitted(a, w0, grid), three_point(a, w0)]
                    .into_iter()
                    .map(|bq| if invert { bq.inverted() } else { bq })
                    .find(Biquad::is_stable)
            };
            let source = if invert { analog.inverted() } else { *analog };
            // Extreme corners (a deep, resonant shelf near Nyquist) can push the fitted zeros
            // onto the unit circle; those become poles when inverted. The bilinear transform
            // is always stable, if cramped: the last resort.
            design(&source).unwrap_or_else(|| bilinear(analog, w0))
        }
    }
}

/// Denominator by impulse invariance of the analog poles: (a1, a2) and Vicanek's A0, A1, A2.
fn poles(analog: &Analog, w0: f64) -> ([f64; 2], [f64; 3]) {
    let w = (analog.d[2] / analog.d[0]).sqrt() * w0;
    let zeta = analog.d[1] / (2.0 * (analog.d[0] * analog.d[2]).sqrt());
    let r = (-zeta * w).exp();
    let a1 = if zeta < 1.0 {
        -2.0 * r * (w * (1.0 - zeta * zeta).sqrt()).cos()
    } else {
        -2.0 * r * (w * (zeta * zeta - 1.0).sqrt()).cosh()
    };
    let a2 = r * r;
    let big_a = [(1.0 + a1 + a2).powi(2), (1.0 - a1 + a2).powi(2), -4.0 * a2];
    ([a1, a2], big_a)
}

/// Numerator from Vicanek's B0, B1, B2 (|N|² = B0φ0 + B1φ1 + B2φ2), minimum phase.
fn numerator(big_b: [f64; 3]) -> [f64; 3] {
    let r0 = big_b[0].max(0.0).sqrt();
    let r1 = big_b[1].max(0.0).sqrt();
    let w = 0.5 * (r0 + r1);
    // W² + B2 < 0 has no real factorisation; it only happens by rounding at the edges of
    // the parameter space, where 0 is the nearest realisable value.
    let b0 = 0.5 * (w + (w * w + big_b[2]).max(0.0).sqrt());
    let b1 = 0.5 * (r0 - r1);
    let b2 = if b0 > 0.0 {
        -big_b[2] / (4.0 * b0)
    } else {
        0.0
    };
    [b0, b1, b2]
}

/// Points (and their weights) where bells, shelves and tilts are fitted, fixed per sample rate.
#[derive(Debug, Clone, PartialEq)]
pub struct FitGrid {
    /// (ω in radians per sample, φ0, φ1, φ2, weight)
    points: [(f64, f64, f64, f64, f64); FIT_POINTS],
}

/// Number of fit frequencies: log-spaced from 20 Hz to 0.49·fs.
pub(super) const FIT_POINTS: usize = 32;
/// Weight of fit points below fs/4 relative to those above: the response there must be
/// exact to a tenth of a dB, while near Nyquist one dB is the goal.
const FIT_WEIGHT_LOW: f64 = 120.0;
/// Weight of the top points (above 0.4·fs), so the top octave is not given up entirely.
const FIT_WEIGHT_TOP: f64 = 8.0;

impl FitGrid {
    /// The grid's frequencies, radians per sample.
    pub fn frequencies(&self) -> impl Iterator<Item = f64> + '_ {
        self.points.iter().map(|p| p.0)
    }

    pub fn new(sample_rate: f64) -> FitGrid {
        let lo = 20.0f64.min(0.001 * sample_rate);
        let hi = 0.49 * sample_rate;
        let points = std::array::from_fn(|i| {
            let f = lo * (hi / lo).powf(i as f64 / (FIT_POINTS - 1) as f64);
            let w = 2.0 * PI * f / sample_rate;
            let (p0, p1, p2) = phis(w);
            let weight = if f < 0.25 * sample_rate {
                FIT_WEIGHT_LOW
            } else if f > 0.4 * sample_rate {
                FIT_WEIGHT_TOP
            } else {
                1.0
            };
            (w, p0, p1, p2, weight)
        });
        FitGrid { points }
    }
}

/// Exact at DC and at the band frequency; the remaining degree of freedom of the numerator
/// (its Nyquist value B1) is a weighted least-squares fit of the relative magnitude error over
/// the grid. Closed form: the residual is linear in B1.
fn fitted(analog: &Analog, w0: f64, grid: &FitGrid) -> Biquad {
    let (a, big_a) = poles(analog, w0);
    let den = |p0: f64, p1: f64, p2: f64| big_a[0] * p0 + big_a[1] * p1 + big_a[2] * p2;
    let b0 = analog.magnitude_sq(0.0) * big_a[0];
    let (m0, m1, m2) = phis(w0);
    let target_m = analog.magnitude_sq(1.0) * den(m0, m1, m2);
    // With B0 fixed and the f0 constraint B0 m0 + B1 m1 + B2 m2 = target_m solved for B2,
    // each point's residual is c + B1·e.
    let (mut ce, mut ee) = (0.0, 0.0);
    for &(w, p0, p1, p2, weight) in &grid.points {
        let target = analog.magnitude_sq(w / w0) * den(p0, p1, p2);
        let c = b0 * p0 + (target_m - b0 * m0) * p2 / m2 - target;
        let e = p1 - m1 * p2 / m2;
        let wt = weight / (target * target);
        ce += wt * c * e;
        ee += wt * e * e;
    }
    let b1 = (-ce / ee).max(0.0);
    let b2 = (target_m - b0 * m0 - b1 * m1) / m2;
    Biquad {
        b: numerator([b0, b1, b2]),
        a,
    }
}

/// [`matched`], then for bells, shelves and tilts all five coefficients polished together
/// (`refine.rs`): the design a settled band runs.
pub fn matched_precise(kind: FilterKind, analog: &Analog, w0: f64, grid: &FitGrid) -> Biquad {
    let start = matched(kind, analog, w0, grid);
    match kind {
        FilterKind::Bell | FilterKind::LowShelf | FilterKind::HighShelf | FilterKind::Tilt => {
            super::refine::Polisher::new(&start, analog, w0, grid).finish()
        }
        _ => start,
    }
}

/// Match |H| at DC, at Nyquist and at the band frequency (the fallback of [`fitted`]).
fn three_point(analog: &Analog, w0: f64) -> Biquad {
    let (a, big_a) = poles(analog, w0);
    let (p0, p1, p2) = phis(w0);
    let den = big_a[0] * p0 + big_a[1] * p1 + big_a[2] * p2;
    let b0 = analog.magnitude_sq(0.0) * big_a[0];
    let b1 = analog.magnitude_sq(PI / w0) * big_a[1];
    let b2 = (analog.magnitude_sq(1.0) * den - b0 * p0 - b1 * p1) / p2;
    Biquad {
        b: numerator([b0, b1, b2]),
        a,
    }
}

/// Bilinear transform pre-warped at the band frequency (RBJ's method): always stable.
fn bilinear(analog: &Analog, w0: f64) -> Biquad {
    let k = 1.0 / (0.5 * w0).tan();
    let k2 = k * k;
    let [n2, n1, n0] = analog.n;
    let [d2, d1, d0] = analog.d;
    let a0 = d2 * k2 + d1 * k + d0;
    Biquad {
        b: [
            (n2 * k2 + n1 * k + n0) / a0,
            2.0 * (n0 - n2 * k2) / a0,
            (n2 * k2 - n1 * k + n0) / a0,
        ],
        a: [2.0 * (d0 - d2 * k2) / a0, (d2 * k2 - d1 * k + d0) / a0],
    }
}

/// Vicanek's matched low-pass: unity at DC, exact at f0, one zero.
fn lowpass(analog: &Analog, w0: f64) -> Biquad {
    let (a, big_a) = poles(analog, w0);
    let (p0, p1, p2) = phis(w0);
    let r1 = (big_a[0] * p0 + big_a[1] * p1 + big_a[2] * p2) * analog.magnitude_sq(1.0);
    let bb0 = big_a[0];
    let bb1 = ((r1 - bb0 * p0) / p1).max(0.0);
    let b0 = 0.5 * (bb0.sqrt() + bb1.sqrt());
    Biquad {
        b: [b0, bb0.sqrt() - b0, 0.0],
        a,
    }
}

/// Vicanek's matched high-pass: double zero at DC, exact at f0.
fn highpass(analog: &Analog, w0: f64) -> Biquad {
    let (a, big_a) = poles(analog, w0);
    let (p0, p1, p2) = phis(w0);
    let den = big_a[0] * p0 + big_a[1] * p1 + big_a[2] * p2;
    let b0 = (analog.magnitude_sq(1.0) * den).sqrt() / (4.0 * p1);
    Biquad {
        b: [b0, -2.0 * b0, b0],
        a,
    }
}

/// The first-order denominator 1 − p z⁻¹, pole by impulse invariance of the analog pole
/// (p = e^(−Ω_p·w0)), as (a1, |D(e^jω)|² at ω) — for one pole, |D|² = D(1)²φ0 + D(−1)²φ1.
fn first_order_pole(analog: &Analog, w0: f64) -> (f64, impl Fn(f64) -> f64) {
    let p = (-analog.d[2] / analog.d[1] * w0).exp();
    let den = move |w: f64| {
        let (p0, p1, _) = phis(w);
        (1.0 - p).powi(2) * p0 + (1.0 + p).powi(2) * p1
    };
    (-p, den)
}

/// Matched first-order high-pass (6 dB/oct low cut): b0 (1 − z⁻¹) / (1 − p z⁻¹), a zero at
/// DC and |H| exact at f0 (the one-pole case of Vicanek's matched high-pass).
fn first_order_highpass(analog: &Analog, w0: f64) -> Biquad {
    let (a1, den) = first_order_pole(analog, w0);
    let (_, p1, _) = phis(w0);
    let b0 = (analog.magnitude_sq(1.0) * den(w0) / (4.0 * p1)).sqrt();
    Biquad {
        b: [b0, -b0, 0.0],
        a: [a1, 0.0],
    }
}

/// Matched first-order low-pass (6 dB/oct high cut): (b0 + b1 z⁻¹) / (1 − p z⁻¹), unity at
/// DC and |H| exact at f0; the zero sits wherever that puts it (Vicanek's matched one-pole).
fn first_order_lowpass(analog: &Analog, w0: f64) -> Biquad {
    let (a1, den) = first_order_pole(analog, w0);
    let (p0, p1, _) = phis(w0);
    // |N|² = B0 φ0 + B1 φ1 with B0 = N(1)², B1 = N(−1)².
    let bb0 = (1.0 + a1).powi(2) * analog.magnitude_sq(0.0);
    let bb1 = ((analog.magnitude_sq(1.0) * den(w0) - bb0 * p0) / p1).max(0.0);
    let (r0, r1) = (bb0.sqrt(), bb1.sqrt());
    Biquad {
        b: [0.5 * (r0 + r1), 0.5 * (r0 - r1), 0.0],
        a: [a1, 0.0],
    }
}

/// Vicanek's matched band-pass: zero at DC, value and slope matched at f0.
fn bandpass(analog: &Analog, w0: f64) -> Biquad {
    let (a, big_a) = poles(analog, w0);
    let (p0, p1, p2) = phis(w0);
    let g2 = analog.magnitude_sq(1.0);
    let r1 = (big_a[0] * p0 + big_a[1] * p1 + big_a[2] * p2) * g2;
    let r2 = (-big_a[0] + big_a[1] + 4.0 * (p0 - p1) * big_a[2]) * g2;
    let bb2 = (r1 - r2 * p1) / (4.0 * p1 * p1);
    let bb1 = (r2 + 4.0 * (p1 - p0) * bb2).max(0.0);
    let b1 = -0.5 * bb1.sqrt();
    let b0 = 0.5 * ((bb2 + 0.25 * bb1).max(0.0).sqrt() - b1);
    Biquad {
        b: [b0, b1, -b0 - b1],
        a,
    }
}

/// Notch: zeros exactly on the unit circle at f0 (infinite depth), unity at DC.
fn notch(analog: &Analog, w0: f64) -> Biquad {
    let (a, big_a) = poles(analog, w0);
    let c = w0.cos();
    let scale = big_a[0].sqrt() / (2.0 - 2.0 * c);
    Biquad {
        b: [scale, -2.0 * c * scale, scale],
        a,
    }
}

/// The band frequency actually used at `sample_rate`: at most [`MAX_FREQ_RATIO`]·fs.
pub fn effective_freq_hz(freq_hz: f64, sample_rate: f64) -> f64 {
    freq_hz.min(MAX_FREQ_RATIO * sample_rate)
}

/// Digital sections of a band at `sample_rate`; returns how many are used.
pub fn design_band(
    band: &EqBandSettings,
    sample_rate: f64,
    grid: &FitGrid,
    out: &mut [Biquad; MAX_SECTIONS],
) -> usize {
    let mut analog = [Analog {
        n: [0.0; 3],
        d: [1.0; 3],
    }; MAX_SECTIONS];
    let n = analog_sections(band, &mut analog);
    let w0 = 2.0 * PI * effective_freq_hz(band.freq_hz as f64, sample_rate) / sample_rate;
    for i in 0..n {
        out[i] = matched_precise(band.kind, &analog[i], w0, grid);
    }
    n
}
