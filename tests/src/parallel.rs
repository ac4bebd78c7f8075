//! Running a test's requests on threads.

/// A job for [`in_parallel`].
pub type Job<'a, T> = Box<dyn FnOnce() -> T + Send + 'a>;

/// Runs `jobs` on `threads` threads and returns their results in job order.
pub fn in_parallel<T: Send>(threads: usize, jobs: Vec<Job<'_, T>>) -> Vec<T> {
    let count = jobs.len();
    let jobs = std::sync::Mutex::new(jobs.into_iter().enumerate().rev().collect::<Vec<_>>());
    let results = std::sync::Mutex::new(Vec::with_capacity(count));
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let Some((n, job)) = jobs.lock().map(|mut j| j.pop()).ok().flatten() else {
                    break;
                };
                let result = job();
                if let Ok(mut r) = results.lock() {
                    r.push((n, result));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(n, _)| *n);
    results.into_iter().map(|(_, r)| r).collect()
}
