//! A town with typed events: players join, move, chat and send commands to the town's
//! interactables, as in the Covey.Town teaching app. Its TypeScript event maps
//! (`ServerToClientEvents` / `ClientToServerEvents`) become [`sio_tokio::event_map!`]
//! declarations, and a Node `socket.io-client` written against the TypeScript interfaces
//! (`tests/js/town.mjs`) talks to it unchanged.
//!
//! Run: `cargo run -p sio-tokio --example town` (`SIO_ADDR` to listen elsewhere than
//! 127.0.0.1:3000), then connect with `io(url, { auth: { userName: "ada", townID: "covey" } })`.
//!
//! `tests/tests/typed_town.rs` includes this file as a module and starts [`TownServer`]
//! in-process.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sio_tokio::typed::{DecodeError, TypedSocket};
use sio_tokio::{ConnectRefusal, ConnectRequest, Message, ServerOptions, SocketIo};

// ----- the protocol: payload types -----------------------------------------------------------

/// Where a player faces (`type Direction = 'front' | 'back' | 'left' | 'right'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Towards the viewer.
    Front,
    /// Away from the viewer.
    Back,
    /// Left.
    Left,
    /// Right.
    Right,
}

/// `interface PlayerLocation { x; y; rotation; moving; interactableID? }`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlayerLocation {
    /// Horizontal position.
    pub x: f64,
    /// Vertical position.
    pub y: f64,
    /// Where the player faces.
    pub rotation: Direction,
    /// Whether the player is walking.
    pub moving: bool,
    /// The interactable the player stands in, if any.
    #[serde(
        rename = "interactableID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub interactable_id: Option<String>,
}

/// `interface Player { id; userName; location }`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Player {
    /// The player's id (its socket id).
    pub id: String,
    /// The name it joined with.
    #[serde(rename = "userName")]
    pub user_name: String,
    /// Where it is.
    pub location: PlayerLocation,
}

/// `type ChatMessage = { author; sid; body; dateCreated; interactableID? }`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The author's player id (the server sets it).
    pub author: String,
    /// The author's socket id (the server sets it).
    pub sid: String,
    /// The text.
    pub body: String,
    /// When it was written (a JavaScript `Date`, which travels as an ISO string).
    #[serde(rename = "dateCreated")]
    pub date_created: String,
    /// The conversation area it belongs to, if any.
    #[serde(
        rename = "interactableID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub interactable_id: Option<String>,
}

/// `type TownSettingsUpdate = { friendlyName?; isPubliclyListed? }`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TownSettingsUpdate {
    /// The new name.
    #[serde(
        rename = "friendlyName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub friendly_name: Option<String>,
    /// Whether the town is listed.
    #[serde(
        rename = "isPubliclyListed",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub is_publicly_listed: Option<bool>,
}

/// `type Interactable = ConversationArea | GameArea`, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Interactable {
    /// A place to talk about a topic.
    ConversationArea {
        /// Its id.
        id: String,
        /// The players standing in it.
        occupants: Vec<String>,
        /// What it is about.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
    },
    /// A two-player game table.
    GameArea {
        /// Its id.
        id: String,
        /// The players standing in it.
        occupants: Vec<String>,
        /// The players in the game (at most two).
        players: Vec<String>,
    },
}

impl Interactable {
    fn id(&self) -> &str {
        match self {
            Self::ConversationArea { id, .. } | Self::GameArea { id, .. } => id,
        }
    }

    fn occupants(&mut self) -> &mut Vec<String> {
        match self {
            Self::ConversationArea { occupants, .. } | Self::GameArea { occupants, .. } => {
                occupants
            }
        }
    }
}

/// `type InteractableCommand = (SetTopic | JoinGame | LeaveGame) & { commandID; interactableID }`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InteractableCommand {
    /// Chosen by the client, echoed in the response.
    #[serde(rename = "commandID")]
    pub command_id: String,
    /// The interactable it is for.
    #[serde(rename = "interactableID")]
    pub interactable_id: String,
    /// What to do.
    #[serde(flatten)]
    pub command: Command,
}

