// Answers of the wrong type: sent by a handler, expected by an emitter.

use std::time::Duration;

use sio_tokio::typed::{TypedClientSocket, TypedSocket};

sio_tokio::event_map! {
    /// Server to client.
    pub enum ServerToClient {
        /// Are you there? Answered with the client's time.
        Ping() = "ping" => u64,
    }

    /// Client to server.
    pub enum ClientToServer {
        /// A command, answered with whether it worked.
        Command(name: String) = "command" => bool,
    }
}

fn handler_sends_the_wrong_answer(socket: &TypedSocket<ClientToServer, ServerToClient>) {
    socket.on_event(|_socket, event| async move {
        match event {
            ClientToServer::Command(_name, ack) => {
                let _ = ack.send(&"done");
            }
        }
    });
}

async fn emitter_expects_the_wrong_answer(socket: &TypedSocket<ClientToServer, ServerToClient>) {
    let _time: Result<String, _> = socket
        .emit_with_ack(ServerToClient::Ping, Duration::from_secs(1))
        .await;
}

async fn client_expects_the_wrong_answer(
    socket: &TypedClientSocket<ServerToClient, ClientToServer>,
) {
    let _worked: Result<u64, _> = socket
        .emit_with_ack(
            |ack| ClientToServer::Command("x".into(), ack),
            Duration::from_secs(1),
        )
        .await;
}

fn main() {}
