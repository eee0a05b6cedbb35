//! Interoperability: Node's `socket.io-client` 4.8 against the two servers built on the
//! sio-ffi C ABI (`protocol-ffi/`): the C example on libwebsockets
//! (`protocol-ffi/examples/c/server.c`) and the Python package's example on asyncio +
//! aiohttp (`protocol-ffi/python/example.py`). Both run the application described in the C
//! file; the Node side is `tests/js/ffi-client.mjs`.
//!
//! The test builds the library (`cargo build -p sio-ffi`) and the C example (cc, pkg-config
//! libwebsockets), starts each server on a free loopback port and runs the Node scenarios
//! against it: events and acks both ways with binary over each transport, rooms and
//! broadcasts, namespaces with auth, a short heartbeat kept across several pings. Each server
//! also runs every scenario under valgrind (`--error-exitcode=1 --leak-check=full`) and must
//! exit cleanly with no error or leak: the C one, and the Python one on Debian's interpreter
//! (`PYTHONMALLOC=malloc`, Debian's python3.supp; the ctypes layer and libsio_ffi.so under
//! valgrind); so do the C API README's example (a client and a server in memory) and the
//! ABI's own tests (`protocol-ffi/tests/abi.rs`).
//!
//! Needs: the npm packages of `tests/js`, Debian's `libwebsockets-dev`, `pkg-config`,
//! `valgrind`, the virtual environment `protocol-ffi/python/.venv` with aiohttp, and
//! `protocol-ffi/python/.venv-valgrind` (the same on Debian's /usr/bin/python3.11, with
//! `python3-venv`) (`scripts/test.sh` installs them all); without them the tests fail and
//! say so.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use sio_tests::node::run_node;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_owned()
}

/// `target/<profile>`: where this test binary and `cargo build` put their outputs.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_owned()
}

fn run(what: &str, command: &mut std::process::Command) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Build the library (once per test run).
fn library() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let dir = profile_dir();
        let mut build = std::process::Command::new(cargo);
        build.args(["build", "-p", "sio-ffi"]).current_dir(root());
        if dir.ends_with("release") {
            build.arg("--release");
        }
        run("cargo build -p sio-ffi", &mut build);
        dir
    })
}

/// Build the C example against the static library (once per test run).
fn c_server() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let lib = library();
        let pc = std::process::Command::new("pkg-config")
            .args(["--cflags", "--libs", "libwebsockets"])
            .output()
            .expect("pkg-config must be installed");
        assert!(
            pc.status.success(),
            "pkg-config finds no libwebsockets: install Debian's libwebsockets-dev ({})",
            String::from_utf8_lossy(&pc.stderr)
        );
        let flags = String::from_utf8(pc.stdout).expect("pkg-config prints text");
        let exe = lib.join("sio-ffi-c-server");
        let ffi = root().join("protocol-ffi");
        run(
            "cc (the C example server)",
            std::process::Command::new("cc")
                .args(["-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra"])
                .args(["-Werror", "-g", "-O1", "-I"])
                .arg(ffi.join("include"))
                .arg(ffi.join("examples/c/server.c"))
                .arg("-o")
                .arg(&exe)
                .arg(lib.join("libsio_ffi.a"))
                .args(flags.split_whitespace())
                .args(["-lpthread", "-ldl", "-lm"]),
        );
        exe
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A server process: started, waited for (`LISTENING`), stopped with SIGTERM.
struct Server {
    name: String,
    child: Child,
    port: u16,
    stdout: tokio::task::JoinHandle<Vec<String>>,
    stderr: tokio::task::JoinHandle<String>,
}

