// An event that is not in the map, and an event of the other direction.

use sio_tokio::typed::{TypedClientSocket, TypedSocket};

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

fn misspelt(socket: &TypedSocket<ClientToServer, ServerToClient>) {
    let _ = socket.emit(&ServerToClient::PlayerMovd("p1".into(), 1.0, 2.0));
}

fn wrong_direction(socket: &TypedSocket<ClientToServer, ServerToClient>) {
    let _ = socket.emit(&ClientToServer::ChatMessage("hi".into()));
}

fn client_wrong_direction(socket: &TypedClientSocket<ServerToClient, ClientToServer>) {
    let _ = socket.emit(&ServerToClient::PlayerMoved("p1".into(), 1.0, 2.0));
}

fn main() {}
