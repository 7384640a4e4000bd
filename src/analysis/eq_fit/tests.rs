use super::lm::FLOOR_DB;
use super::*;
use crate::analysis::spectrum::log_grid_hz;
use crate::dsp::eq::analog_band_magnitude_db;
use std::sync::atomic::{AtomicUsize, Ordering};

fn band(kind: FilterKind, freq_hz: f32, gain_db: f32, q: f32) -> EqBandSettings {
    EqBandSettings::on(kind, freq_hz, gain_db, q)
}

fn target_of(bands: &[EqBandSettings], fs: f64) -> FitTarget {
    let freqs_hz = log_grid_hz(fs);
    let target_db = freqs_hz
        .iter()
        .map(|&f| bands.iter().map(|b| analog_band_magnitude_db(b, f)).sum())
        .collect();
    let weights = vec![1.0; freqs_hz.len()];
    FitTarget {
        freqs_hz,
        target_db,
        weights,
    }
}

#[test]
fn analog_bell_has_its_gain_at_the_centre_and_half_at_the_shelf_corner() {
    let b = band(FilterKind::Bell, 1000.0, 9.0, 2.0);
    assert!((analog_band_magnitude_db(&b, 1000.0) - 9.0).abs() < 1e-9);
    assert!(analog_band_magnitude_db(&b, 100.0).abs() < 0.1);
    let s = band(FilterKind::LowShelf, 200.0, -12.0, 0.707);
    assert!((analog_band_magnitude_db(&s, 200.0) + 6.0).abs() < 1e-9);
    assert!((analog_band_magnitude_db(&s, 10.0) + 12.0).abs() < 0.05);
    let h = band(FilterKind::HighShelf, 5000.0, 6.0, 0.707);
    assert!((analog_band_magnitude_db(&h, 20_000.0) - 6.0).abs() < 0.1);
}

#[test]
fn recovers_a_four_band_curve_within_a_tenth_of_a_db() {
    let truth = [
        band(FilterKind::LowShelf, 150.0, -6.0, 0.707),
        band(FilterKind::Bell, 400.0, -4.0, 1.5),
        band(FilterKind::Bell, 3000.0, 7.0, 1.0),
        band(FilterKind::HighShelf, 8000.0, 4.0, 0.707),
    ];
    let target = target_of(&truth, 48_000.0);
    let fit = fit_eq(&target, 8, &FitLimits::new(21_600.0), &prototype_curve);
    assert!(
        fit.rms_error_db < 0.1,
        "rms {} bands {:?}",
        fit.rms_error_db,
        fit.bands
    );
    assert!(fit.max_error_db < 0.4, "max {}", fit.max_error_db);
    assert!(fit.bands.iter().all(in_plugin_ranges));
}

#[test]
fn recovers_one_bell_and_one_shelf_exactly() {
    let truth = [
        band(FilterKind::Bell, 3000.0, 7.0, 2.0),
        band(FilterKind::HighShelf, 10_000.0, -5.0, 0.707),
    ];
    let target = target_of(&truth, 48_000.0);
    let fit = fit_eq(&target, 8, &FitLimits::new(21_600.0), &prototype_curve);
    assert_eq!(fit.bands.len(), 2, "{:?}", fit.bands);
    let bell = fit
        .bands
        .iter()
        .find(|b| b.kind == FilterKind::Bell)
        .unwrap();
    assert!((bell.freq_hz / 3000.0).log2().abs() < 0.02, "{bell:?}");
    assert!(
        (bell.gain_db - 7.0).abs() < 0.1 && (bell.q - 2.0).abs() < 0.1,
        "{bell:?}"
    );
}

