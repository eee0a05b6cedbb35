//! What the bench reads of the server process in `/proc`: CPU time and resident memory.

use std::io;

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`, 100 on every Linux ABI).
pub const USER_HZ: u64 = 100;

/// A sample of the server's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// utime + stime of all threads, live and exited, in µs (from `/proc/<pid>/stat`, 10 ms
    /// resolution).
    pub cpu_us: u64,
    /// utime alone, µs.
    pub user_us: u64,
    /// Sum of the live threads' run time from `/proc/<pid>/task/*/schedstat`, in ns (precise;
    /// 0 when schedstat is unavailable).
    pub sched_ns: u64,
    /// VmRSS in KiB.
    pub rss_kib: u64,
}

/// Fields 14 and 15 (utime, stime) of a `/proc/<pid>/stat` line, in ticks.
pub fn parse_stat(line: &str) -> Option<(u64, u64)> {
    // The command name is in parentheses and may hold spaces: start after the last ')'.
    let rest = &line[line.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // rest starts at field 3 (state): utime is field 14, stime field 15.
    let utime = fields.nth(11)?.parse().ok()?;
    let stime = fields.next()?.parse().ok()?;
    Some((utime, stime))
}

/// The `VmRSS` of a `/proc/<pid>/status` text, in KiB.
pub fn parse_rss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn sched_ns(pid: u32) -> u64 {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Sample process `pid`.
pub fn sample(pid: u32) -> io::Result<Sample> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc format");
    let gone = || io::Error::new(io::ErrorKind::NotFound, format!("process {pid} has exited"));
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|_| gone())?;
    if stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
        .is_some_and(|state| state == "Z" || state == "X")
    {
        return Err(gone());
    }
    let (utime, stime) = parse_stat(&stat).ok_or_else(bad)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss_kib = parse_rss(&status).ok_or_else(bad)?;
    let tick_us = 1_000_000 / USER_HZ;
    Ok(Sample {
        cpu_us: (utime + stime) * tick_us,
        user_us: utime * tick_us,
        sched_ns: sched_ns(pid),
        rss_kib,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_in_the_name() {
        let line = "4242 (tokio runtime) S 1 4242 4242 0 -1 4194560 1234 0 0 0 731 95 0 0 20 0 \
                    3 0 12345 123456789 2345 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0";
        assert_eq!(parse_stat(line), Some((731, 95)));
    }

    #[test]
    fn rss_line() {
        let status = "Name:\tnode\nVmPeak:\t  100 kB\nVmRSS:\t   53248 kB\nThreads:\t7\n";
        assert_eq!(parse_rss(status), Some(53_248));
        assert_eq!(parse_rss("Name:\tx\n"), None);
    }

    #[test]
    fn own_process_is_readable() {
        let s = sample(std::process::id()).expect("own /proc entry");
        assert!(s.rss_kib > 0);
        assert!(s.cpu_us >= s.user_us);
    }
}
