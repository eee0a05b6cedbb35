//! A Socket.IO client that talks in the chat demo (`cargo run -p sio-tokio --example chat`).
//!
//! Run: `cargo run -p sio-tokio --example client -- [url] [name]`, then type lines; each is
//! sent as a chat message and acknowledged by the server. With `--say TEXT` it sends one
//! message, waits for its acknowledgement and exits.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sio_tokio::client::{ClientBuilder, ManagerEvent};
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Debug, Serialize, Deserialize)]
struct ChatMessage {
    name: String,
    text: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let say = args.iter().position(|a| a == "--say").map(|i| {
        let text = args.get(i + 1).cloned().unwrap_or_default();
        args.drain(i..(i + 2).min(args.len()));
        text
    });
    let url = args
        .first()
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:3000".into());
    let name = args.get(1).cloned().unwrap_or_else(|| "rust".into());

    let client = ClientBuilder::new(&url)
        .on("chat message", |_socket, msg| async move {
            if let Ok(m) = msg.args::<ChatMessage>() {
                println!("{}: {}", m.name, m.text);
            }
        })
        .on("user joined", |_socket, msg| async move {
            println!(
                "* someone joined ({} online)",
                msg.args::<u64>().unwrap_or(0)
            );
        })
        .on_disconnect(|_socket, reason| eprintln!("* disconnected: {}", reason.as_str()))
        .on_manager(|e| {
            if let ManagerEvent::Reconnect(n) = e {
                eprintln!("* reconnected after {n} attempt(s)");
            }
        })
        .connect()
        .await?;
    eprintln!(
        "* connected to {url} as {}",
        client.id().unwrap_or_default()
    );

    let send = |text: String| {
        let client = client.clone();
        let name = name.clone();
        async move {
            let delivered: Result<bool, _> = client
                .emit_with_ack(
                    "chat message",
                    &ChatMessage { name, text },
                    Duration::from_secs(5),
                )
                .await;
            delivered
        }
    };
    if let Some(text) = say {
        let ok = send(text).await?;
        eprintln!("* delivered: {ok}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        client.close();
        return if ok {
            Ok(())
        } else {
            Err("the server refused the message".into())
        };
    }
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        if !line.trim().is_empty() {
            if let Err(e) = send(line).await {
                eprintln!("* not delivered: {e}");
            }
        }
    }
    client.close();
    Ok(())
}
