//! One EQ band at run time: glides, cross-fades and the sample loop.
//!
//! Continuous settings glide (frequency and Q on a log axis, gain in dB). While they move the
//! band is redesigned every [`CONTROL_INTERVAL`] samples, aiming at where the glide will be at
//! the end of the interval, and the SVF parameters move linearly in between, so every sample
//! gets its own stable coefficients at a fraction of the cost of a per-sample redesign.
//! Switches (on/off, type, slope) cross-fade: the band fades out, changes shape, and fades
//! back in. Filter state is never cleared by a parameter change; only a band that has fully
//! faded out starts its next shape from rest.

use super::design::{self, Analog, FitGrid, MAX_SECTIONS};
use super::refine::Polisher;
use super::svf::{SvfCoeffs, SvfParams, Tdf2};
use crate::dsp::chain::MAX_CHANNELS;
use crate::dsp::settings::{EqBandSettings, FilterKind};
use crate::dsp::smoother::{Ramp, SMOOTHING_MS};
use std::f64::consts::PI;

/// States below this are flushed to zero: far under audibility (−300 dB), far above the
/// subnormal range, so silence never costs denormal arithmetic.
pub(super) const FLUSH_BELOW: f64 = 1e-15;
/// Samples between denormal flushes; short enough that no state decays from
/// [`FLUSH_BELOW`] into the subnormal range in between.
pub(super) const FLUSH_EVERY: usize = 64;
/// Samples between redesigns while parameters glide.
pub const CONTROL_INTERVAL: u32 = 8;
/// Samples per polishing step once a band has settled (a full polish is ~70 steps, about
/// 25 ms at 48 kHz, at a cost of a few percent of one core while it runs).
const POLISH_EVERY: usize = 16;

/// What a band is running now (its shape; continuous values live in ramps).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Shape {
    enabled: bool,
    kind: FilterKind,
    slope_db_per_oct: u32,
}

type Sections<T> = [T; MAX_SECTIONS];

/// One band of the EQ.
#[derive(Debug, Clone)]
pub struct Band {
    sample_rate: f64,
    grid: FitGrid,
    target: Shape,
    shape: Shape,
    freq_log2: Ramp,
    gain_db: Ramp,
    q_log2: Ramp,
    /// 1 = band fully in, 0 = bypassed; glides on every switch.
    mix: Ramp,
    sections: usize,
    /// Parameters now, at the start of the control interval, and at its end.
    params: Sections<SvfParams>,
    params_from: Sections<SvfParams>,
    params_to: Sections<SvfParams>,
    /// Samples left in the control interval (0: start a new one before the next sample).
    interval_left: u32,
    /// `params == params_to`: the interpolation has arrived.
    settled: bool,
    /// The polish of the settled design, under way (bells, shelves and tilts).
    polisher: Option<Polisher>,
    /// Samples of polishing credit not yet spent.
    polish_credit: usize,
    /// The polished design for the current targets, once done.
    polished: Option<SvfParams>,
    coeffs: Sections<SvfCoeffs>,
    /// The same sections in direct form, valid while `direct`.
    tdf: Sections<Tdf2>,
    /// Whether `state` holds direct-form (TDF2) states rather than SVF states.
    direct: bool,
    state: [Sections<[f64; 2]>; MAX_CHANNELS],
}

