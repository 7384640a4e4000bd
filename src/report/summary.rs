//! The analysis in words, where the command line's summary and the editor's Learn panel say
//! the same thing (presentation only: it reads what the analysis reports).

use crate::analysis::polish::{Polish, SLOPES_TRIED_BELOW_DB, Start};

/// What the polish did ([`crate::analysis::polish`]), in a line or two: the waveform SNR on
/// the stretches of the takes that check it, before and after; where the first polish read
/// under [`SLOPES_TRIED_BELOW_DB`] there or was not kept, the other starts it tried (its trial)
/// and the one the result came from.
pub fn polish_lines(p: &Polish) -> Vec<String> {
    let mut lines = vec![if p.kept {
        format!(
            "polish: waveform SNR {:.1} dB before, {:.1} dB after ({} iteration{}) on stretches of the takes it was not fitted to; kept",
            p.check_before_db,
            p.check_after_db,
            p.iterations,
            if p.iterations == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "polish: not kept (on stretches of the takes it was not fitted to it read a waveform SNR of {:.1} dB after {:.1} dB before: no closer, or at the cost of the spectrum or crest factor)",
            p.check_after_db, p.check_before_db
        )
    }];
    let mut tried = Vec::new();
    match p.slopes_tried {
        0 => {}
        1 => tried.push("1 other cut slope".to_owned()),
        n => tried.push(format!("{n} other cut slopes")),
    }
    if p.ceiling_tried {
        tried.push("the ceiling at the reference's peak".to_owned());
    }
    if p.linear_tried {
        tried.push("the chains fitted to the linear response".to_owned());
    }
    if !tried.is_empty() {
        let mut line = format!(
            "  the first polish read under {SLOPES_TRIED_BELOW_DB:.0} dB there or was not kept, so it also started from {}",
            tried.join(", ")
        );
        if p.kept {
            let from = match p.start {
                None => "the fitted chain",
                Some(Start::Slope) => "a cut's other slope",
                Some(Start::Ceiling) => "the ceiling at the reference's peak",
                Some(Start::Linear) => "a chain fitted to the linear response",
            };
            line.push_str(&format!("; the result came from {from}"));
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn polish(kept: bool, start: Option<Start>) -> Polish {
        Polish {
            snr_before_db: 7.34,
            snr_after_db: 47.7,
            check_before_db: 4.9,
            check_after_db: 40.09,
            iterations: 12,
            slopes_tried: 0,
            ceiling_tried: false,
            linear_tried: false,
            start,
            kept,
        }
    }

    #[test]
    fn the_polish_summary_gives_the_check_before_and_after_and_what_the_trial_tried() {
        assert_eq!(
            polish_lines(&polish(true, None)),
            [
                "polish: waveform SNR 4.9 dB before, 40.1 dB after (12 iterations) on stretches of \
              the takes it was not fitted to; kept"
            ]
        );
        let mut tried = polish(true, Some(Start::Linear));
        (tried.slopes_tried, tried.ceiling_tried, tried.linear_tried) = (2, true, true);
        let lines = polish_lines(&tried);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(
            lines[1],
            "  the first polish read under 30 dB there or was not kept, so it also started \
                 from 2 other cut slopes, the ceiling at the reference's peak, the chains fitted \
                 to the linear response; the result came from a chain fitted to the linear \
                 response"
        );
        // Not kept: no result came from anywhere.
        let mut refused = polish(false, None);
        (refused.slopes_tried, refused.check_after_db) = (1, 3.96);
        assert_eq!(
            polish_lines(&refused).join("\n"),
            "polish: not kept (on stretches of the takes it was not fitted to it read a waveform \
             SNR of 4.0 dB after 4.9 dB before: no closer, or at the cost of the spectrum or crest \
             factor)\n  the first polish read under 30 dB there or was not kept, so it also \
             started from 1 other cut slope"
        );
    }
}
