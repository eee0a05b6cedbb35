//! `loadgen`: run one bench scenario against one server and print its result as a JSON line;
//! or turn result lines into the README table and chart.
//!
//! ```text
//! loadgen run <connect|echo|broadcast|polling> --addr 127.0.0.1:3000 --pid PID --server NAME
//!         [--clients N] [--seconds S] [--warmup S] [--ticks T] [--interval-ms MS]
//!         [--max-seconds S] [--concurrency C] [--per-source-ip N] [--settle S] [--label L]
//!         [--path P] [--source-base N] [--hold S] [--until-file F]
//! loadgen report --results FILE.jsonl --meta FILE.json --readme README.md --svg chart.svg
//!         [--markdown OUT.md]
//! loadgen wait-port --addr 127.0.0.1:3000 [--seconds S]
//! ```
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use sio_loadgen::report;
use sio_loadgen::scenarios::{self, Options, Target};

fn usage() -> ExitCode {
    eprintln!(
        "usage:\n  loadgen run <connect|echo|broadcast|polling> --addr A --pid P --server NAME [options]\n  \
         loadgen report --results F --meta F --readme F --svg F [--markdown F]\n  \
         loadgen wait-port --addr A [--seconds S]"
    );
    ExitCode::from(2)
}

fn flags(args: &[String]) -> Result<HashMap<String, String>, String> {
    let mut m = HashMap::new();
    let mut it = args.iter();
    while let Some(k) = it.next() {
        let key = k
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {k}"))?;
        let v = it.next().ok_or_else(|| format!("{k} needs a value"))?;
        m.insert(key.to_owned(), v.clone());
    }
    Ok(m)
}

fn get<T: std::str::FromStr>(
    m: &HashMap<String, String>,
    k: &str,
    default: T,
) -> Result<T, String> {
    match m.get(k) {
        Some(v) => v.parse().map_err(|_| format!("bad --{k}: {v}")),
        None => Ok(default),
    }
}

fn need<'a>(m: &'a HashMap<String, String>, k: &str) -> Result<&'a str, String> {
    m.get(k)
        .map(String::as_str)
        .ok_or_else(|| format!("--{k} is required"))
}

fn runtime() -> tokio::runtime::Runtime {
    // One thread: the generator leaves the other core(s) to the server.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn run(scenario: &str, m: &HashMap<String, String>) -> Result<(), String> {
    let d = Options::default();
    let o = Options {
        clients: get(m, "clients", d.clients)?,
        seconds: get(m, "seconds", d.seconds)?,
        warmup: get(m, "warmup", d.warmup)?,
        ticks: get(m, "ticks", d.ticks)?,
        interval_ms: get(m, "interval-ms", d.interval_ms)?,
        max_seconds: get(m, "max-seconds", d.max_seconds)?,
        concurrency: get(m, "concurrency", d.concurrency)?,
        per_source_ip: get(m, "per-source-ip", d.per_source_ip)?,
        settle: get(m, "settle", d.settle)?,
        source_base: get(m, "source-base", d.source_base)?,
        hold: get(m, "hold", d.hold)?,
        until_file: m.get("until-file").map(Into::into),
    };
    let addr: SocketAddr = need(m, "addr")?.parse().map_err(|_| "bad --addr")?;
    if !addr.ip().is_loopback() {
        return Err("the bench only targets loopback addresses".into());
    }
    let t = Target {
        addr,
        path: get(m, "path", "/socket.io/".to_owned())?,
        pid: need(m, "pid")?.parse().map_err(|_| "bad --pid")?,
        server: need(m, "server")?.to_owned(),
    };
    let label = get(m, "label", format!("{scenario}-{}", o.clients))?;
    let rt = runtime();
    let out = rt.block_on(async {
        match scenario {
            "connect" => scenarios::connect(&t, &o, &label).await,
            "echo" => scenarios::echo(&t, &o).await,
            "broadcast" => scenarios::broadcast(&t, &o).await,
            "polling" => scenarios::polling(&t, &o).await,
            _ => Err(std::io::Error::other(format!(
                "unknown scenario {scenario}"
            ))),
        }
    });
    // Connections still open close with the runtime.
    rt.shutdown_timeout(Duration::from_secs(2));
    let out = out.map_err(|e| format!("{scenario} against {}: {e}", t.server))?;
    println!(
        "{}",
        serde_json::to_string(&out).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn wait_port(m: &HashMap<String, String>) -> Result<(), String> {
    let addr: SocketAddr = need(m, "addr")?.parse().map_err(|_| "bad --addr")?;
    let seconds: f64 = get(m, "seconds", 30.0)?;
    let deadline = std::time::Instant::now() + Duration::from_secs_f64(seconds);
    while std::time::Instant::now() < deadline {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("nothing listens on {addr} after {seconds} s"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        return usage();
    };
    let r = match cmd.as_str() {
        "run" if args.len() >= 2 => flags(&args[2..]).and_then(|m| run(&args[1], &m)),
        "report" => flags(&args[1..]).and_then(|m| {
            report::write(
                need(&m, "results")?,
                need(&m, "meta")?,
                need(&m, "readme")?,
                need(&m, "svg")?,
                m.get("markdown").map(String::as_str),
            )
        }),
        "wait-port" => flags(&args[1..]).and_then(|m| wait_port(&m)),
        _ => return usage(),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
