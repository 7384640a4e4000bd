//! Linear parameter glides.

/// A value that moves linearly to its target in a fixed number of samples.
#[derive(Debug, Clone, Copy)]
pub(super) struct Glide {
    value: f64,
    target: f64,
    step: f64,
    remaining: u32,
}

impl Glide {
    pub(super) fn at(value: f64) -> Self {
        Self {
            value,
            target: value,
            step: 0.0,
            remaining: 0,
        }
    }

    pub(super) fn set(&mut self, target: f64, samples: u32) {
        if target != self.target {
            self.target = target;
            self.remaining = samples.max(1);
            self.step = (target - self.value) / self.remaining as f64;
        }
    }

    pub(super) fn jump(&mut self) {
        self.value = self.target;
        self.remaining = 0;
    }

    pub(super) fn is_steady_at(&self, v: f64) -> bool {
        self.remaining == 0 && self.value == v
    }

    #[inline]
    pub(super) fn next(&mut self) -> f64 {
        if self.remaining > 0 {
            self.remaining -= 1;
            self.value = if self.remaining == 0 {
                self.target
            } else {
                self.value + self.step
            };
        }
        self.value
    }

    /// The next `out.len()` values.
    pub(super) fn fill(&mut self, out: &mut [f32]) {
        if self.remaining == 0 {
            out.fill(self.value as f32);
        } else {
            for o in out {
                *o = self.next() as f32;
            }
        }
    }
}