/// The commands, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Command {
    /// `{ type: 'SetTopic', topic }` for a conversation area.
    SetTopic {
        /// The new topic.
        topic: String,
    },
    /// `{ type: 'JoinGame' }` for a game area.
    JoinGame,
    /// `{ type: 'LeaveGame' }` for a game area.
    LeaveGame,
}

/// `type InteractableCommandResponse = { commandID; interactableID; isOK; error? }`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InteractableCommandResponse {
    /// The command's id.
    #[serde(rename = "commandID")]
    pub command_id: String,
    /// The interactable's id.
    #[serde(rename = "interactableID")]
    pub interactable_id: String,
    /// Whether the command was carried out.
    #[serde(rename = "isOK")]
    pub is_ok: bool,
    /// Why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `type TownJoinResponse = { userID; friendlyName; isPubliclyListed; currentPlayers; interactables }`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TownJoinResponse {
    /// The new player's id.
    #[serde(rename = "userID")]
    pub user_id: String,
    /// The town's name.
    #[serde(rename = "friendlyName")]
    pub friendly_name: String,
    /// Whether the town is listed.
    #[serde(rename = "isPubliclyListed")]
    pub is_publicly_listed: bool,
    /// Everyone in the town, the new player included.
    #[serde(rename = "currentPlayers")]
    pub current_players: Vec<Player>,
    /// The town's interactables.
    pub interactables: Vec<Interactable>,
}

/// What the server answers to an event that does not fit `ClientToServerEvents`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtocolError {
    /// The received event name.
    pub event: String,
    /// What was wrong.
    pub message: String,
}

/// The handshake's auth object: `{ userName, townID }`.
#[derive(Debug, Clone, Deserialize)]
pub struct TownAuth {
    /// The player's name.
    #[serde(rename = "userName")]
    pub user_name: String,
    /// The town to join.
    #[serde(rename = "townID")]
    pub town_id: String,
}

// ----- the protocol: event maps ----------------------------------------------------------------

sio_tokio::event_map! {
    /// `interface ServerToClientEvents`
    #[derive(Debug, Clone, PartialEq)]
    pub enum ServerToClient {
        /// `initialize: (initialData: TownJoinResponse) => void`
        Initialize(initial_data: TownJoinResponse) = "initialize",
        /// `playerJoined: (newPlayer: Player) => void`
        PlayerJoined(new_player: Player) = "playerJoined",
        /// `playerMoved: (movedPlayer: Player) => void`
        PlayerMoved(moved_player: Player) = "playerMoved",
        /// `playerDisconnect: (disconnectedPlayer: Player) => void`
        PlayerDisconnect(disconnected_player: Player) = "playerDisconnect",
        /// `chatMessage: (message: ChatMessage) => void`
        ChatMessage(message: ChatMessage) = "chatMessage",
        /// `interactableUpdate: (interactable: Interactable) => void`
        InteractableUpdate(interactable: Interactable) = "interactableUpdate",
        /// `townSettingsUpdated: (update: TownSettingsUpdate) => void`
        TownSettingsUpdated(update: TownSettingsUpdate) = "townSettingsUpdated",
        /// `townClosing: () => void`
        TownClosing() = "townClosing",
        /// `protocolError: (error: ProtocolError) => void` (not in Covey.Town: the answer to
        /// events that do not fit the map)
        ProtocolError(error: ProtocolError) = "protocolError",
    }

    /// `interface ClientToServerEvents`
    #[derive(Debug, Clone, PartialEq)]
    pub enum ClientToServer {
        /// `chatMessage: (message: ChatMessage) => void`
        ChatMessage(message: ChatMessage) = "chatMessage",
        /// `playerMovement: (movementData: PlayerLocation) => void`
        PlayerMovement(movement_data: PlayerLocation) = "playerMovement",
        /// `interactableCommand: (command: InteractableCommand,
        ///   callback: (response: InteractableCommandResponse) => void) => void`
        InteractableCommand(command: InteractableCommand) = "interactableCommand"
            => InteractableCommandResponse,
    }
}

/// The server's handle on one client.
pub type TownSocket = TypedSocket<ClientToServer, ServerToClient>;

// ----- the server ----------------------------------------------------------------------------------

