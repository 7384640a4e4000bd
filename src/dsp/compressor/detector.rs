//! The level detector: sidechain high-pass, then instantaneous power or RMS.

use super::{Compressor, flush, madd};

/// 2nd-order Butterworth high-pass as a TPT state-variable filter (Simper,
/// "SvfLinearTrapOptimised2", research/dsp.md §4.6), rewritten in state-space form
/// `s' = A·s + B·x, y = C·s + D·x`. The states are the SVF's integrator states, so a cutoff
/// change never disturbs them. Two samples are usually advanced at once through `A²`, which
/// halves the loop-carried dependency chain (the filter's speed limit).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Highpass {
    a: [[f64; 2]; 2],
    b: [f64; 2],
    c: [f64; 2],
    d: f64,
    /// `A²`, `A·B`, `C·A`, `C·B`: the two-sample step.
    a2: [[f64; 2]; 2],
    ab: [f64; 2],
    ca: [f64; 2],
    cb: f64,
}

impl Highpass {
    pub(super) fn new(cutoff_hz: f64, sample_rate: f64) -> Self {
        let k = std::f64::consts::SQRT_2; // 1/Q, Q = 1/√2: Butterworth
        let g = (std::f64::consts::PI * cutoff_hz.min(0.45 * sample_rate) / sample_rate).tan();
        let a1 = 1.0 / (1.0 + g * (g + k));
        let a2 = g * a1;
        let a3 = g * a2;
        // SVF tick: v3 = x − ic2; v1 = a1·ic1 + a2·v3; v2 = ic2 + a2·ic1 + a3·v3;
        // ic1' = 2·v1 − ic1; ic2' = 2·v2 − ic2; high-pass = x − k·v1 − v2.
        let a = [[2.0 * a1 - 1.0, -2.0 * a2], [2.0 * a2, 1.0 - 2.0 * a3]];
        let b = [2.0 * a2, 2.0 * a3];
        let c = [-(k * a1 + a2), -a1];
        let d = a1;
        let mul = |m: [[f64; 2]; 2], v: [f64; 2]| {
            [
                m[0][0] * v[0] + m[0][1] * v[1],
                m[1][0] * v[0] + m[1][1] * v[1],
            ]
        };
        Self {
            a,
            b,
            c,
            d,
            a2: [mul(a, [a[0][0], a[1][0]]), mul(a, [a[0][1], a[1][1]])],
            ab: mul(a, b),
            ca: [
                c[0] * a[0][0] + c[1] * a[1][0],
                c[0] * a[0][1] + c[1] * a[1][1],
            ],
            cb: c[0] * b[0] + c[1] * b[1],
        }
        .transpose_a2()
    }

    /// `a2` was built column by column; store it row by row.
    fn transpose_a2(mut self) -> Self {
        let m = self.a2;
        self.a2 = [[m[0][0], m[1][0]], [m[0][1], m[1][1]]];
        self
    }

    #[inline(always)]
    pub(super) fn tick(&self, s: &mut [f64; 2], x: f64) -> f64 {
        let [s0, s1] = *s;
        let y = self.c[0] * s0 + self.c[1] * s1 + self.d * x;
        s[0] = self.a[0][0] * s0 + self.a[0][1] * s1 + self.b[0] * x;
        s[1] = self.a[1][0] * s0 + self.a[1][1] * s1 + self.b[1] * x;
        y
    }

    /// Two samples in one step.
    #[inline(always)]
    pub(super) fn tick2<const FMA: bool>(&self, s: &mut [f64; 2], x0: f64, x1: f64) -> (f64, f64) {
        let [s0, s1] = *s;
        let y0 = self.c[0] * s0 + self.c[1] * s1 + self.d * x0;
        let y1 = self.ca[0] * s0 + self.ca[1] * s1 + (self.cb * x0 + self.d * x1);
        // The drive terms do not depend on the state: only two multiply-adds are on the
        // loop-carried path.
        let drive0 = self.ab[0] * x0 + self.b[0] * x1;
        let drive1 = self.ab[1] * x0 + self.b[1] * x1;
        s[0] = madd::<FMA>(self.a2[0][0], s0, madd::<FMA>(self.a2[0][1], s1, drive0));
        s[1] = madd::<FMA>(self.a2[1][1], s1, madd::<FMA>(self.a2[1][0], s0, drive1));
        (y0, y1)
    }
}

