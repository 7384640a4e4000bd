//! The threads the analysis runs its work on: two cores shared item by item
//! ([`on_two_cores`]), and a thread that runs only in the core time the others leave
//! ([`spawn_behind`]).

use std::sync::atomic::{AtomicUsize, Ordering};

/// `each` of `items`, the results in the items' order, on two cores: each core takes the next
/// item not yet taken as it comes free, so items of uneven cost (polishes of a few iterations
/// or of twelve) keep both busy. For work whose items are independent (an excerpt's segments,
/// each from rest or from its own pre-roll; the EQ fit's seeds; the polish's Jacobian
/// columns), so the result is the one of one item after another.
pub(crate) fn on_two_cores<I: Sync, T: Send>(items: &[I], each: impl Fn(&I) -> T + Sync) -> Vec<T> {
    if items.len() < 2 {
        return items.iter().map(&each).collect();
    }
    let next = AtomicUsize::new(0);
    let take = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return done;
            };
            done.push((i, each(item)));
        }
    };
    let mut all = std::thread::scope(|scope| {
        let other = scope.spawn(take);
        let mut all = take();
        all.extend(other.join().expect("the work does not panic"));
        all
    });
    all.sort_unstable_by_key(|&(i, _)| i);
    all.into_iter().map(|(_, t)| t).collect()
}

/// `work` on a thread of `scope` at the lowest priority the system gives a thread of a
/// process (Linux: the idle policy, `SCHED_IDLE`; elsewhere the usual one): it runs where the
/// other threads leave a core idle, and gives the core up as soon as one of them wakes. At
/// nice 19 instead, beside the lanes of the K-weighting, the fits of the bench's paired take
/// took 30–40 ms longer (timed inside the process, medians of 9 runs in turn).
pub(super) fn spawn_behind<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    work: impl FnOnce() -> T + Send + 'scope,
) -> std::thread::ScopedJoinHandle<'scope, T> {
    scope.spawn(|| {
        lowest_priority_for_this_thread();
        work()
    })
}

#[cfg(target_os = "linux")]
fn lowest_priority_for_this_thread() {
    // Linux sets the calling thread's policy when asked for process 0 (POSIX would set the
    // process's). Taking the idle policy needs no privilege; a refusal changes nothing.
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` lives across the call, which only reads it.
    unsafe {
        libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
    }
}

#[cfg(not(target_os = "linux"))]
fn lowest_priority_for_this_thread() {}

#[cfg(test)]
mod two_cores_tests {
    /// Items of uneven cost come back in their order, each once, as one after another gives
    /// them.
    #[test]
    fn work_on_two_cores_comes_back_in_order() {
        let items: Vec<u64> = (0..23).collect();
        let slow = |&i: &u64| {
            if i % 5 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(3));
            }
            i * i + 1
        };
        let plain: Vec<u64> = items.iter().map(slow).collect();
        assert_eq!(super::on_two_cores(&items, slow), plain);
        assert_eq!(super::on_two_cores(&items[..1], slow), vec![1]);
        assert!(super::on_two_cores(&items[..0], slow).is_empty());
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// A thread of [`super::spawn_behind`] runs under the idle policy; the thread that
    /// started it keeps its own.
    #[test]
    fn work_behind_runs_at_the_lowest_priority() {
        // SAFETY: takes no pointer; 0 is the calling thread.
        let policy = || unsafe { libc::sched_getscheduler(0) };
        let own = policy();
        assert_ne!(own, libc::SCHED_IDLE);
        let behind = std::thread::scope(|scope| super::spawn_behind(scope, policy).join());
        assert_eq!(behind.expect("no panic"), libc::SCHED_IDLE);
        assert_eq!(policy(), own);
    }
}