/// One town: its settings, players (by socket id) and interactables (by id).
#[derive(Debug)]
struct Town {
    friendly_name: String,
    is_publicly_listed: bool,
    players: BTreeMap<String, Player>,
    interactables: BTreeMap<String, Interactable>,
}

impl Town {
    fn new(friendly_name: &str) -> Self {
        let interactables = [
            Interactable::ConversationArea {
                id: "lobby".into(),
                occupants: Vec::new(),
                topic: None,
            },
            Interactable::GameArea {
                id: "ticTacToe".into(),
                occupants: Vec::new(),
                players: Vec::new(),
            },
        ];
        Town {
            friendly_name: friendly_name.to_owned(),
            is_publicly_listed: true,
            players: BTreeMap::new(),
            interactables: interactables
                .into_iter()
                .map(|i| (i.id().to_owned(), i))
                .collect(),
        }
    }

    /// Move `player` out of its interactable into `to`; returns the interactables that changed.
    fn relocate(&mut self, player: &str, to: Option<&str>) -> Vec<Interactable> {
        let mut changed = BTreeSet::new();
        for (id, area) in &mut self.interactables {
            let occupants = area.occupants();
            let inside = occupants.iter().any(|o| o == player);
            let belongs = to == Some(id.as_str());
            if inside && !belongs {
                occupants.retain(|o| o != player);
                changed.insert(id.clone());
            } else if belongs && !inside {
                occupants.push(player.to_owned());
                changed.insert(id.clone());
            }
        }
        changed
            .iter()
            .map(|id| self.interactables[id].clone())
            .collect()
    }

    /// Carry out a command of `player`; the response, and the interactable if it changed.
    fn command(
        &mut self,
        player: &str,
        command: &InteractableCommand,
    ) -> (InteractableCommandResponse, Option<Interactable>) {
        let mut response = InteractableCommandResponse {
            command_id: command.command_id.clone(),
            interactable_id: command.interactable_id.clone(),
            is_ok: false,
            error: None,
        };
        let Some(area) = self.interactables.get_mut(&command.interactable_id) else {
            response.error = Some("No such interactable".into());
            return (response, None);
        };
        let outcome = match (&command.command, &mut *area) {
            (Command::SetTopic { topic }, Interactable::ConversationArea { topic: t, .. }) => {
                if topic.trim().is_empty() {
                    Err("The topic is empty")
                } else {
                    *t = Some(topic.clone());
                    Ok(())
                }
            }
            (Command::JoinGame, Interactable::GameArea { players, .. }) => {
                if players.iter().any(|p| p == player) {
                    Err("Player is already in this game")
                } else if players.len() >= 2 {
                    Err("Game is full")
                } else {
                    players.push(player.to_owned());
                    Ok(())
                }
            }
            (Command::LeaveGame, Interactable::GameArea { players, .. }) => {
                if players.iter().any(|p| p == player) {
                    players.retain(|p| p != player);
                    Ok(())
                } else {
                    Err("Player is not in this game")
                }
            }
            _ => Err("This interactable does not take that command"),
        };
        match outcome {
            Ok(()) => {
                response.is_ok = true;
                (response, Some(area.clone()))
            }
            Err(e) => {
                response.error = Some(e.into());
                (response, None)
            }
        }
    }
}

/// The town server: typed namespace `/`, towns joined by the handshake's `townID`, one room
/// per town. Cheap to clone. `R` is the runtime (`sio_tokio::Tokio` here; the tests run the
/// same town on sio-async-std too).
pub struct TownServer<R = sio_tokio::Tokio> {
    io: sio_runtime::typed::TypedIo<ClientToServer, ServerToClient, R>,
    towns: Arc<Mutex<HashMap<String, Town>>>,
}

impl<R> Clone for TownServer<R> {
    fn clone(&self) -> Self {
        TownServer {
            io: self.io.clone(),
            towns: self.towns.clone(),
        }
    }
}

