//! What the machine's processors did during a benchmark's phase, from the kernel's counters
//! (`/proc/stat`): busy, idle, and stolen — time a virtual machine's processor was ready to run
//! but its host ran something else. On a shared host the steal differs from run to run and from
//! one machine to the next, so a figure is printed with it: throughput measured while a third of
//! the processor was stolen says little about the code.

/// The machine's processor counters (all processors together, in clock ticks) at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuTimes {
    busy: u64,
    idle: u64,
    stolen: u64,
}

impl CpuTimes {
    /// The counters now; `None` where the kernel does not offer them (not Linux).
    pub fn now() -> Option<CpuTimes> {
        CpuTimes::parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// Reads the first line of `/proc/stat`: `cpu user nice system idle iowait irq softirq steal
    /// ...` (later columns, guest time, are already counted in user and nice).
    fn parse(stat: &str) -> Option<CpuTimes> {
        let line = stat.lines().next()?;
        let mut fields = line.split_whitespace();
        if fields.next()? != "cpu" {
            return None;
        }
        let n: Vec<u64> = fields.take(8).map(|f| f.parse().ok()).collect::<Option<_>>()?;
        let [user, nice, system, idle, iowait, irq, softirq, steal] = <[u64; 8]>::try_from(n).ok()?;
        Some(CpuTimes { busy: user + nice + system + irq + softirq, idle: idle + iowait, stolen: steal })
    }

    /// The shares of the time since `self` (busy, idle, stolen, in %), or `None` if no tick passed.
    fn shares_until(self, later: CpuTimes) -> Option<(f64, f64, f64)> {
        let busy = later.busy.saturating_sub(self.busy) as f64;
        let idle = later.idle.saturating_sub(self.idle) as f64;
        let stolen = later.stolen.saturating_sub(self.stolen) as f64;
        let all = busy + idle + stolen;
        (all > 0.0).then(|| (100.0 * busy / all, 100.0 * idle / all, 100.0 * stolen / all))
    }
}

/// Prints what the processors did from `since` until now, for the phase `what`.
pub fn print_since(what: &str, since: Option<CpuTimes>) {
    print_between(what, since, CpuTimes::now());
}

/// Prints what the processors did between two readings, for the phase `what`.
pub fn print_between(what: &str, from: Option<CpuTimes>, to: Option<CpuTimes>) {
    match from.zip(to).and_then(|(a, b)| a.shares_until(b)) {
        Some((busy, idle, stolen)) => {
            println!("  processors during {what}: {busy:.0} % busy, {idle:.0} % idle, {stolen:.0} % stolen by the host")
        }
        None => println!("  processors during {what}: not measured (no /proc/stat)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_come_from_the_differences_of_the_kernels_counters() {
        let before = CpuTimes::parse("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n").unwrap();
        let after = CpuTimes::parse("cpu  160 0 70 820 60 5 5 30 9 9\n").unwrap();
        let (busy, idle, stolen) = before.shares_until(after).unwrap();
        // 90 busy (60 user, 20 system, 10 interrupts), 30 idle (20 idle, 10 waiting), 30 stolen.
        assert_eq!((busy.round(), idle.round(), stolen.round()), (60.0, 20.0, 20.0));
        assert_eq!(before.shares_until(before), None);
    }

    #[test]
    fn anything_else_is_not_read() {
        assert_eq!(CpuTimes::parse(""), None);
        assert_eq!(CpuTimes::parse("intr 1 2 3 4 5 6 7 8"), None);
        assert_eq!(CpuTimes::parse("cpu 1 2 3"), None);
        assert_eq!(CpuTimes::parse("cpu 1 2 x 4 5 6 7 8"), None);
    }
}
