//! Learn: pick a reference recording, take your own dry take from a file or (in the live
//! monitor) capture it from the input, run the analysis on a thread of its own, preview what it
//! learned beside what is set now, then apply it in one undoable step, or discard it.

use super::files::{Choice, FileDialog};
use super::geometry::FreqAxis;
use super::theme;
use crate::analysis::{self, AnalyzeOptions};
use crate::audio_io::{Audio, read_audio};
use crate::dsp::ChainSettings;
use crate::dsp::eq::BandCurve;
use crate::plugin::params::MatchboxParams;
use crate::plugin::preset::apply_settings;
use egui::{Pos2, Sense, Shape, Stroke};
use nice_plug::prelude::ParamSetter;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

/// Audio files the chooser offers.
pub const AUDIO_EXTENSIONS: [&str; 5] = ["wav", "flac", "mp3", "ogg", "oga"];
/// Capture lengths offered, s.
pub const CAPTURE_SECONDS: std::ops::RangeInclusive<f32> = 5.0..=60.0;

/// Where the dry take comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// No take: the EQ aims at the reference from a neutral voice (low confidence).
    None,
    File(Option<PathBuf>),
    /// Captured from the live input.
    Capture,
}

/// A capture in progress or done: mono samples of the input at `sample_rate`.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    pub samples: Vec<f32>,
    pub wanted: usize,
    pub sample_rate: u32,
}

impl Capture {
    pub fn done(&self) -> bool {
        self.samples.len() >= self.wanted
    }
}

/// What the analysis thread reports.
enum Message {
    Stage(&'static str),
    Done(Result<Box<Learned>, String>),
}

/// What the analysis learned, ready to preview and apply.
#[derive(Debug, Clone)]
pub struct Learned {
    pub settings: ChainSettings,
    pub lines: Vec<String>,
}

/// Which file a chooser is for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    Reference,
    Source,
}

/// The Learn window's state.
pub struct Learn {
    pub open: bool,
    pub reference: Option<PathBuf>,
    pub source: Source,
    pub capture_seconds: f32,
    pub capture: Option<Capture>,
    pub result: Option<Learned>,
    pub error: Option<String>,
    dialog: Option<(FileDialog, Target)>,
    job: Option<(mpsc::Receiver<Message>, Instant, &'static str)>,
}

impl Default for Learn {
    fn default() -> Self {
        Learn {
            open: false,
            reference: None,
            source: Source::File(None),
            capture_seconds: 20.0,
            capture: None,
            result: None,
            error: None,
            dialog: None,
            job: None,
        }
    }
}

impl Learn {
    /// Whether the input is being captured (the editor feeds [`Learn::feed`] then).
    pub fn capturing(&self) -> bool {
        self.capture.as_ref().is_some_and(|c| !c.done())
    }

    /// Input samples for a capture in progress.
    pub fn feed(&mut self, sample: f32) {
        if let Some(c) = self.capture.as_mut()
            && !c.done()
        {
            c.samples.push(sample);
        }
    }

    /// Whether an analysis is running.
    pub fn busy(&self) -> bool {
        self.job.is_some()
    }

    /// Start the analysis on a thread of its own.
    pub fn start(&mut self) {
        let Some(reference) = self.reference.clone() else {
            self.error = Some("choose a reference recording first".into());
            return;
        };
        let source = match &self.source {
            Source::None => SourceInput::None,
            Source::File(Some(path)) => SourceInput::File(path.clone()),
            Source::File(None) => {
                self.error = Some("choose your own take, or pick “no take”".into());
                return;
            }
            Source::Capture => match &self.capture {
                Some(c) if c.done() => SourceInput::Audio(Audio {
                    sample_rate: c.sample_rate,
                    channels: vec![c.samples.clone()],
                }),
                _ => {
                    self.error = Some("capture your take first".into());
                    return;
                }
            },
        };
        let (tx, rx) = mpsc::channel();
        self.error = None;
        self.result = None;
        let spawned = std::thread::Builder::new()
            .name("matchbox-learn".into())
            .spawn(move || {
                let outcome = run(&reference, source, &tx);
                let _ = tx.send(Message::Done(outcome.map(Box::new)));
            });
        match spawned {
            Ok(_) => self.job = Some((rx, Instant::now(), "starting")),
            Err(e) => self.error = Some(format!("cannot start the analysis: {e}")),
        }
    }

    /// Collect what the analysis thread said. Returns whether it is still running.
    pub fn poll(&mut self) -> bool {
        let Some((rx, _, stage)) = self.job.as_mut() else {
            return false;
        };
        while let Ok(message) = rx.try_recv() {
            match message {
                Message::Stage(s) => *stage = s,
                Message::Done(outcome) => {
                    self.job = None;
                    match outcome {
                        Ok(learned) => self.result = Some(*learned),
                        Err(e) => self.error = Some(e),
                    }
                    return false;
                }
            }
        }
        true
    }