impl Server {
    async fn start(name: &str, mut command: Command, startup: Duration, args: &[&str]) -> Server {
        let port = free_port();
        let mut child = command
            .arg(port.to_string())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let mut err = child.stderr.take().expect("piped stderr");
        let stderr = tokio::spawn(async move {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s).await;
            s
        });
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let listening = tokio::time::timeout(startup, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("LISTENING") {
                    return true;
                }
            }
            false
        })
        .await;
        if listening != Ok(true) {
            let _ = child.kill().await;
            let err = stderr.await.unwrap_or_default();
            panic!("{name} did not start listening within {startup:?}\n--- stderr ---\n{err}");
        }
        let stdout = tokio::spawn(async move {
            let mut all = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                all.push(line);
            }
            all
        });
        Server {
            name: name.to_owned(),
            child,
            port,
            stdout,
            stderr,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGTERM, then wait for a clean exit (code 0); returns stderr.
    async fn stop(mut self, within: Duration) -> String {
        let pid = self.child.id().expect("the server is running");
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let status = tokio::time::timeout(within, self.child.wait()).await;
        let stderr = self.stderr.await.unwrap_or_default();
        let stdout = self.stdout.await.unwrap_or_default().join("\n");
        match status {
            Ok(Ok(s)) if s.success() => stderr,
            other => panic!(
                "{} did not exit cleanly after SIGTERM: {other:?}\n--- stdout ---\n{stdout}\n\
                 --- stderr ---\n{stderr}",
                self.name
            ),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    C,
    CValgrind,
    Python,
    PythonValgrind,
}

async fn start(kind: Kind) -> Server {
    start_with(kind, &[]).await
}

/// Start a server; `args` follow the port (`<ping interval ms> <ping timeout ms>`).
async fn start_with(kind: Kind, args: &[&str]) -> Server {
    match kind {
        Kind::C => Server::start("the C server", Command::new(c_server()), WAIT_START, args).await,
        Kind::CValgrind => {
            let mut cmd = Command::new("valgrind");
            cmd.args([
                "--error-exitcode=1",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect,possible",
                "--quiet",
            ])
            .arg(c_server());
            let name = "the C server under valgrind";
            Server::start(name, cmd, Duration::from_secs(60), args).await
        }
        Kind::Python => {
            let mut cmd = Command::new(python(".venv"));
            python_example(&mut cmd);
            Server::start("the Python server", cmd, WAIT_START, args).await
        }
        Kind::PythonValgrind => {
            // Debian's interpreter, not pyenv's: pyenv's CPython 3.11.7 (the `.venv`) reports
            // uninitialised values of its own from its first import (`maybe_small_long` in
            // `int.from_bytes`, the small-int cache), which no suppression of Debian's covers;
            // Debian's /usr/bin/python3.11 with its python3.supp reports none. Its venv is
            // `.venv-valgrind` (same requirements). PYTHONMALLOC=malloc: every Python object
            // is its own malloc block, so valgrind sees the Python side's reads and writes
            // (pymalloc's arenas would hide them, and pymalloc's `address_in_range` is what
            // most of python3.supp is about).
            let python = python(".venv-valgrind");
            let mut cmd = Command::new("valgrind");
            cmd.args([
                "--error-exitcode=1",
                "--leak-check=full",
                // Possibly lost blocks are counted nowhere: CPython's objects are referenced
                // through interior pointers (past the GC header), so the interpreter leaves
                // megabytes of "possibly lost" blocks at exit. A leaked SioServer (or anything
                // the library allocated and nobody freed) is definitely lost: ctypes keeps a
                // handle as a Python int, whose 30-bit digits do not hold the pointer.
                "--show-leak-kinds=definite,indirect",
                "--errors-for-leak-kinds=definite,indirect",
                "--suppressions=/usr/lib/valgrind/python3.supp",
            ])
            .arg(python)
            .env("PYTHONMALLOC", "malloc");
            python_example(&mut cmd);
            let name = "the Python server under valgrind";
            // Importing aiohttp under valgrind takes ~20 s on an idle machine.
            Server::start(name, cmd, Duration::from_secs(180), args).await
        }
    }
}

/// The interpreter of a venv of `protocol-ffi/python` (made by scripts/test.sh).
fn python(venv: &str) -> PathBuf {
    let python = root()
        .join("protocol-ffi/python")
        .join(venv)
        .join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test.sh (it makes the venv with aiohttp)",
        python.display()
    );
    python
}

/// `example.py` and its environment, after the interpreter.
fn python_example(cmd: &mut Command) {
    let lib = library();
    let py = root().join("protocol-ffi/python");
    cmd.arg(py.join("example.py"))
        .env("SIO_FFI_LIB", lib.join("libsio_ffi.so"))
        .env("PYTHONPATH", &py);
}

const WAIT_START: Duration = Duration::from_secs(20);

/// Every scenario of `ffi-client.mjs` against one server.
const SCENARIOS: &[(&str, &[&str])] = &[
    ("data", &["--transport=websocket"]),
    ("data", &["--transport=polling"]),
    ("data", &["--transport=upgrade"]),
    ("rooms", &[]),
    ("namespaces", &["--transport=websocket"]),
    ("namespaces", &["--transport=polling"]),
];

/// With a server pinging every 500 ms (timeout 1000 ms: valgrind makes it slow).
const HEARTBEATS: &[(&str, &[&str])] = &[
    ("heartbeat", &["--transport=websocket", "--interval=500"]),
    ("heartbeat", &["--transport=polling", "--interval=500"]),
    ("heartbeat", &["--transport=upgrade", "--interval=500"]),
];

async fn scenario(kind: Kind, name: &str, extra: &[&str]) {
    let server = start(kind).await;
    let out = run_node("ffi-client.mjs", name, &server.url(), extra).await;
    if name == "data" {
        let mode = extra[0].trim_start_matches("--transport=");
        let final_transport = if mode == "polling" {
            "polling"
        } else {
            "websocket"
        };
        assert_eq!(out.report_str("final"), final_transport);
    }
    server.stop(Duration::from_secs(10)).await;
}

// The servers are small; running several Node peers at once on two cores slows everyone
// down, so the scenarios of one server kind run one after another.
static SERIAL: Mutex<()> = Mutex::const_new(());

macro_rules! scenario_tests {
    ($kind:expr, $($test:ident => $name:literal $(, $arg:literal)?;)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let _one_at_a_time = SERIAL.lock().await;
                scenario($kind, $name, &[$($arg)?]).await;
            }
        )*
    };
}

