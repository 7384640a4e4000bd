//! What each control does, in words and in terms of its current value: the editor's hover
//! texts and the captions of the live monitor's remote page say the same thing.

use crate::dsp::ChainSettings;

/// The explanation of the parameter with the stable ID `id` (see [`super::params`]) at the
/// values of `s`; `None` for a parameter without one (the EQ bands explain themselves in their
/// own view).
pub fn explain(id: &str, s: &ChainSettings) -> Option<String> {
    let c = &s.compressor;
    let ratio = if c.ratio.is_infinite() {
        "∞".to_owned()
    } else {
        format!("{:.1}", c.ratio)
    };
    Some(match id {
        "comp" => "Turns the compressor on or off (the EQ and gains stay).".into(),
        "detect" => "What the compressor listens to: Peak follows every transient; RMS the \
                     average power over 5 ms, smoother on voice."
            .into(),
        "automk" => "Adds back the gain the static curve takes from a −10 dBFS signal, so \
                     comparing on and off is fair."
            .into(),
        "schpf" => "Filters the lows out of what the compressor listens to, so kicks and \
                    plosives don't pump the voice."
            .into(),
        "thresh" => format!(
            "Threshold {:.1} dBFS: compression starts here; quieter sounds pass unchanged.",
            c.threshold_db
        ),
        "ratio" => format!("Ratio {ratio}:1: above the threshold, {ratio} dB in gives 1 dB out."),
        "knee" => format!(
            "Knee {:.1} dB: the ratio eases in over {:.1} dB around the threshold instead of \
             switching on at once.",
            c.knee_db, c.knee_db
        ),
        "attack" => format!(
            "Attack {:.2} ms: when the level jumps above the threshold, the gain comes down 63 % \
             of the way in {:.2} ms. Short attacks tame transients; longer ones let the punch \
             through.",
            c.attack_ms, c.attack_ms
        ),
        "releas" => format!(
            "Release {:.0} ms: when the level falls, the gain recovers 63 % of the way in {:.0} \
             ms. Short releases pump; long ones hold the level down.",
            c.release_ms, c.release_ms
        ),
        "makeup" => format!(
            "Makeup {:+.1} dB: gain after compression, to win back the level it took.",
            c.makeup_db
        ),
        "mix" => format!(
            "Mix {:.0} %: that much compressed signal, the rest dry (parallel compression).",
            c.mix_pct
        ),
        "schz" => {
            "The sidechain high-pass's corner: lows below it don't trigger the compressor.".into()
        }
        "link" => "Stereo link: 100 % one gain for both channels (keeps the image), 0 % each \
                   channel on its own."
            .into(),
        "ingain" => {
            "Gain before the EQ and the compressor: how hard the compressor is driven.".into()
        }
        "outgn" => "Gain after the compressor.".into(),
        "ceil" => {
            "A zero-latency safety limiter: no output sample goes above the ceiling level.".into()
        }
        "ceildb" => "The safety ceiling's level.".into(),
        "bypass" => "Hear the input untouched (a 10 ms cross-fade, no click).".into(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nice_plug::prelude::Params;

    #[test]
    fn every_control_outside_the_eq_explains_itself_with_its_value() {
        let s = ChainSettings::default();
        let ids = super::super::params::MatchboxParams::default().param_map();
        for (id, _, _) in ids.iter().filter(|(id, _, _)| !id.contains('_')) {
            assert!(explain(id, &s).is_some(), "{id}");
        }
        let mut s = ChainSettings::default();
        s.compressor.ratio = f32::INFINITY;
        s.compressor.threshold_db = -24.5;
        assert!(explain("ratio", &s).unwrap().starts_with("Ratio ∞:1"));
        assert!(explain("thresh", &s).unwrap().contains("-24.5 dBFS"));
        assert_eq!(explain("freq_1", &s), None);
    }
}