    /// Wait for a running analysis to end (tests).
    pub fn wait(&mut self) {
        while self.poll() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Apply what was learned as one gesture; the result is then gone.
    pub fn apply(&mut self, setter: &ParamSetter, params: &MatchboxParams) {
        if let Some(learned) = self.result.take()
            && let Err(errors) = apply_settings(setter, params, &learned.settings)
        {
            self.error = Some(
                errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            );
        }
    }

    /// The Learn window. `live_rate`: the live monitor's sample rate, when capturing is
    /// possible.
    pub fn window(
        &mut self,
        ctx: &egui::Context,
        setter: &ParamSetter,
        params: &MatchboxParams,
        live_rate: Option<u32>,
    ) {
        if !self.open {
            return;
        }
        let mut open = self.open;
        egui::Window::new("Learn from a reference")
            .open(&mut open)
            .default_width(560.0)
            .show(ctx, |ui| self.body(ui, setter, params, live_rate));
        self.open = open;
        if let Some((dialog, target)) = self.dialog.as_mut() {
            match dialog.show(ctx) {
                Choice::Open => {}
                Choice::Cancelled => self.dialog = None,
                Choice::Chosen(path) => {
                    match target {
                        Target::Reference => self.reference = Some(path),
                        Target::Source => self.source = Source::File(Some(path)),
                    }
                    self.dialog = None;
                }
            }
        }
    }

    fn body(
        &mut self,
        ui: &mut egui::Ui,
        setter: &ParamSetter,
        params: &MatchboxParams,
        live_rate: Option<u32>,
    ) {
        ui.label("1. The sound you want: a recording processed the way you like.");
        ui.horizontal(|ui| {
            if ui.button("Choose reference…").clicked() {
                self.choose(Target::Reference);
            }
            ui.label(name_of(self.reference.as_deref()));
        });
        ui.add_space(4.0);
        ui.label("2. Your own dry take (the same performance is best: then the compressor is learned from the waveform).");
        ui.horizontal(|ui| {
            let is_file = matches!(self.source, Source::File(_));
            if ui.selectable_label(is_file, "From a file").clicked() && !is_file {
                self.source = Source::File(None);
            }
            if live_rate.is_some()
                && ui
                    .selectable_label(self.source == Source::Capture, "Capture the input")
                    .clicked()
            {
                self.source = Source::Capture;
            }
            if ui
                .selectable_label(self.source == Source::None, "No take")
                .on_hover_text("EQ only, aimed at a neutral voice: a rough start.")
                .clicked()
            {
                self.source = Source::None;
            }
        });
        match self.source.clone() {
            Source::File(path) => {
                ui.horizontal(|ui| {
                    if ui.button("Choose your take…").clicked() {
                        self.choose(Target::Source);
                    }
                    ui.label(name_of(path.as_deref()));
                });
            }
            Source::Capture => self.capture_row(ui, live_rate.unwrap_or(48_000)),
            Source::None => {}
        }
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            let ready = self.reference.is_some() && !self.busy() && !self.capturing();
            if ui
                .add_enabled(ready, egui::Button::new("Analyze"))
                .clicked()
            {
                self.start();
            }
            if let Some((_, started, stage)) = &self.job {
                ui.spinner();
                ui.label(format!("{stage}… {:.1} s", started.elapsed().as_secs_f32()));
            }
        });
        if let Some(error) = &self.error {
            ui.colored_label(theme::REDUCTION, error);
        }
        if let Some(learned) = self.result.clone() {
            ui.separator();
            ui.label(egui::RichText::new("3. What it learned").strong());
            preview(ui, &params.to_settings(), &learned.settings);
            for line in &learned.lines {
                ui.label(egui::RichText::new(line).small());
            }
            ui.horizontal(|ui| {
                if ui
                    .button(egui::RichText::new("Apply").strong())
                    .on_hover_text("Set every parameter to what was learned (one undo step).")
                    .clicked()
                {
                    self.apply(setter, params);
                }
                if ui.button("Discard").clicked() {
                    self.result = None;
                }
            });
        }
    }

    fn capture_row(&mut self, ui: &mut egui::Ui, rate: u32) {
        ui.horizontal(|ui| {
            ui.add(
                egui::Slider::new(&mut self.capture_seconds, CAPTURE_SECONDS)
                    .suffix(" s")
                    .integer(),
            );
            let label = if self.capturing() {
                "Capturing…"
            } else {
                "Record"
            };
            if ui
                .add_enabled(!self.capturing(), egui::Button::new(label))
                .clicked()
            {
                self.capture = Some(Capture {
                    samples: Vec::with_capacity((self.capture_seconds * rate as f32) as usize),
                    wanted: (self.capture_seconds * rate as f32) as usize,
                    sample_rate: rate,
                });
            }
            if let Some(c) = &self.capture {
                ui.add(
                    egui::ProgressBar::new(c.samples.len() as f32 / c.wanted.max(1) as f32)
                        .desired_width(140.0),
                );
            }
        });
    }