scenario_tests! { Kind::C,
    c_server_data_over_websocket => "data", "--transport=websocket";
    c_server_data_over_polling => "data", "--transport=polling";
    c_server_data_across_an_upgrade => "data", "--transport=upgrade";
    c_server_rooms_and_broadcasts => "rooms";
    c_server_namespaces_and_auth => "namespaces", "--transport=upgrade";
}

scenario_tests! { Kind::Python,
    python_server_data_over_websocket => "data", "--transport=websocket";
    python_server_data_over_polling => "data", "--transport=polling";
    python_server_data_across_an_upgrade => "data", "--transport=upgrade";
    python_server_rooms_and_broadcasts => "rooms";
    python_server_namespaces_and_auth => "namespaces", "--transport=upgrade";
}

/// A server pinging every 300 ms (timeout 200 ms) keeps a client connected across several
/// pings, over each transport: the runtime's timer follows `sio_server_poll_timeout`.
async fn heartbeat(kind: Kind) {
    let server = start_with(kind, &["300", "200"]).await;
    for transport in ["websocket", "polling", "upgrade"] {
        let arg = format!("--transport={transport}");
        let out = run_node("ffi-client.mjs", "heartbeat", &server.url(), &[&arg]).await;
        assert!(out.report("pings").as_u64().unwrap_or(0) >= 3);
    }
    server.stop(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_server_heartbeat_keeps_clients_connected() {
    let _one_at_a_time = SERIAL.lock().await;
    heartbeat(Kind::C).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_server_heartbeat_keeps_clients_connected() {
    let _one_at_a_time = SERIAL.lock().await;
    heartbeat(Kind::Python).await;
}

/// Every scenario against one C server under valgrind, which must report no error and no
/// leak when the server exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_server_under_valgrind_has_no_errors_or_leaks() {
    let _one_at_a_time = SERIAL.lock().await;
    let server = start_with(Kind::CValgrind, &["500", "1000"]).await;
    for (name, extra) in SCENARIOS.iter().chain(HEARTBEATS) {
        run_node("ffi-client.mjs", name, &server.url(), extra).await;
    }
    let stderr = server.stop(Duration::from_secs(60)).await;
    assert!(
        !stderr.contains("definitely lost") && !stderr.contains("Invalid "),
        "valgrind reported problems:\n{stderr}"
    );
}

/// Every scenario against one Python server (`example.py`: the package, its ctypes layer and
/// libsio_ffi.so) under valgrind, which must report no error at all and no definite or
/// indirect leak when the server exits.
///
/// Every error counts, not only those with a libsio_ffi frame: with Debian's interpreter,
/// PYTHONMALLOC=malloc and python3.supp the interpreter (and aiohttp's C extensions) report
/// none here, so neither a project suppression file nor log filtering is needed, and a
/// misuse by the ctypes layer is caught even when no frame of the error's own stack is in
/// the library (a read of a freed output buffer happens in ctypes' `string_at`, i.e.
/// `PyBytes_FromStringAndSize` called through libffi, and only the "freed at" stack names
/// libsio_ffi).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_server_under_valgrind_has_no_errors_or_leaks() {
    let _one_at_a_time = SERIAL.lock().await;
    let server = start_with(Kind::PythonValgrind, &["500", "1000"]).await;
    for (name, extra) in SCENARIOS.iter().chain(HEARTBEATS) {
        run_node("ffi-client.mjs", name, &server.url(), extra).await;
    }
    // The leak check walks the whole interpreter's heap: slow.
    let stderr = server.stop(Duration::from_secs(180)).await;
    assert!(
        stderr.contains("ERROR SUMMARY: 0 errors from 0 contexts"),
        "valgrind reported problems (or no summary):\n{stderr}"
    );
}

/// The C API README's example (`protocol-ffi/examples/c/readme.c`: a client and a server
/// through memory) builds, prints what the README says, and has no error or leak under
/// valgrind: the client half of the ABI under valgrind too.
#[test]
fn c_readme_example_runs_cleanly_under_valgrind() {
    let lib = library();
    let exe = lib.join("sio-ffi-c-readme");
    let ffi = root().join("protocol-ffi");
    run(
        "cc (the README example)",
        std::process::Command::new("cc")
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-I"])
            .arg(ffi.join("include"))
            .arg(ffi.join("examples/c/readme.c"))
            .arg(lib.join("libsio_ffi.a"))
            .args(["-lpthread", "-ldl", "-lm", "-o"])
            .arg(&exe),
    );
    let out = std::process::Command::new("valgrind")
        .args([
            "--error-exitcode=1",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect,possible",
            "--quiet",
        ])
        .arg(&exe)
        .output()
        .expect("valgrind must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the README example failed under valgrind ({})\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(
        r#"client: ack ["notes.txt",{"_placeholder":true,"num":0}] with 1 attachment(s)"#
    ));
    assert!(stdout.contains("next server deadline: 25000 ms"));
}

/// The ABI's own tests (`protocol-ffi/tests/abi.rs`: a `SioClient` and a `SioServer` in
/// memory over WebSocket and long-polling, the error paths, a panic that poisons) under
/// valgrind. Leaks counted as errors are `definite` and `indirect`: the Rust test harness
/// itself keeps one block of a channel's thread-local context "possibly lost" at exit.
#[test]
fn abi_tests_run_cleanly_under_valgrind() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = std::process::Command::new(cargo)
        .args(["test", "-p", "sio-ffi", "--test", "abi", "--no-run"])
        .arg("--message-format=json")
        .current_dir(root())
        .output()
        .expect("cargo test --no-run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exe = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| {
            (v["target"]["name"] == "abi")
                .then(|| v["executable"].as_str().map(PathBuf::from))
                .flatten()
        })
        .expect("the abi test executable");
    let out = std::process::Command::new("valgrind")
        .args([
            "--error-exitcode=1",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--quiet",
        ])
        .arg(&exe)
        .arg("--test-threads=1")
        .output()
        .expect("valgrind must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the ABI tests failed under valgrind ({})\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("test result: ok."), "{stdout}");
}