#[test]
fn band_budget_is_respected_and_zero_target_needs_no_band() {
    let truth = [
        band(FilterKind::Bell, 100.0, 5.0, 2.0),
        band(FilterKind::Bell, 500.0, -5.0, 2.0),
        band(FilterKind::Bell, 2000.0, 5.0, 2.0),
        band(FilterKind::Bell, 8000.0, -5.0, 2.0),
    ];
    let target = target_of(&truth, 44_100.0);
    let two = fit_eq(&target, 2, &FitLimits::new(19_845.0), &prototype_curve);
    assert!(two.bands.len() <= 2);
    let four = fit_eq(&target, 4, &FitLimits::new(19_845.0), &prototype_curve);
    assert!(four.rms_error_db < two.rms_error_db - 1.0);
    let flat = target_of(&[], 44_100.0);
    assert!(
        fit_eq(&flat, 8, &FitLimits::new(19_845.0), &prototype_curve)
            .bands
            .is_empty()
    );
}

#[test]
fn cuts_are_learned_as_cuts_with_their_slopes() {
    // A 24 dB/oct low cut, a bell and a 12 dB/oct high cut; the target clamped at the
    // analysis's deepest cut, as `analysis` builds it (below it: "at least this much").
    let cut = |kind, freq_hz, slope_db_per_oct| EqBandSettings {
        slope_db_per_oct,
        ..band(kind, freq_hz, 0.0, 0.707)
    };
    let truth = [
        cut(FilterKind::LowCut, 120.0, 24),
        band(FilterKind::Bell, 1000.0, 5.0, 1.0),
        cut(FilterKind::HighCut, 6000.0, 12),
    ];
    let freqs_hz = log_grid_hz(48_000.0);
    let mut one = vec![0.0; freqs_hz.len()];
    let mut target_db = vec![0.0; freqs_hz.len()];
    for b in &truth {
        prototype_curve(b, &freqs_hz, &mut one);
        target_db.iter_mut().zip(&one).for_each(|(t, o)| *t += o);
    }
    target_db.iter_mut().for_each(|t| *t = t.max(FLOOR_DB));
    let weights = vec![1.0; freqs_hz.len()];
    let target = FitTarget {
        freqs_hz,
        target_db,
        weights,
    };
    let fit = fit_eq(&target, 8, &FitLimits::new(21_600.0), &prototype_curve);
    assert!(
        fit.rms_error_db < 0.1,
        "{} {:?}",
        fit.rms_error_db,
        fit.bands
    );
    for want in [truth[0], truth[2]] {
        let got = fit.bands.iter().find(|b| b.kind == want.kind);
        assert!(
            got.is_some_and(|b| b.slope_db_per_oct == want.slope_db_per_oct
                && (b.freq_hz / want.freq_hz).log2().abs() < 0.05),
            "{want:?} in {:?}",
            fit.bands
        );
    }
}

#[test]
fn zero_weight_regions_are_ignored() {
    let truth = [band(FilterKind::Bell, 1000.0, 6.0, 1.0)];
    let mut target = target_of(&truth, 48_000.0);
    // A huge spike the fit must not chase, with no weight.
    for (t, (f, w)) in target
        .target_db
        .iter_mut()
        .zip(target.freqs_hz.iter().zip(target.weights.iter_mut()))
    {
        if *f > 12_000.0 {
            *t += 30.0;
            *w = 0.0;
        }
    }
    let fit = fit_eq(&target, 8, &FitLimits::new(21_600.0), &prototype_curve);
    assert!(fit.rms_error_db < 0.1, "{}", fit.rms_error_db);
    assert!(
        fit.bands.iter().all(|b| b.gain_db < 10.0),
        "{:?}",
        fit.bands
    );
}

/// The Jacobian's columns shared between two cores give the refinement of one column after
/// another, to the bit (the digital response, whose columns are the costly ones), and the
/// refinement really moves the bands.
#[test]
fn columns_on_two_cores_refine_as_columns_in_turn() {
    let fs = 48_000.0;
    let truth = [
        band(FilterKind::LowShelf, 150.0, -6.0, 0.707),
        band(FilterKind::Bell, 400.0, -4.0, 1.5),
        band(FilterKind::Bell, 3000.0, 7.0, 1.0),
        band(FilterKind::HighShelf, 8000.0, 4.0, 0.707),
    ];
    let target = target_of(&truth, fs);
    let limits = FitLimits::new(0.45 * fs);
    let start = fit_eq(&target, 4, &limits, &prototype_curve);
    let exact = digital_curve(fs);
    let in_turn = refine(&start, &target, &limits, &exact, 8, Columns::InTurn);
    let on_two = refine(&start, &target, &limits, &exact, 8, Columns::OnTwoCores);
    assert_eq!(
        format!("{:?}", in_turn.bands),
        format!("{:?}", on_two.bands)
    );
    let bits = |c: &[f64]| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&in_turn.curve_db), bits(&on_two.curve_db));
    assert_ne!(format!("{:?}", start.bands), format!("{:?}", on_two.bands));
}

