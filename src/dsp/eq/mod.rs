//! The parametric EQ: [`NUM_BANDS`] bands in series, zero latency, analogue-matched.
//!
//! Each band is one to four second-order sections designed by magnitude matching to an
//! analog prototype (`design.rs`) and run as trapezoidal state-variable filters (`svf.rs`),
//! which stay stable and quiet under per-sample modulation (`band.rs`).

pub mod band;
pub mod curve;
pub mod design;
pub mod refine;
#[cfg(target_arch = "x86_64")]
mod simd;
pub mod svf;
#[cfg(test)]
mod tests;

use super::Simd;
use super::settings::{EqBandSettings, EqSettings, NUM_BANDS};
use band::Band;
pub use curve::{BandCurve, PrototypeCurve};
use design::MAX_SECTIONS;

/// Magnitude of one band as the digital filter really runs it at `sample_rate`, dB.
/// A disabled band is 0 dB. Designs the band on each call: use [`BandCurve`] for many
/// frequencies.
pub fn band_magnitude_db(band: &EqBandSettings, freq_hz: f64, sample_rate: f64) -> f64 {
    BandCurve::new(band, sample_rate).magnitude_db(freq_hz)
}

/// Magnitude of the whole EQ at `sample_rate`, dB (sum of the bands).
pub fn magnitude_db(eq: &EqSettings, freq_hz: f64, sample_rate: f64) -> f64 {
    eq.bands
        .iter()
        .map(|b| band_magnitude_db(b, freq_hz, sample_rate))
        .sum()
}

/// Magnitude of a band's analog prototype, dB: the response the design matches.
pub fn analog_band_magnitude_db(band: &EqBandSettings, freq_hz: f64) -> f64 {
    PrototypeCurve::new(band).magnitude_db(freq_hz)
}

impl EqBandSettings {
    /// The values the DSP runs: each forced into its range.
    pub fn clamped_for_dsp(&self) -> EqBandSettings {
        use super::settings::ranges;
        EqBandSettings {
            freq_hz: ranges::BAND_FREQ_HZ.clamp(self.freq_hz),
            gain_db: ranges::BAND_GAIN_DB.clamp(self.gain_db),
            q: ranges::BAND_Q.clamp(self.q),
            slope_db_per_oct: if ranges::CUT_SLOPES_DB_PER_OCT.contains(&self.slope_db_per_oct) {
                self.slope_db_per_oct
            } else {
                12
            },
            ..*self
        }
    }
}

/// The EQ processor.
#[derive(Debug, Clone)]
pub struct Eq {
    bands: [Band; NUM_BANDS],
    /// The fastest steady loop this CPU can run (checked once, at construction); each
    /// computes the same filter (tested): plain arithmetic; with FMA, two channels per 128-bit
    /// vector; with AVX2, two sections × two channels per 256-bit vector, pipelined; with
    /// AVX-512, the AVX2 loop with its 32 registers.
    kernel: Simd,
}

impl Eq {
    pub fn new(sample_rate: f64) -> Self {
        Self {
            bands: std::array::from_fn(|_| Band::new(sample_rate)),
            kernel: Simd::detect(),
        }
    }

    /// The bands `which` picks, as `other` has them (design, glides and state).
    pub(crate) fn copy_bands(&mut self, other: &Eq, which: impl Fn(usize) -> bool) {
        for (i, (band, from)) in self.bands.iter_mut().zip(&other.bands).enumerate() {
            if which(i) {
                band.clone_from(from);
            }
        }
    }

    /// New sample rate; state cleared.
    pub fn prepare(&mut self, sample_rate: f64) {
        for b in &mut self.bands {
            b.prepare(sample_rate);
        }
    }

    /// Clear filter state; glides jump to their targets.
    pub fn reset(&mut self) {
        for b in &mut self.bands {
            b.reset();
        }
    }

    /// Aim at new settings; values glide, switches cross-fade. Real-time safe.
    pub fn set_settings(&mut self, eq: &EqSettings) {
        for (band, s) in self.bands.iter_mut().zip(&eq.bands) {
            band.set_settings(s);
        }
    }

    /// Filter 1 or 2 equal-length channels in place. With every band off the samples are
    /// left untouched (bit-identical).
    pub fn process(&mut self, channels: &mut [&mut [f32]]) {
        match channels {
            [mono] => self.process_n::<1>([mono]),
            [left, right] => self.process_n::<2>([left, right]),
            _ => {}
        }
    }

    fn process_n<const N: usize>(&mut self, mut ch: [&mut [f32]; N]) {
        let frames = ch[0].len();
        for band in &mut self.bands {
            band.advance_polish(frames);
        }
        for band in self.bands.iter_mut().filter(|b| b.is_active()) {
            band.settle_structure();
        }
        if !self.bands.iter().any(|b| b.is_active() && b.is_gliding()) {
            // Nothing moves: one pass over the whole block (the kernels flush denormals
            // themselves every FLUSH_EVERY samples).
            return self.run_steady::<N>(0, NUM_BANDS, &mut ch, 0, frames);
        }
        let mut start = 0;
        while start < frames {
            let end = (start + band::FLUSH_EVERY).min(frames);
            for band in self.bands.iter_mut().filter(|b| b.is_active()) {
                band.settle_structure();
            }
            // Gliding bands run one by one; each run of steady bands runs fused. Bands that
            // are off (and done fading) are skipped.
            let gliding = |b: &Band| b.is_active() && b.is_gliding();
            let mut i = 0;
            while i < NUM_BANDS {
                if gliding(&self.bands[i]) {
                    self.bands[i].process_gliding::<N>(&mut ch, start, end);
                    self.bands[i].flush_states();
                    i += 1;
                } else {
                    let j = (i..NUM_BANDS)
                        .find(|&j| gliding(&self.bands[j]))
                        .unwrap_or(NUM_BANDS);
                    self.run_steady::<N>(i, j, &mut ch, start, end);
                    i = j;
                }
            }
            start = end;
        }
    }

