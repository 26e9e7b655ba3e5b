//! Results: one JSON line per scenario as it finishes, a table at the end.

use serde::Serialize;

/// One scenario's result.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Row {
    pub(crate) scenario: String,
    pub(crate) store: String,
    pub(crate) jobs: usize,
    pub(crate) concurrency: usize,
    pub(crate) jobs_per_sec: Option<f64>,
    pub(crate) p50_ms: Option<f64>,
    pub(crate) p99_ms: Option<f64>,
    pub(crate) peak_rss_mb: Option<f64>,
    pub(crate) bytes_per_job: Option<f64>,
    pub(crate) ratio_to_baseline: Option<f64>,
    /// The process's CPU time over a wall-clock window, in percent of one core.
    pub(crate) cpu_percent: Option<f64>,
    /// The busiest thread's CPU time over the same window, in percent of one core: a
    /// run whose busiest thread is near 100% waits on that thread, one whose whole
    /// process is near the machine's cores waits on the CPU.
    pub(crate) busiest_thread_percent: Option<f64>,
}

impl Row {
    /// A latency scenario's row: the median and 99th percentile of `times` (which it
    /// sorts), one per job.
    pub(crate) fn latencies(
        scenario: String,
        store: &str,
        concurrency: usize,
        times: &mut [std::time::Duration],
    ) -> Self {
        Row {
            scenario,
            store: store.into(),
            jobs: times.len(),
            concurrency,
            p50_ms: quantile_ms(times, 0.5),
            p99_ms: quantile_ms(times, 0.99),
            ..Row::default()
        }
    }
}

pub(crate) struct Report {
    only: Option<String>,
    rows: Vec<Row>,
    /// `--no-baseline`: run none of the raw-sqlx baselines.
    pub(crate) skip_baselines: bool,
    /// `--claim-ahead N`: the end-to-end workers' buffer, instead of the default.
    pub(crate) claim_ahead: Option<usize>,
}

impl Report {
    pub(crate) fn new(only: Option<String>) -> Self {
        Self {
            skip_baselines: false,
            claim_ahead: None,
            only,
            rows: Vec::new(),
        }
    }

    /// Whether the scenario `name` was asked for.
    pub(crate) fn wants(&self, name: &str) -> bool {
        self.only.as_deref().is_none_or(|o| name.contains(o))
    }

    pub(crate) fn push(&mut self, mut row: Row) {
        row.peak_rss_mb = row
            .peak_rss_mb
            .or_else(|| peak_rss_bytes().map(|b| b / 1e6));
        println!("{}", serde_json::to_string(&row).expect("a row serializes"));
        self.rows.push(row);
    }

    /// The throughput of an earlier row, to compute ratios against.
    pub(crate) fn rate_of(&self, scenario: &str, store: &str) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.scenario == scenario && r.store == store)
            .and_then(|r| r.jobs_per_sec)
    }

    pub(crate) fn print_table(&self) {
        let f =
            |v: Option<f64>, digits: usize| v.map_or("-".to_owned(), |v| format!("{v:.digits$}"));
        println!();
        println!(
            "| {:<34} | {:<12} | {:>9} | {:>4} | {:>12} | {:>8} | {:>8} | {:>9} | {:>8} | {:>6} |",
            "scenario",
            "store",
            "jobs",
            "conc",
            "jobs/s",
            "p50 ms",
            "p99 ms",
            "bytes/job",
            "ratio",
            "cpu %"
        );
        println!(
            "|{:-<36}|{:-<14}|{:-<11}|{:-<6}|{:-<14}|{:-<10}|{:-<10}|{:-<11}|{:-<10}|{:-<8}|",
            "", "", "", "", "", "", "", "", "", ""
        );
        for r in &self.rows {
            println!(
                "| {:<34} | {:<12} | {:>9} | {:>4} | {:>12} | {:>8} | {:>8} | {:>9} | {:>8} | {:>6} |",
                r.scenario,
                r.store,
                r.jobs,
                r.concurrency,
                f(r.jobs_per_sec, 0),
                f(r.p50_ms, 3),
                f(r.p99_ms, 3),
                f(r.bytes_per_job, 0),
                f(r.ratio_to_baseline, 2),
                f(r.cpu_percent, 2),
            );
        }
    }
}

/// CPU time this process has used (user and system, all threads), from Linux's
/// `/proc/self/stat` in clock ticks of 10 ms.
pub(crate) fn cpu_time() -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(std::time::Duration::from_millis(ticks * 10))
}

/// The CPU time each of this process's threads has used so far, by thread id, in
/// nanoseconds (Linux's `/proc/self/task/*/schedstat`, whose first field is the time on
/// a CPU): precise where [`cpu_time`]'s ticks are 10 ms.
pub(crate) fn thread_cpu_times() -> Option<std::collections::HashMap<u64, u64>> {
    std::fs::read_dir("/proc/self/task")
        .ok()?
        .map(|task| {
            let task = task.ok()?;
            let tid = task.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            Some((tid, stat.split_whitespace().next()?.parse().ok()?))
        })
        .collect()
}

/// The process's and its busiest thread's CPU use between `before` and `after`
/// ([`thread_cpu_times`]), over `elapsed`, each in percent of one core. A thread gone
/// by `after` is not counted.
pub(crate) fn cpu_percents(
    before: &std::collections::HashMap<u64, u64>,
    after: &std::collections::HashMap<u64, u64>,
    elapsed: std::time::Duration,
) -> (f64, f64) {
    let used = after
        .iter()
        .map(|(tid, ns)| ns.saturating_sub(before.get(tid).copied().unwrap_or(0)));
    let (total, busiest) = used.fold((0, 0), |(total, busiest), ns| (total + ns, busiest.max(ns)));
    let percent = |ns: u64| 100.0 * ns as f64 / elapsed.as_nanos() as f64;
    (percent(total), percent(busiest))
}

/// This process's peak resident set (Linux `VmHWM`), in bytes.
pub(crate) fn peak_rss_bytes() -> Option<f64> {
    proc_status_kb("VmHWM:").map(|kb| kb * 1024.0)
}

/// This process's current resident set (Linux `VmRSS`), in bytes.
pub(crate) fn rss_bytes() -> Option<f64> {
    proc_status_kb("VmRSS:").map(|kb| kb * 1024.0)
}

fn proc_status_kb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The `q`-quantile (0..=1) of `samples`, in milliseconds.
pub(crate) fn quantile_ms(samples: &mut [std::time::Duration], q: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let last = samples.len() - 1;
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((last as f64) * q).round() as usize; // q in 0..=1, so 0..=last
    Some(samples[i.min(last)].as_secs_f64() * 1e3)
}
