use super::lm::FLOOR_DB;
use super::*;
use crate::analysis::spectrum::log_grid_hz;
use crate::dsp::eq::analog_band_magnitude_db;

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
