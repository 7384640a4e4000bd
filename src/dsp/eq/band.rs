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
use super::svf::{SvfCoeffs, SvfParams};
use crate::dsp::chain::MAX_CHANNELS;
use crate::dsp::settings::{EqBandSettings, FilterKind};
use crate::dsp::smoother::{Ramp, SMOOTHING_MS};
use std::f64::consts::PI;

/// States below this are flushed to zero: far under audibility (−300 dB), far above the
/// subnormal range, so silence never costs denormal arithmetic.
const FLUSH_BELOW: f64 = 1e-15;
/// Samples between denormal flushes; short enough that no state decays from
/// [`FLUSH_BELOW`] into the subnormal range in between.
const FLUSH_EVERY: usize = 64;
/// Samples between redesigns while parameters glide.
pub const CONTROL_INTERVAL: u32 = 8;

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
    coeffs: Sections<SvfCoeffs>,
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
            coeffs: [SvfCoeffs::IDENTITY; MAX_SECTIONS],
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
        self.start_from_rest();
    }

    /// Aim at `settings` (clamped into range). Real-time safe.
    pub fn set_settings(&mut self, settings: &EqBandSettings) {
        let s = settings.clamped_for_dsp();
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
        // Whatever moved starts a fresh control interval at this very sample.
        self.interval_left = 0;
    }

    /// Whether this band currently changes the signal (or is fading).
    pub fn is_active(&self) -> bool {
        self.shape.enabled || self.mix.value() > 0.0 || self.mix.is_moving()
    }

    fn is_gliding(&self) -> bool {
        self.freq_log2.is_moving()
            || self.gain_db.is_moving()
            || self.q_log2.is_moving()
            || self.mix.is_moving()
            || self.interval_left > 0
            || self.params != self.params_to
    }

    /// The band is silent (mix 0): take the target shape and start it from rest.
    fn switch_shape(&mut self) {
        self.shape = self.target;
        self.mix
            .set_target(if self.shape.enabled { 1.0 } else { 0.0 });
        self.start_from_rest();
    }

    fn start_from_rest(&mut self) {
        self.state = [[[0.0; 2]; MAX_SECTIONS]; MAX_CHANNELS];
        for ramp in [&mut self.freq_log2, &mut self.gain_db, &mut self.q_log2] {
            ramp.snap();
        }
        let mut params = self.params;
        self.sections = self.design(0, &mut params);
        self.params = params;
        self.params_from = params;
        self.params_to = params;
        self.interval_left = 0;
        self.update_coeffs();
    }

    /// Design the sections for the glide values `ahead` samples from now.
    fn design(&self, ahead: u32, out: &mut Sections<SvfParams>) -> usize {
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

    /// Filter `channels` in place.
    pub fn process(&mut self, channels: &mut [&mut [f32]]) {
        if !self.is_active() {
            return;
        }
        match channels {
            [mono] => self.process_n::<1>([mono]),
            [left, right] => self.process_n::<2>([left, right]),
            _ => {}
        }
    }

    fn process_n<const N: usize>(&mut self, mut ch: [&mut [f32]; N]) {
        let frames = ch[0].len();
        let mut start = 0;
        while start < frames {
            let end = (start + FLUSH_EVERY).min(frames);
            if self.is_gliding() {
                self.process_gliding::<N>(&mut ch, start, end);
            } else {
                self.process_steady::<N>(&mut ch, start, end);
            }
            self.flush_states();
            start = end;
        }
    }

    /// Steady settings: fixed coefficients, band fully in.
    #[inline]
    fn process_steady<const N: usize>(
        &mut self,
        ch: &mut [&mut [f32]; N],
        start: usize,
        end: usize,
    ) {
        let coeffs = self.coeffs;
        let n = self.sections;
        let mut state = self.state;
        for i in start..end {
            for c in 0..N {
                let mut x = ch[c][i] as f64;
                for s in 0..n {
                    x = coeffs[s].tick(x, &mut state[c][s]);
                }
                ch[c][i] = x as f32;
            }
        }
        self.state = state;
    }

    /// Something glides: interpolate coefficients and cross-fade every sample.
    fn process_gliding<const N: usize>(
        &mut self,
        ch: &mut [&mut [f32]; N],
        start: usize,
        end: usize,
    ) {
        for i in start..end {
            if self.interval_left == 0 {
                let mut to = self.params_to;
                self.design(CONTROL_INTERVAL, &mut to);
                self.params_from = self.params;
                self.params_to = to;
                self.interval_left = CONTROL_INTERVAL;
            }
            self.interval_left -= 1;
            let t = (CONTROL_INTERVAL - self.interval_left) as f64 / CONTROL_INTERVAL as f64;
            for s in 0..self.sections {
                self.params[s] = self.params_from[s].lerp(&self.params_to[s], t);
            }
            self.update_coeffs();
            self.freq_log2.next();
            self.gain_db.next();
            self.q_log2.next();
            let mix = self.mix.next();
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

    fn flush_states(&mut self) {
        for s in self.state.iter_mut().flatten().flatten() {
            if s.abs() < FLUSH_BELOW || !s.is_finite() {
                *s = 0.0;
            }
        }
    }

    /// The settings this band is heading to (frequency as limited for this sample rate).
    pub fn target_settings(&self) -> EqBandSettings {
        EqBandSettings {
            enabled: self.target.enabled,
            kind: self.target.kind,
            freq_hz: self.freq_log2.target().exp2() as f32,
            gain_db: self.gain_db.target() as f32,
            q: self.q_log2.target().exp2() as f32,
            slope_db_per_oct: self.target.slope_db_per_oct,
        }
    }
}