    /// Steady bands `first..last` over samples `start..end`, with fused multiply-adds where
    /// the CPU has them (x86-64 since 2013, all aarch64), which halves the arithmetic.
    fn run_steady<const N: usize>(
        &mut self,
        first: usize,
        last: usize,
        ch: &mut [&mut [f32]; N],
        start: usize,
        end: usize,
    ) {
        #[cfg(target_arch = "x86_64")]
        if self.kernel >= Simd::Fma {
            // SAFETY: the kernel is at least Fma only when the CPU reports FMA.
            return unsafe { self.run_steady_fma::<N>(first, last, ch, start, end) };
        }
        #[cfg(target_arch = "aarch64")]
        return self.run_steady_with::<N, true>(first, last, ch, start, end);
        #[allow(unreachable_code)]
        self.run_steady_with::<N, false>(first, last, ch, start, end)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "fma")]
    fn run_steady_fma<const N: usize>(
        &mut self,
        first: usize,
        last: usize,
        ch: &mut [&mut [f32]; N],
        start: usize,
        end: usize,
    ) {
        self.run_steady_with::<N, true>(first, last, ch, start, end)
    }

    /// Every section of the steady bands in one loop over the samples, channels side by side.
    /// The sections' recurrences are independent of each other within a sample, so the CPU
    /// overlaps them: several times faster than running band after band.
    #[inline(always)]
    fn run_steady_with<const N: usize, const FMA: bool>(
        &mut self,
        first: usize,
        last: usize,
        ch: &mut [&mut [f32]; N],
        start: usize,
        end: usize,
    ) {
        let mut sections = [svf::Tdf2::IDENTITY; NUM_BANDS * MAX_SECTIONS];
        // state[k][j][lane] = state j of section k for channel `lane`.
        let mut state = [[[0.0f64; N]; 2]; NUM_BANDS * MAX_SECTIONS];
        let mut n = 0;
        for band in &mut self.bands[first..last] {
            let (tdf, st) = band.direct_parts();
            for (s, section) in tdf.iter().enumerate() {
                sections[n] = *section;
                for lane in 0..N {
                    state[n][0][lane] = st[lane][s][0];
                    state[n][1][lane] = st[lane][s][1];
                }
                n += 1;
            }
        }
        if n == 0 {
            return;
        }
        let (sections, state) = (&sections[..n], &mut state[..n]);
        #[cfg(target_arch = "x86_64")]
        if FMA && N == 2 {
            let [left, right] = &mut ch[..] else {
                unreachable!()
            };
            // SAFETY: N == 2, so `[[f64; N]; 2]` and `[[f64; 2]; 2]` are the same type layout;
            // FMA is true only when the CPU has FMA, and each kernel only where detected.
            unsafe {
                let st = std::slice::from_raw_parts_mut(state.as_mut_ptr().cast(), state.len());
                let (l, r) = (&mut left[start..end], &mut right[start..end]);
                match self.kernel {
                    Simd::Avx512 => simd::run_stereo_avx2_512(sections, st, l, r),
                    Simd::Avx2 => simd::run_stereo_avx2(sections, st, l, r),
                    _ => simd::run_stereo_fma(sections, st, l, r),
                }
            }
        } else {
            Self::kernel::<N, FMA>(sections, state, ch, start, end);
        }
        #[cfg(not(target_arch = "x86_64"))]
        Self::kernel::<N, FMA>(sections, state, ch, start, end);
        self.scatter_steady::<N>(first, last, state);
    }

    #[inline(always)]
    fn kernel<const N: usize, const FMA: bool>(
        sections: &[svf::Tdf2],
        state: &mut [[[f64; N]; 2]],
        ch: &mut [&mut [f32]; N],
        start: usize,
        end: usize,
    ) {
        for i in start..end {
            if (i - start) % band::FLUSH_EVERY == band::FLUSH_EVERY - 1 {
                state.iter_mut().flatten().flatten().for_each(band::flush);
            }
            let mut x = [0.0f64; N];
            for lane in 0..N {
                x[lane] = ch[lane][i] as f64;
            }
            for (section, z) in sections.iter().zip(state.iter_mut()) {
                x = section.tick_lanes::<N, FMA>(x, z);
            }
            for lane in 0..N {
                ch[lane][i] = x[lane] as f32;
            }
        }
    }

    fn scatter_steady<const N: usize>(
        &mut self,
        first: usize,
        last: usize,
        state: &[[[f64; N]; 2]],
    ) {
        let mut k = 0;
        for band in &mut self.bands[first..last] {
            let (tdf, st) = band.direct_parts();
            for s in 0..tdf.len() {
                for lane in 0..N {
                    st[lane][s] = [state[k][0][lane], state[k][1][lane]];
                    band::flush(&mut st[lane][s][0]);
                    band::flush(&mut st[lane][s][1]);
                }
                k += 1;
            }
        }
    }

    /// The band processors (for meters and the GUI).
    pub fn bands(&self) -> &[Band; NUM_BANDS] {
        &self.bands
    }
}
