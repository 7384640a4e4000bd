//! Where an analysis spends its time: the wall-clock and CPU seconds of each stage, read at
//! the stage boundaries ([`Stopwatch::lap`]) and printed by `matchbox analyze --timings`.
//! Measured only: nothing in the analysis reads them, so they never change a result. Also the
//! CPU clocks the benches read ([`thread_cpu_s`]).

use std::time::Instant;

/// One stage's share of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Lap {
    /// What ran, in words ("polish").
    pub stage: &'static str,
    /// Wall-clock seconds from the end of the stage before.
    pub wall_s: f64,
    /// CPU seconds of the whole process over the same time, all its threads together (more
    /// than `wall_s` where both cores worked); `None` where the system does not say.
    pub cpu_s: Option<f64>,
    /// Stages timed inside this one, as laps of their own: the command line's analysis, the
    /// polish's trial's fits to the linear response. They may cover only part of it.
    pub inner: Timings,
}

/// The stages of one run, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timings {
    pub laps: Vec<Lap>,
}

impl Timings {
    /// Wall-clock and CPU seconds of all the laps.
    pub fn total(&self) -> (f64, Option<f64>) {
        let wall = self.laps.iter().map(|l| l.wall_s).sum();
        let cpu = self.laps.iter().map(|l| l.cpu_s).sum();
        (wall, cpu)
    }
}

/// Reads the clocks at each stage's end; the laps cover the time since it started without
/// gap or overlap.
pub struct Stopwatch {
    wall: Instant,
    cpu: Option<f64>,
    timings: Timings,
}

impl Stopwatch {
    pub fn start() -> Self {
        Self {
            wall: Instant::now(),
            cpu: process_cpu_s(),
            timings: Timings::default(),
        }
    }

    /// `stage` ended now.
    pub fn lap(&mut self, stage: &'static str) {
        self.lap_with_inner(stage, Timings::default());
    }

    /// `stage` ended now; `inner` was timed inside it.
    pub fn lap_with_inner(&mut self, stage: &'static str, inner: Timings) {
        let (wall, cpu) = (Instant::now(), process_cpu_s());
        self.timings.laps.push(Lap {
            stage,
            wall_s: (wall - self.wall).as_secs_f64(),
            cpu_s: cpu.zip(self.cpu).map(|(now, then)| now - then),
            inner,
        });
        (self.wall, self.cpu) = (wall, cpu);
    }

    pub fn timings(self) -> Timings {
        self.timings
    }
}

/// CPU seconds the process has used so far, all threads together.
pub fn process_cpu_s() -> Option<f64> {
    cpu_clock_s(CpuClock::Process)
}

/// CPU seconds the calling thread has used so far (what a benchmark on a shared machine
/// reads: wall-clock time includes waiting for a core, CPU time does not).
pub fn thread_cpu_s() -> Option<f64> {
    cpu_clock_s(CpuClock::Thread)
}

#[derive(Clone, Copy)]
enum CpuClock {
    Process,
    Thread,
}

/// The seconds `clock` reads; `None` where the system has no such clock.
#[cfg(unix)]
fn cpu_clock_s(clock: CpuClock) -> Option<f64> {
    let id = match clock {
        CpuClock::Process => libc::CLOCK_PROCESS_CPUTIME_ID,
        CpuClock::Thread => libc::CLOCK_THREAD_CPUTIME_ID,
    };
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which lives across the call.
    let ok = unsafe { libc::clock_gettime(id, &mut now) } == 0;
    ok.then_some(now.tv_sec as f64 + now.tv_nsec as f64 * 1e-9)
}

#[cfg(not(unix))]
fn cpu_clock_s(_: CpuClock) -> Option<f64> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The laps cover the time since the start without gap or overlap, and the CPU column is
    /// the process's CPU time, not the wall clock: a stage that sleeps costs none, one that
    /// spins on a core costs its wall time. Run in a process of its own (the test binary
    /// again, this test alone): the other tests' threads would add their CPU time.
    #[test]
    fn laps_cover_the_run_and_sleeping_costs_no_cpu() {
        const ALONE: &str = "MATCHBOX_TIMINGS_TEST_ALONE";
        let name = "analysis::timings::tests::laps_cover_the_run_and_sleeping_costs_no_cpu";
        if std::env::var_os(ALONE).is_none() {
            let run = std::process::Command::new(std::env::current_exe().unwrap())
                .args([name, "--exact", "--test-threads=1", "--nocapture"])
                .env(ALONE, "1")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&run.stdout);
            assert!(
                run.status.success(),
                "{text}{}",
                String::from_utf8_lossy(&run.stderr)
            );
            assert!(text.contains("1 passed"), "{text}");
            return;
        }
        let outside = Instant::now();
        let mut watch = Stopwatch::start();
        std::thread::sleep(Duration::from_millis(60));
        watch.lap("sleeping");
        // Spin until this thread has had 60 ms of CPU, however long a busy machine takes.
        let mut x = 1.0f64;
        let spun = thread_cpu_s().unwrap();
        while thread_cpu_s().unwrap() - spun < 0.060 {
            for _ in 0..1000 {
                x = std::hint::black_box(x * 1.000_001);
            }
        }
        watch.lap("working");
        let elapsed = outside.elapsed().as_secs_f64();
        let timings = watch.timings();
        let (wall, cpu) = timings.total();
        assert!(
            wall <= elapsed && wall > elapsed - 0.002,
            "{wall} {elapsed}"
        );
        let [sleeping, working] = &timings.laps[..] else {
            panic!("{timings:?}")
        };
        assert_eq!((sleeping.stage, working.stage), ("sleeping", "working"));
        assert!(
            sleeping.wall_s >= 0.060 && working.wall_s >= 0.060,
            "{timings:?}"
        );
        let (slept, worked) = (sleeping.cpu_s.unwrap(), working.cpu_s.unwrap());
        assert!(slept < 0.010, "{timings:?}");
        // The process's CPU time holds the spinning thread's, and little else (the process
        // runs this test alone).
        assert!((0.060..0.080).contains(&worked), "{timings:?}");
        assert!((cpu.unwrap() - slept - worked).abs() < 1e-9);
    }
}