impl Band {
    pub fn new(sample_rate: f64) -> Self {
        let off = EqBandSettings::default();
        let shape = Shape {
            enabled: false,
            kind: off.kind,
            slope_db_per_oct: off.slope_db_per_oct,
        };
        let rest = SvfParams {
            g: 1.0,
            k: 1.0,
            m: [1.0, 0.0, 0.0],
        };
        let mut band = Self {
            sample_rate,
            grid: FitGrid::new(sample_rate),
            target: shape,
            shape,
            freq_log2: Ramp::new((off.freq_hz as f64).log2()),
            gain_db: Ramp::new(0.0),
            q_log2: Ramp::new((off.q as f64).log2()),
            mix: Ramp::new(0.0),
            sections: 0,
            params: [rest; MAX_SECTIONS],
            params_from: [rest; MAX_SECTIONS],
            params_to: [rest; MAX_SECTIONS],
            interval_left: 0,
            settled: true,
            polisher: None,
            polish_credit: 0,
            polished: None,
            coeffs: [SvfCoeffs::IDENTITY; MAX_SECTIONS],
            tdf: [Tdf2::IDENTITY; MAX_SECTIONS],
            direct: false,
            state: [[[0.0; 2]; MAX_SECTIONS]; MAX_CHANNELS],
        };
        band.prepare(sample_rate);
        band
    }

    /// New sample rate: glide times, fit grid and coefficients follow; state cleared.
    pub fn prepare(&mut self, sample_rate: f64) {
        self.sample_rate = sample_rate;
        self.grid = FitGrid::new(sample_rate);
        for ramp in [
            &mut self.freq_log2,
            &mut self.gain_db,
            &mut self.q_log2,
            &mut self.mix,
        ] {
            ramp.set_time(SMOOTHING_MS, sample_rate);
        }
        let f = design::effective_freq_hz(self.freq_log2.target().exp2(), sample_rate);
        self.freq_log2.reset_to(f.log2());
        self.reset();
    }

    /// Clear the filter state and jump every glide to its target.
    pub fn reset(&mut self) {
        self.shape = self.target;
        self.mix
            .reset_to(if self.shape.enabled { 1.0 } else { 0.0 });
        self.start_from_rest(true);
    }

    /// Aim at `settings` (clamped into range). Real-time safe.
    pub fn set_settings(&mut self, settings: &EqBandSettings) {
        let s = settings.clamped_for_dsp();
        let before = (
            self.freq_log2.target(),
            self.gain_db.target(),
            self.q_log2.target(),
            self.target,
        );
        let freq = design::effective_freq_hz(s.freq_hz as f64, self.sample_rate);
        self.freq_log2.set_target(freq.log2());
        self.gain_db.set_target(s.gain_db as f64);
        self.q_log2.set_target((s.q as f64).log2());
        self.target = Shape {
            enabled: s.enabled,
            kind: s.kind,
            slope_db_per_oct: s.slope_db_per_oct,
        };
        if self.target != self.shape {
            if self.mix.value() == 0.0 {
                self.switch_shape();
            } else {
                self.mix.set_target(0.0);
            }
        } else {
            self.mix
                .set_target(if self.shape.enabled { 1.0 } else { 0.0 });
        }
        let after = (
            self.freq_log2.target(),
            self.gain_db.target(),
            self.q_log2.target(),
            self.target,
        );
        if after != before {
            self.polisher = None;
            self.polished = None;
        }
        // Whatever moved starts a fresh control interval at this very sample.
        self.interval_left = 0;
    }

    /// Whether this band currently changes the signal (or is fading).
    pub fn is_active(&self) -> bool {
        self.shape.enabled || self.mix.value() > 0.0 || self.mix.is_moving()
    }

    pub(super) fn is_gliding(&self) -> bool {
        self.freq_log2.is_moving()
            || self.gain_db.is_moving()
            || self.q_log2.is_moving()
            || self.mix.is_moving()
            || self.interval_left > 0
            || !self.settled
    }

    /// The band is silent (mix 0): take the target shape and start it from rest.
    fn switch_shape(&mut self) {
        self.shape = self.target;
        self.mix
            .set_target(if self.shape.enabled { 1.0 } else { 0.0 });
        self.start_from_rest(false);
    }

