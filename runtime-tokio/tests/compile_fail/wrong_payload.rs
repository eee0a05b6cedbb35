// A payload of the wrong type, and one with an argument missing.

use sio_tokio::typed::TypedSocket;

sio_tokio::event_map! {
    /// Server to client.
    pub enum ServerToClient {
        /// A player moved.
        PlayerMoved(id: String, x: f64, y: f64) = "playerMoved",
    }

    /// Client to server.
    pub enum ClientToServer {
        /// A chat line.
        ChatMessage(body: String) = "chatMessage",
    }
}

fn wrong_type(socket: &TypedSocket<ClientToServer, ServerToClient>) {
    let _ = socket.emit(&ServerToClient::PlayerMoved("p1".into(), "far", 2.0));
}

fn missing_argument(socket: &TypedSocket<ClientToServer, ServerToClient>) {
    let _ = socket.emit(&ServerToClient::PlayerMoved("p1".into(), 1.0));
}

fn wrong_type_received(socket: &TypedSocket<ClientToServer, ServerToClient>) {
    socket.on_event(|_socket, event| async move {
        match event {
            ClientToServer::ChatMessage(body) => {
                let _: u32 = body;
            }
        }
    });
}

fn main() {}