    fn choose(&mut self, target: Target) {
        let start = match target {
            Target::Reference => self.reference.as_deref(),
            Target::Source => match &self.source {
                Source::File(p) => p.as_deref(),
                _ => None,
            },
        }
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."));
        let title = match target {
            Target::Reference => "Choose the reference",
            Target::Source => "Choose your take",
        };
        self.dialog = Some((
            FileDialog::new(title, &start, &AUDIO_EXTENSIONS, false),
            target,
        ));
    }
}

/// Where the analysis takes the source from.
enum SourceInput {
    None,
    File(PathBuf),
    Audio(Audio),
}

/// The analysis thread's work.
fn run(
    reference: &Path,
    source: SourceInput,
    tx: &mpsc::Sender<Message>,
) -> Result<Learned, String> {
    let _ = tx.send(Message::Stage("reading the recordings"));
    let reference_audio = read_audio(reference).map_err(|e| e.to_string())?;
    let source_audio = match source {
        SourceInput::None => None,
        SourceInput::File(path) => Some(read_audio(&path).map_err(|e| e.to_string())?),
        SourceInput::Audio(audio) => Some(audio),
    };
    let _ = tx.send(Message::Stage("analysing"));
    let result = analysis::analyze(
        &reference_audio,
        source_audio.as_ref(),
        &AnalyzeOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    let mut lines: Vec<String> = result
        .warnings
        .iter()
        .map(|w| format!("note: {w}"))
        .collect();
    if let Some(p) = &result.polish {
        lines.extend(crate::report::summary::polish_lines(p));
    }
    if let Some(p) = &result.prediction {
        lines.push(format!(
            "expected match: spectrum within {:.1} dB, loudness {:.1} LU, crest factor {:.1} dB{}",
            p.ltas_error_db,
            p.loudness_error_lu,
            p.crest_error_db,
            p.snr_db
                .map_or(String::new(), |s| format!(", waveform SNR {s:.1} dB"))
        ));
    }
    Ok(Learned {
        settings: result.settings,
        lines,
    })
}

fn name_of(path: Option<&Path>) -> String {
    path.and_then(Path::file_name)
        .map_or_else(|| "(none)".to_owned(), |n| n.to_string_lossy().into_owned())
}

/// Before and after: the two EQ curves and the compressor's settings side by side.
fn preview(ui: &mut egui::Ui, now: &ChainSettings, learned: &ChainSettings) {
    let (rect, _) = ui.allocate_exact_size(
        egui::vec2(ui.available_width().min(520.0), 140.0),
        Sense::hover(),
    );
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, theme::PLOT);
    let axis = FreqAxis {
        x0: rect.left(),
        x1: rect.right(),
    };
    let y = |db: f32| rect.center().y - db.clamp(-18.0, 18.0) / 18.0 * rect.height() / 2.0;
    painter.hline(
        rect.x_range(),
        rect.center().y,
        Stroke::new(1.0, theme::GRID),
    );
    for (settings, colour) in [(now, theme::DIM_TEXT), (learned, theme::ACCENT)] {
        let curves: Vec<BandCurve> = settings
            .eq
            .bands
            .iter()
            .map(|b| BandCurve::new(b, 48_000.0))
            .collect();
        let points: Vec<Pos2> = axis
            .grid(200)
            .into_iter()
            .map(|f| {
                let db: f64 = curves.iter().map(|c| c.magnitude_db(f as f64)).sum::<f64>()
                    + settings.input_gain_db as f64;
                Pos2::new(axis.x(f), y(db as f32))
            })
            .collect();
        painter.add(Shape::line(points, Stroke::new(2.0, colour)));
    }
    let c = |s: &ChainSettings| {
        let k = &s.compressor;
        if !k.enabled {
            return "off".to_owned();
        }
        let ratio = if k.ratio.is_infinite() {
            "∞".into()
        } else {
            format!("{:.1}", k.ratio)
        };
        format!(
            "{:.1} dB, {ratio}:1, knee {:.0} dB, attack {:.1} ms, release {:.0} ms, makeup {:+.1} dB",
            k.threshold_db, k.knee_db, k.attack_ms, k.release_ms, k.makeup_db
        )
    };
    ui.label(
        egui::RichText::new(format!("now:      EQ grey, compressor {}", c(now)))
            .small()
            .color(theme::DIM_TEXT),
    );
    ui.label(
        egui::RichText::new(format!(
            "learned: EQ orange, compressor {}, output {:+.1} dB",
            c(learned),
            learned.output_gain_db
        ))
        .small()
        .color(theme::ACCENT),
    );
}
