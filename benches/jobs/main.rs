//! leasehold's benchmarks: throughput, pickup latency, scale and memory per store.
//!
//! `cargo bench --bench jobs` runs every scenario; `-- --quick` runs a small version of
//! each in about a minute (CI runs it only to prove it works). `-- --only NAME` runs the
//! scenarios whose name contains NAME. Every scenario prints one JSON line on stdout;
//! a table follows at the end.

mod report;
mod store_scenarios;

use std::time::Instant;

use report::Report;

/// Sizes for a full run and for `--quick`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub(crate) jobs: usize,
    pub(crate) scale_small: usize,
    pub(crate) scale_large: usize,
    pub(crate) running: usize,
    pub(crate) memory_jobs: usize,
}

impl Sizes {
    fn new(quick: bool) -> Self {
        if quick {
            Sizes {
                jobs: 2_000,
                scale_small: 10_000,
                scale_large: 100_000,
                running: 1_000,
                memory_jobs: 100_000,
            }
        } else {
            Sizes {
                jobs: 10_000,
                scale_small: 10_000,
                scale_large: 1_000_000,
                running: 1_000,
                memory_jobs: 1_000_000,
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let sizes = Sizes::new(quick);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut report = Report::new(only);
    let started = Instant::now();
    runtime.block_on(store_scenarios::run(&mut report, sizes));
    report.print_table();
    eprintln!(
        "benchmarks finished in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
