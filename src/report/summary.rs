//! The analysis in words, where the command line's summary and the editor's Learn panel say
//! the same thing (presentation only: it reads what the analysis reports).

use crate::analysis::polish::{Polish, SLOPES_TRIED_BELOW_DB, Start};
use crate::analysis::timings::Timings;

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

/// Where the time went, as a table: a heading, one row per lap of `timings` (wall-clock
/// seconds, then CPU seconds of all threads where the system says), a lap's inner laps under
/// it (the analysis' stages under the command's lap for it), and the total.
pub fn timing_rows(timings: &Timings) -> Vec<String> {
    let mut rows = vec!["timings, s (wall clock, then CPU of all threads):".to_owned()];
    add_laps(&mut rows, timings, 1);
    let (wall_s, cpu_s) = timings.total();
    rows.push(timing_row(1, "total", wall_s, cpu_s));
    rows
}

fn add_laps(rows: &mut Vec<String>, timings: &Timings, depth: usize) {
    for lap in &timings.laps {
        rows.push(timing_row(depth, lap.stage, lap.wall_s, lap.cpu_s));
        add_laps(rows, &lap.inner, depth + 1);
    }
}

/// A row `depth` levels in: the name, then the figures in columns.
fn timing_row(depth: usize, name: &str, wall_s: f64, cpu_s: Option<f64>) -> String {
    let cpu = cpu_s.map_or_else(String::new, |c| format!(" {c:>6.2}"));
    let indent = 2 * depth;
    format!(
        "{:indent$}{name:<w$} {wall_s:>6.2}{cpu}",
        "",
        w = 34 - indent
    )
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

    /// The inner laps go under the lap they ran in, each level two columns further in (a lap
    /// without a CPU figure shows none); the figures stay in their columns and the total adds
    /// up the outer laps.
    #[test]
    fn timing_rows_put_inner_laps_under_their_lap() {
        use crate::analysis::timings::Lap;
        let lap = |stage, wall_s: f64, inner: Vec<Lap>| Lap {
            stage,
            wall_s,
            cpu_s: Some(2.0 * wall_s),
            inner: Timings { laps: inner },
        };
        let fits = Lap {
            cpu_s: None,
            ..lap("fits to the linear response", 0.3, vec![])
        };
        let analysis = vec![
            lap("polish", 0.8, vec![fits]),
            lap("level stage", 0.1, vec![]),
        ];
        let outer = Timings {
            laps: vec![
                lap("decoding", 0.05, vec![]),
                lap("analysis", 0.9, analysis),
            ],
        };
        assert_eq!(
            timing_rows(&outer),
            [
                "timings, s (wall clock, then CPU of all threads):",
                "  decoding                           0.05   0.10",
                "  analysis                           0.90   1.80",
                "    polish                           0.80   1.60",
                "      fits to the linear response    0.30",
                "    level stage                      0.10   0.20",
                "  total                              0.95   1.90",
            ]
        );
    }
}