    /// Start the current shape from rest at the targets, with the polished design at once
    /// (`polish_now`, off the beat: reset) or the quick one polished over the next blocks.
    fn start_from_rest(&mut self, polish_now: bool) {
        // Zero is zero in either structure; the next settle_structure() picks the form.
        self.state = [[[0.0; 2]; MAX_SECTIONS]; MAX_CHANNELS];
        self.direct = false;
        for ramp in [&mut self.freq_log2, &mut self.gain_db, &mut self.q_log2] {
            ramp.snap();
        }
        self.polished = None;
        self.start_polish();
        if polish_now && let Some(polisher) = self.polisher.take() {
            self.polished = Some(SvfParams::from_biquad(&polisher.finish()));
        }
        let mut params = self.params;
        self.sections = self.design(0, &mut params);
        self.params = params;
        self.params_from = params;
        self.params_to = params;
        self.interval_left = 0;
        self.settled = true;
        self.update_coeffs();
    }

    /// Design the sections for the glide values `ahead` samples from now: the quick closed
    /// form, or the polished design once the glides arrive there and it is ready.
    fn design(&self, ahead: u32, out: &mut Sections<SvfParams>) -> usize {
        let arrives = [&self.freq_log2, &self.gain_db, &self.q_log2]
            .iter()
            .all(|r| r.value_after(ahead) == r.target());
        let mut analog = [Analog {
            n: [0.0; 3],
            d: [1.0; 3],
        }; MAX_SECTIONS];
        let n = design::analog_sections_raw(
            self.shape.kind,
            self.gain_db.value_after(ahead),
            self.q_log2.value_after(ahead).exp2(),
            self.shape.slope_db_per_oct,
            &mut analog,
        );
        let w0 = 2.0 * PI * self.freq_log2.value_after(ahead).exp2() / self.sample_rate;
        for i in 0..n {
            if let (true, Some(polished)) = (arrives, self.polished) {
                out[i] = polished;
                continue;
            }
            let bq = design::matched(self.shape.kind, &analog[i], w0, &self.grid);
            out[i] = SvfParams::from_biquad(&bq);
        }
        n
    }

    fn update_coeffs(&mut self) {
        for i in 0..self.sections {
            self.coeffs[i] = self.params[i].coeffs();
        }
    }

    /// Put the state in the structure the next samples need: SVF while gliding, direct form
    /// while steady. The conversion is exact, so the signal does not notice.
    pub(super) fn settle_structure(&mut self) {
        let gliding = self.is_gliding();
        if gliding && self.direct {
            for ch in &mut self.state {
                for (s, tdf) in ch.iter_mut().zip(&self.tdf).take(self.sections) {
                    *s = tdf.state_to_svf(*s);
                }
            }
            self.direct = false;
        } else if !gliding && !self.direct {
            for (tdf, k) in self.tdf.iter_mut().zip(&self.coeffs).take(self.sections) {
                *tdf = Tdf2::from_svf(k);
            }
            for ch in &mut self.state {
                for (s, tdf) in ch.iter_mut().zip(&self.tdf).take(self.sections) {
                    *s = tdf.state_from_svf(*s);
                }
            }
            self.direct = true;
        }
    }

    /// Direct-form sections of a steady band (none when it is off) and their states.
    pub(super) fn direct_parts(&mut self) -> (&[Tdf2], &mut [Sections<[f64; 2]>; MAX_CHANNELS]) {
        let n = if self.shape.enabled && self.is_active() {
            debug_assert!(self.direct);
            self.sections
        } else {
            0
        };
        (&self.tdf[..n], &mut self.state)
    }