/// The walk one step after another, as [`walk_slopes`] was before it fitted the next step
/// beside the current one: the reference its choices must equal.
fn walk_slopes_in_turn(
    mut best: (f64, EqFit),
    limits: &FitLimits,
    around: &dyn Fn(Vec<Param>) -> EqFit,
    merit: &dyn Fn(&EqFit) -> f64,
) -> (f64, EqFit) {
    let cut_count = best.1.bands.iter().filter(|b| b.kind.uses_slope()).count();
    for i in 0..cut_count {
        for step in [-1i64, 1] {
            while let Some(cuts) = slope_step(&best.1, limits, i, step) {
                let fit = around(cuts);
                let m = merit(&fit);
                if m <= best.0 {
                    break;
                }
                best = (m, fit);
            }
        }
    }
    best
}

#[test]
fn the_slope_walk_on_two_cores_chooses_what_the_walk_in_turn_chooses() {
    let limits = FitLimits::new(21_600.0);
    // A stand-in for the fit around the cuts: the cuts themselves, and a merit that peaks at
    // one slope per cut (in dB/oct from the slope it likes).
    let around = |cuts: Vec<Param>| EqFit {
        bands: cuts.iter().map(Param::band).collect(),
        curve_db: Vec::new(),
        rms_error_db: 0.0,
        offset_db: 0.0,
        max_error_db: 0.0,
    };
    let start_at = |low: u32, high: u32| {
        let mut cuts = [
            Param::from_band(&band(FilterKind::LowCut, 60.0, 0.0, 0.707)),
            Param::from_band(&band(FilterKind::HighCut, 12_000.0, 0.0, 0.707)),
        ];
        (cuts[0].slope_db_per_oct, cuts[1].slope_db_per_oct) = (low, high);
        around(cuts.to_vec())
    };
    // Fits made by a walk.
    let counted = |made: &AtomicUsize, cuts: Vec<Param>| {
        made.fetch_add(1, Ordering::Relaxed);
        around(cuts)
    };
    for (liked, start) in [
        ((36, 12), (24, 24)),
        ((6, 48), (24, 24)),
        ((24, 24), (24, 24)),
        ((48, 6), (6, 48)),
    ] {
        let merit = |fit: &EqFit| {
            let slope = |k: usize| fit.bands[k].slope_db_per_oct as f64;
            -(slope(0) - liked.0 as f64).abs() - (slope(1) - liked.1 as f64).abs()
        };
        let first = start_at(start.0, start.1);
        let (made_in_turn, made_on_two) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let in_turn = walk_slopes_in_turn(
            (merit(&first), first.clone()),
            &limits,
            &|cuts| counted(&made_in_turn, cuts),
            &merit,
        );
        let on_two = walk_slopes(
            (merit(&first), first),
            &limits,
            &|cuts| counted(&made_on_two, cuts),
            &merit,
        );
        assert_eq!(in_turn.0, on_two.0, "liked {liked:?} from {start:?}");
        assert_eq!(
            in_turn.1.bands, on_two.1.bands,
            "liked {liked:?} from {start:?}"
        );
        let slopes: Vec<u32> = on_two.1.bands.iter().map(|b| b.slope_db_per_oct).collect();
        assert_eq!(slopes, [liked.0, liked.1], "from {start:?}");
        // At most one fit made ahead for each step of the walk in turn.
        let (in_turn, on_two) = (made_in_turn.into_inner(), made_on_two.into_inner());
        assert!(on_two <= 2 * in_turn, "{on_two} fits for {in_turn} steps");
    }
}