impl Compressor {
    /// Sidechain high-pass, then power (|s|²) or mean square, into `scratch.work`. Pairs of
    /// samples go through the recursive filters in one step (shorter dependency chains).
    #[inline(always)]
    pub(super) fn detect<const N: usize, const HPF: bool, const RMS: bool, const FMA: bool>(
        &mut self,
        inputs: [&[f32]; N],
        n: usize,
    ) {
        let hp = self.highpass;
        let k = self.rms_coef;
        let (a, a2, ak) = (1.0 - k, (1.0 - k) * (1.0 - k), (1.0 - k) * k);
        let mut hs: [[f64; 2]; N] = std::array::from_fn(|c| self.highpass_state[c]);
        let mut ms: [f64; N] = std::array::from_fn(|c| self.mean_square[c]);
        let out = &mut self.scratch.work;
        // A non-finite sample must not poison the envelope: the detector hears silence.
        let clean = |x: f32| if x.abs() <= f32::MAX { x as f64 } else { 0.0 };
        // No clamping needed: `fastmath::log2` is finite for 0, subnormals and +inf too.
        let limit = |p: f64| p as f32;
        for j in 0..n / 2 {
            let i = 2 * j;
            for c in 0..N {
                let (x0, x1) = (clean(inputs[c][i]), clean(inputs[c][i + 1]));
                let (s0, s1) = if HPF {
                    hp.tick2::<FMA>(&mut hs[c], x0, x1)
                } else {
                    (x0, x1)
                };
                let (mut p0, mut p1) = (s0 * s0, s1 * s1);
                if RMS {
                    // Mean square m' = a·m + k·p, two samples at a time.
                    let m = ms[c];
                    p0 = madd::<FMA>(a, m, k * p0);
                    p1 = madd::<FMA>(a2, m, ak * (s0 * s0) + k * p1);
                }
                ms[c] = p1;
                out[c][i] = limit(p0);
                out[c][i + 1] = limit(p1);
            }
        }
        if n % 2 == 1 {
            let i = n - 1;
            for c in 0..N {
                let x = clean(inputs[c][i]);
                let s = if HPF { hp.tick(&mut hs[c], x) } else { x };
                let mut p = s * s;
                if RMS {
                    p = a * ms[c] + k * p;
                }
                ms[c] = p;
                out[c][i] = limit(p);
            }
        }
        for c in 0..N {
            self.highpass_state[c] = hs[c].map(flush);
            self.mean_square[c] = flush(ms[c]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Highpass;
    use std::f64::consts::TAU;

    /// Steady-state gain (dB) of the filter for a sine, driven two samples at a time.
    fn gain_db(h: &Highpass, freq_hz: f64, fs: f64) -> f64 {
        let mut s = [0.0; 2];
        let n = (fs * 2.0) as usize;
        let x = |i: usize| (TAU * freq_hz * i as f64 / fs).sin();
        let mut peak = 0.0f64;
        for i in (0..n).step_by(2) {
            let (y0, y1) = h.tick2::<false>(&mut s, x(i), x(i + 1));
            if i > n / 2 {
                peak = peak.max(y0.abs()).max(y1.abs());
            }
        }
        20.0 * peak.log10()
    }

    #[test]
    fn butterworth_high_pass_response() {
        for fs in [22_050.0, 48_000.0, 192_000.0] {
            let h = Highpass::new(150.0, fs);
            // 2nd-order Butterworth: |H|² = (f/fc)⁴ / (1 + (f/fc)⁴) (bilinear: close below fs/10).
            for (f, want) in [(150.0, -3.0103), (40.0, -22.97), (1000.0, -0.0022)] {
                let got = gain_db(&h, f, fs);
                assert!(
                    (got - want).abs() < 0.05,
                    "{fs} Hz: {f} Hz gives {got} dB, want {want}"
                );
            }
        }
    }

    #[test]
    fn two_sample_step_equals_two_single_steps() {
        let h = Highpass::new(20.0, 192_000.0);
        let (mut a, mut b) = ([0.3, -0.2], [0.3, -0.2]);
        for i in 0..1000 {
            let (x0, x1) = ((i as f64 * 0.37).sin(), (i as f64 * 0.11).cos());
            let (p0, p1) = h.tick2::<false>(&mut a, x0, x1);
            let (q0, q1) = (h.tick(&mut b, x0), h.tick(&mut b, x1));
            assert!((p0 - q0).abs() < 1e-12 && (p1 - q1).abs() < 1e-12);
            assert!((a[0] - b[0]).abs() < 1e-12 && (a[1] - b[1]).abs() < 1e-12);
        }
    }
}
