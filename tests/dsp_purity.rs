//! `src/dsp` stays pure: no plugin framework, GUI, locks, logging or I/O, and processing never
//! allocates. The first half reads the sources; the second runs the chain under an allocator
//! that counts.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Source without `#[cfg(test)]` modules (tests may print and allocate).
fn non_test_source(text: &str) -> &str {
    text.split("#[cfg(test)]\nmod tests").next().unwrap()
}

#[test]
fn dsp_sources_use_nothing_but_std() {
    let mut files = Vec::new();
    rust_files(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src/dsp")),
        &mut files,
    );
    assert!(files.len() >= 8, "found {files:?}");
    let external = external_crates();
    assert!(external.iter().any(|c| c == "symphonia"), "{external:?}");
    let forbidden = [
        "nice_plug",
        "egui",
        "Mutex",
        "RwLock",
        "Condvar",
        "println!",
        "eprintln!",
        "print!(",
        "dbg!",
        "log::",
        "tracing",
        "std::fs",
        "std::io",
        "std::net",
        "std::thread",
        "File::",
    ];
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        if file.ends_with("chain_tests.rs") || file.ends_with("tests.rs") {
            continue;
        }
        let code = non_test_source(&text);
        for word in forbidden {
            assert!(!code.contains(word), "{}: uses `{word}`", file.display());
        }
        for line in code.lines().filter(|l| l.trim_start().starts_with("use ")) {
            let path = line
                .trim_start()
                .trim_start_matches("use ")
                .trim_start_matches("::");
            let first = path.split("::").next().unwrap_or_default();
            assert!(
                !external.contains(&first.to_string()),
                "{}: imports a dependency other than serde: {line}",
                file.display()
            );
            assert!(
                first != "crate" || path.starts_with("crate::dsp"),
                "{}: imports from outside dsp: {line}",
                file.display()
            );
        }
    }
}

/// Names of the package's dependencies (as Rust identifiers), serde excepted.
fn external_crates() -> Vec<String> {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let mut in_deps = false;
    let mut names = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]" || line == "[dev-dependencies]";
        } else if in_deps && let Some((name, _)) = line.split_once('=') {
            let name = name.trim().replace('-', "_");
            if !name.is_empty() && !name.starts_with('#') && name != "serde" {
                names.push(name);
            }
        }
    }
    names.extend(["nice_plug", "egui", "log", "tracing"].map(String::from));
    names
}

// With `assert_process_allocs` nice-plug installs its own global allocator (a program has
// one): this half runs in the default build (`cargo test --all-targets`).
#[cfg(not(feature = "assert_process_allocs"))]
mod allocations {
    use matchbox::dsp::{Chain, ChainSettings, EqBandSettings, FilterKind};
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting;
    static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        /// Count only on the thread under test: the test harness runs others in parallel.
        static COUNTING: Cell<bool> = const { Cell::new(false) };
    }

    fn counting() -> bool {
        COUNTING.try_with(Cell::get).unwrap_or(false)
    }

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if counting() {
                ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            }
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            if counting() {
                ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            }
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    #[test]
    fn processing_and_setting_parameters_never_allocate() {
        let mut a = ChainSettings::default();
        a.compressor.enabled = true;
        for (i, kind) in FilterKind::ALL.iter().enumerate() {
            a.eq.bands[i] = EqBandSettings {
                enabled: true,
                kind: *kind,
                freq_hz: 100.0 * (i + 1) as f32,
                gain_db: 3.0,
                q: 1.0,
                slope_db_per_oct: 24,
            };
        }
        let mut b = a.clone();
        b.eq.bands[2].kind = FilterKind::HighShelf;
        b.eq.bands[5].enabled = false;
        b.eq.bands[0].freq_hz = 3000.0;
        b.compressor.ratio = f32::INFINITY;
        let mut chain = Chain::new(&a, 48_000.0);
        let mut l = vec![0.1f32; 512];
        let mut r = vec![-0.1f32; 512];
        chain.set_metering(true);

        COUNTING.with(|c| c.set(true));
        for i in 0..200 {
            chain.set_settings(if i % 3 == 0 { &a } else { &b });
            chain.process(&mut [&mut l, &mut r]);
            chain.process(&mut [&mut l[..17]]);
        }
        chain.reset();
        chain.prepare(96_000.0);
        COUNTING.with(|c| c.set(false));
        assert_eq!(ALLOCATIONS.load(Ordering::SeqCst), 0);
    }
}