impl<R: 'static> TownServer<R> {
    /// Serve the towns `(id, friendly name)` on `io`.
    pub fn install(io: sio_runtime::SocketIo<R>, towns: &[(&str, &str)]) -> Self {
        let server = TownServer {
            io: sio_runtime::typed::TypedIo::new(io),
            towns: Arc::new(Mutex::new(
                towns
                    .iter()
                    .map(|(id, name)| ((*id).to_owned(), Town::new(name)))
                    .collect(),
            )),
        };
        let on_connect = server.clone();
        let known = server.clone();
        server
            .io
            .ns("/", move |socket, req| on_connect.join(socket, &req))
            .middleware(move |req| {
                let known = known.clone();
                async move { known.admit(&req) }
            });
        server
    }

    /// The untyped server, to serve it.
    pub fn io(&self) -> &sio_runtime::SocketIo<R> {
        self.io.untyped()
    }

    /// Change a town's settings (what Covey.Town's REST API does) and tell its players.
    /// Returns false for an unknown town.
    pub fn update_settings(&self, town_id: &str, update: TownSettingsUpdate) -> bool {
        {
            let mut towns = self.towns.lock().expect("towns lock");
            let Some(town) = towns.get_mut(town_id) else {
                return false;
            };
            if let Some(name) = &update.friendly_name {
                town.friendly_name = name.clone();
            }
            if let Some(listed) = update.is_publicly_listed {
                town.is_publicly_listed = listed;
            }
        }
        let _ = self
            .io
            .to(town_id)
            .emit(&ServerToClient::TownSettingsUpdated(update));
        true
    }

    /// Close a town: tell its players, then disconnect them.
    pub fn close_town(&self, town_id: &str) {
        let town = self.io.to(town_id);
        let _ = town.emit(&ServerToClient::TownClosing());
        let _ = town.disconnect(false);
    }

    /// The connect middleware: a name, and a town that exists.
    fn admit(&self, req: &ConnectRequest) -> Result<(), ConnectRefusal> {
        let auth: TownAuth = req
            .auth()
            .map_err(|_| ConnectRefusal::new("Missing userName or townID"))?;
        if auth.user_name.trim().is_empty() {
            return Err(ConnectRefusal::new("Missing userName or townID"));
        }
        if !self
            .towns
            .lock()
            .expect("towns lock")
            .contains_key(&auth.town_id)
        {
            return Err(ConnectRefusal::new("No such town")
                .with_data(serde_json::json!({ "townID": auth.town_id })));
        }
        Ok(())
    }

    /// A player joins: it gets the town, the others get the player.
    fn join(&self, socket: TownSocket, req: &ConnectRequest) {
        let Ok(auth) = req.auth::<TownAuth>() else {
            return;
        };
        let town_id = auth.town_id;
        let player = Player {
            id: socket.id().to_owned(),
            user_name: auth.user_name,
            location: PlayerLocation {
                x: 0.0,
                y: 0.0,
                rotation: Direction::Front,
                moving: false,
                interactable_id: None,
            },
        };
        let initial = {
            let mut towns = self.towns.lock().expect("towns lock");
            let Some(town) = towns.get_mut(&town_id) else {
                return;
            };
            town.players.insert(player.id.clone(), player.clone());
            TownJoinResponse {
                user_id: player.id.clone(),
                friendly_name: town.friendly_name.clone(),
                is_publicly_listed: town.is_publicly_listed,
                current_players: town.players.values().cloned().collect(),
                interactables: town.interactables.values().cloned().collect(),
            }
        };
        let _ = socket.join(&town_id);
        let _ = socket.emit(&ServerToClient::Initialize(initial));
        let _ = socket
            .to(&town_id)
            .emit(&ServerToClient::PlayerJoined(player));

        let server = self.clone();
        let town = town_id.clone();
        socket.on_event(move |socket, event| {
            let (server, town) = (server.clone(), town.clone());
            async move { server.on_event(&town, &socket, event) }
        });
        socket.on_fallback(|socket, error, message| async move {
            on_fallback(&socket, &error, message);
        });
        let server = self.clone();
        socket.on_disconnect(move |socket, _reason| {
            let server = server.clone();
            let town = town_id.clone();
            async move { server.leave(&town, &socket) }
        });
    }

    /// The typed events of a player: a `match`, each arm with its payload's type.
    fn on_event(&self, town_id: &str, socket: &TownSocket, event: ClientToServer) {
        match event {
            ClientToServer::PlayerMovement(location) => {
                let (player, changed) = {
                    let mut towns = self.towns.lock().expect("towns lock");
                    let Some(town) = towns.get_mut(town_id) else {
                        return;
                    };
                    let changed = town.relocate(socket.id(), location.interactable_id.as_deref());
                    let Some(player) = town.players.get_mut(socket.id()) else {
                        return;
                    };
                    player.location = location;
                    (player.clone(), changed)
                };
                let _ = socket
                    .to(town_id)
                    .emit(&ServerToClient::PlayerMoved(player));
                for area in changed {
                    let _ = self
                        .io
                        .to(town_id)
                        .emit(&ServerToClient::InteractableUpdate(area));
                }
            }
            ClientToServer::ChatMessage(mut message) => {
                if message.body.trim().is_empty() || message.body.chars().count() > 1000 {
                    let _ = socket.emit(&ServerToClient::ProtocolError(ProtocolError {
                        event: "chatMessage".into(),
                        message: "A chat message has 1 to 1000 characters".into(),
                    }));
                    return;
                }
                // Nobody speaks for someone else.
                message.author = socket.id().to_owned();
                message.sid = socket.id().to_owned();
                let _ = self
                    .io
                    .to(town_id)
                    .emit(&ServerToClient::ChatMessage(message));
            }
            ClientToServer::InteractableCommand(command, ack) => {
                let (response, update) = {
                    let mut towns = self.towns.lock().expect("towns lock");
                    let Some(town) = towns.get_mut(town_id) else {
                        return;
                    };
                    town.command(socket.id(), &command)
                };
                // The ack takes an InteractableCommandResponse, nothing else.
                let _ = ack.send(&response);
                if let Some(area) = update {
                    let _ = self
                        .io
                        .to(town_id)
                        .emit(&ServerToClient::InteractableUpdate(area));
                }
            }
        }
    }

    /// A player left: out of the town, its interactables and game.
    fn leave(&self, town_id: &str, socket: &TownSocket) {
        let (player, changed) = {
            let mut towns = self.towns.lock().expect("towns lock");
            let Some(town) = towns.get_mut(town_id) else {
                return;
            };
            let mut changed = town.relocate(socket.id(), None);
            for area in town.interactables.values_mut() {
                if let Interactable::GameArea { players, .. } = area {
                    if players.iter().any(|p| p == socket.id()) {
                        players.retain(|p| p != socket.id());
                        changed.retain(|a| a.id() != area.id());
                        changed.push(area.clone());
                    }
                }
            }
            (town.players.remove(socket.id()), changed)
        };
        let town = self.io.to(town_id);
        if let Some(player) = player {
            let _ = town.emit(&ServerToClient::PlayerDisconnect(player));
        }
        for area in changed {
            let _ = town.emit(&ServerToClient::InteractableUpdate(area));
        }
    }
}

/// An event that does not fit `ClientToServerEvents`: tell the sender, and answer its ack if
/// it asked for one (with the ids of a command, when they can be read).
fn on_fallback(socket: &TownSocket, error: &DecodeError, mut message: Message) {
    let event = error.event().to_owned();
    let _ = socket.emit(&ServerToClient::ProtocolError(ProtocolError {
        event: event.clone(),
        message: error.to_string(),
    }));
    if let Some(ack) = message.ack() {
        #[derive(Deserialize, Default)]
        struct Ids {
            #[serde(rename = "commandID", default)]
            command_id: String,
            #[serde(rename = "interactableID", default)]
            interactable_id: String,
        }
        let ids: Ids = message.args().unwrap_or_default();
        let _ = ack.send(&InteractableCommandResponse {
            command_id: ids.command_id,
            interactable_id: ids.interactable_id,
            is_ok: false,
            error: Some(format!("Invalid {event}: {error}")),
        });
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = SocketIo::new(ServerOptions::default());
    let town = TownServer::install(io, &[("covey", "Covey.Town")]);
    let addr = std::env::var("SIO_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("town server on http://{addr} (town \"covey\")");
    town.io().serve(listener).await
}
