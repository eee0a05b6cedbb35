//! A real browser against the chat demo, as a newcomer would run it: the demo binary
//! (`cargo run -p sio-tokio --example chat`, or sio-async-std's `async_std_chat`) serves its
//! page and a local copy of the Socket.IO browser client; headless Chromium opens the page and
//! chats with a Node `socket.io-client` (`tests/js/browser.mjs`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use sio_tests::runtime::Rt;

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_path_buf()
}

fn chromium() -> PathBuf {
    let candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("Chromium is missing: run the README's test command (bash scripts/test.sh), which installs it")
}

async fn chromium_chats_with_a_node_client_through_the_demo(rt: Rt) {
    let (package, example) = match rt {
        Rt::Tokio => ("sio-tokio", "chat"),
        Rt::AsyncStd => ("sio-async-std", "async_std_chat"),
    };
    let root = root();
    let js = root.join("tests/js");
    assert!(
        js.join("node_modules/playwright-core").exists()
            && js.join("node_modules/socket.io-client").exists(),
        "tests/js/node_modules is missing: run the README's test command (bash scripts/test.sh)"
    );
    let chromium = chromium();

    let status = Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", package, "--example", example])
        .current_dir(&root)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the chat demo builds");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = target.join("debug/examples").join(example);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = KillOnDrop(
        Command::new(&bin)
            .env("SIO_ADDR", &addr)
            .env(
                "SIO_CLIENT_DIR",
                js.join("node_modules/socket.io-client/dist"),
            )
            .stdout(Stdio::piped())
            .spawn()
            .expect("the demo starts"),
    );
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("the demo prints its address");
    assert!(line.contains(&addr), "unexpected demo output: {line}");

    let out = Command::new("node")
        .arg(js.join("browser.mjs"))
        .arg(format!("http://{addr}"))
        .arg(&chromium)
        .current_dir(&js)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "browser test failed\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

sio_tests::runtime_tests!(chromium_chats_with_a_node_client_through_the_demo);
