//! Safety ceiling. STUB: being implemented on branch `comp`.

use super::settings::CeilingSettings;

/// The safety ceiling (stub: hard clip).
#[derive(Debug, Clone, Default)]
pub struct Ceiling {
    settings: CeilingSettings,
}

impl Ceiling {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn prepare(&mut self, _sample_rate: f64) {}
    pub fn reset(&mut self) {}
    pub fn set_settings(&mut self, s: &CeilingSettings) {
        self.settings = *s;
    }
    pub fn process(&mut self, channels: &mut [&mut [f32]]) {
        if !self.settings.enabled {
            return;
        }
        let c = 10f32.powf(self.settings.ceiling_db / 20.0);
        for ch in channels.iter_mut() {
            for x in ch.iter_mut() {
                *x = x.clamp(-c, c);
            }
        }
    }
}