    /// Something glides: interpolate coefficients and cross-fade every sample.
    pub(super) fn process_gliding<const N: usize>(
        &mut self,
        ch: &mut [&mut [f32]; N],
        start: usize,
        end: usize,
    ) {
        for i in start..end {
            if self.interval_left == 0 {
                let mut to = self.params_to;
                self.design(CONTROL_INTERVAL, &mut to);
                let arriving = [&self.freq_log2, &self.gain_db, &self.q_log2]
                    .iter()
                    .all(|r| r.value_after(CONTROL_INTERVAL) == r.target());
                if arriving && self.polished.is_none() && self.polisher.is_none() {
                    self.start_polish();
                }
                self.params_from = self.params;
                self.params_to = to;
                self.interval_left = CONTROL_INTERVAL;
            }
            self.interval_left -= 1;
            let t = (CONTROL_INTERVAL - self.interval_left) as f64 / CONTROL_INTERVAL as f64;
            for s in 0..self.sections {
                self.params[s] = self.params_from[s].lerp(&self.params_to[s], t);
            }
            // lerp returns `params_to` exactly at t = 1.
            self.settled = self.interval_left == 0;
            self.update_coeffs();
            self.freq_log2.tick();
            self.gain_db.tick();
            self.q_log2.tick();
            let mix = self.mix.tick();
            for c in 0..N {
                let dry = ch[c][i] as f64;
                let mut x = dry;
                for s in 0..self.sections {
                    x = self.coeffs[s].tick(x, &mut self.state[c][s]);
                }
                ch[c][i] = (dry + mix * (x - dry)) as f32;
            }
            if !self.mix.is_moving() && self.mix.value() == 0.0 && self.target != self.shape {
                self.switch_shape();
            }
        }
    }

    /// Begin polishing the design at the targets (single-section shapes only).
    fn start_polish(&mut self) {
        let kind = self.shape.kind;
        if !self.shape.enabled
            || !matches!(
                kind,
                FilterKind::Bell | FilterKind::LowShelf | FilterKind::HighShelf | FilterKind::Tilt
            )
        {
            return;
        }
        let mut analog = [Analog {
            n: [0.0; 3],
            d: [1.0; 3],
        }; MAX_SECTIONS];
        design::analog_sections_raw(
            kind,
            self.gain_db.target(),
            self.q_log2.target().exp2(),
            self.shape.slope_db_per_oct,
            &mut analog,
        );
        let w0 = 2.0 * PI * self.freq_log2.target().exp2() / self.sample_rate;
        let start = design::matched(kind, &analog[0], w0, &self.grid);
        self.polisher = Some(Polisher::new(&start, &analog[0], w0, &self.grid));
        self.polish_credit = 0;
    }

    /// Spend `frames` samples' worth of polishing: one step per [`POLISH_EVERY`] samples.
    /// When the polish is done, the band glides onto it within one control interval.
    pub(super) fn advance_polish(&mut self, frames: usize) {
        let Some(polisher) = &mut self.polisher else {
            return;
        };
        self.polish_credit += frames;
        while self.polish_credit >= POLISH_EVERY {
            self.polish_credit -= POLISH_EVERY;
            if polisher.step() {
                self.polished = Some(SvfParams::from_biquad(&polisher.result()));
                self.polisher = None;
                // Not settled on the polished design yet: glide there.
                self.settled = false;
                self.interval_left = 0;
                return;
            }
        }
    }

    pub(super) fn flush_states(&mut self) {
        self.state.iter_mut().flatten().flatten().for_each(flush);
    }

    /// Magnitude of what the band runs right now, dB (for tests).
    #[cfg(test)]
    pub(super) fn running_magnitude_db(&self, freq_hz: f64) -> f64 {
        let w = 2.0 * PI * freq_hz / self.sample_rate;
        self.coeffs[..self.sections]
            .iter()
            .map(|k| {
                let t = Tdf2::from_svf(k);
                let bq = design::Biquad {
                    b: [t.b0, t.b1, t.b2],
                    a: [-t.na1, -t.na2],
                };
                10.0 * bq.magnitude_sq(w).log10()
            })
            .sum()
    }
}

/// A state value, or 0 when it is too small to matter (or not a number).
#[inline]
pub(super) fn flush(v: &mut f64) {
    if v.abs() < FLUSH_BELOW || !v.is_finite() {
        *v = 0.0;
    }
}
