//! The typed town (`runtime-tokio/examples/town.rs`, included here as a module and run
//! in-process) against Node `socket.io-client` players written to the TypeScript event maps
//! (`tests/js/town.mjs`), and against typed Rust clients using the same Rust event maps.
//!
//! The Node tests need the npm packages of `tests/js` (the README's test command installs
//! them); without them they fail and say so.

#[path = "../../runtime-tokio/examples/town.rs"]
#[allow(dead_code)]
mod town;

use std::time::Duration;

use sio_runtime::client::ClientBuilder;
use sio_runtime::typed::{TypedClient, TypedClientBuilder};
use sio_tests::node::{run_node, Node};
use sio_tests::runtime::{serve_io, Served, TestRuntime};
use sio_tokio::ServerOptions;
use tokio::sync::mpsc;

use town::{
    ClientToServer, Command, Direction, InteractableCommand, InteractableCommandResponse,
    PlayerLocation, ServerToClient, TownServer, TownSettingsUpdate,
};

const WAIT: Duration = Duration::from_secs(5);

/// The town server on an ephemeral port, on runtime `R`, stopped when dropped.
struct Running<R> {
    town: TownServer<R>,
    url: String,
    _served: Served,
}

impl<R: TestRuntime> Running<R> {
    async fn start() -> Self {
        let town = TownServer::install(
            sio_runtime::SocketIo::<R>::new(ServerOptions::default()),
            &[("covey", "Covey.Town")],
        );
        let served = serve_io(town.io(), "127.0.0.1:0".parse().expect("valid")).await;
        Running {
            town,
            url: served.url(),
            _served: served,
        }
    }
}

async fn node_players_join_move_chat_command_and_leave<R: TestRuntime>() {
    let server = Running::<R>::start().await;
    let mut node = Node::spawn("town.mjs", "town", &server.url, &["--town=covey"]);
    // The script has checked everything up to the settings change; now change them.
    node.line("READY", Duration::from_secs(15)).await;
    assert!(server.town.update_settings(
        "covey",
        TownSettingsUpdate {
            friendly_name: Some("Renamed Town".into()),
            is_publicly_listed: Some(false),
        },
    ));
    let out = node.finish(Duration::from_secs(15)).await;
    out.assert_ok("town.mjs town");
    assert_eq!(out.report("done"), &serde_json::Value::Bool(true));
}

async fn node_players_without_a_name_or_town_are_refused<R: TestRuntime>() {
    let server = Running::<R>::start().await;
    let out = run_node("town.mjs", "refused", &server.url, &["--town=covey"]).await;
    assert_eq!(out.report("refused"), &serde_json::json!(3));
}

/// A typed Rust player: its events arrive in a channel.
async fn rust_player<R: TestRuntime>(
    url: &str,
    name: &str,
) -> (
    TypedClient<ServerToClient, ClientToServer>,
    mpsc::UnboundedReceiver<ServerToClient>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let client = TypedClientBuilder::<ServerToClient, ClientToServer, R>::new(
        ClientBuilder::<R>::new(url)
            .auth(serde_json::json!({ "userName": name, "townID": "covey" }))
            .reconnection(false),
    )
    .on_event(move |_socket, event| {
        let _ = tx.send(event);
        async {}
    })
    .connect()
    .await
    .expect("the player joins");
    (client, rx)
}

/// The next event that `f` picks, skipping the others.
async fn next<T>(
    rx: &mut mpsc::UnboundedReceiver<ServerToClient>,
    what: &str,
    mut f: impl FnMut(ServerToClient) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(event)) => {
                if let Some(t) = f(event) {
                    return t;
                }
            }
            _ => panic!("no {what} within {WAIT:?}"),
        }
    }
}

async fn rust_players_use_the_same_typed_maps<R: TestRuntime>() {
    let server = Running::<R>::start().await;
    let (alice, mut alice_rx) = rust_player::<R>(&server.url, "alice").await;
    let init = next(&mut alice_rx, "initialize", |e| match e {
        ServerToClient::Initialize(init) => Some(init),
        _ => None,
    })
    .await;
    assert_eq!(Some(init.user_id), alice.id());
    assert_eq!(init.friendly_name, "Covey.Town");

    let (bob, mut bob_rx) = rust_player::<R>(&server.url, "bob").await;
    let joined = next(&mut alice_rx, "playerJoined", |e| match e {
        ServerToClient::PlayerJoined(p) => Some(p),
        _ => None,
    })
    .await;
    assert_eq!(joined.user_name, "bob");
    assert_eq!(Some(joined.id), bob.id());

    let location = PlayerLocation {
        x: 3.0,
        y: 4.5,
        rotation: Direction::Back,
        moving: true,
        interactable_id: None,
    };
    bob.emit(&ClientToServer::PlayerMovement(location.clone()))
        .expect("bob moves");
    let moved = next(&mut alice_rx, "playerMoved", |e| match e {
        ServerToClient::PlayerMoved(p) => Some(p),
        _ => None,
    })
    .await;
    assert_eq!(moved.location, location);

    // The answer's type comes from the map: an InteractableCommandResponse.
    let response: InteractableCommandResponse = bob
        .emit_with_ack(
            |ack| {
                ClientToServer::InteractableCommand(
                    InteractableCommand {
                        command_id: "r1".into(),
                        interactable_id: "ticTacToe".into(),
                        command: Command::JoinGame,
                    },
                    ack,
                )
            },
            WAIT,
        )
        .await
        .expect("the town answers");
    assert_eq!(
        response,
        InteractableCommandResponse {
            command_id: "r1".into(),
            interactable_id: "ticTacToe".into(),
            is_ok: true,
            error: None,
        }
    );

    // An event outside the map, sent through the untyped API beside the typed one, reaches
    // the server's typed fallback, which answers with a typed event.
    bob.untyped()
        .emit("teleport", &("far", 1))
        .expect("bob sends it");
    let error = next(&mut bob_rx, "protocolError", |e| match e {
        ServerToClient::ProtocolError(p) => Some(p),
        _ => None,
    })
    .await;
    assert_eq!(error.event, "teleport");

    // A zero-argument event: the town closes.
    server.town.close_town("covey");
    for rx in [&mut alice_rx, &mut bob_rx] {
        next(rx, "townClosing", |e| {
            (e == ServerToClient::TownClosing()).then_some(())
        })
        .await;
    }
    alice.close();
    bob.close();
}

sio_tests::runtime_tests!(
    generic:
    node_players_join_move_chat_command_and_leave,
    node_players_without_a_name_or_town_are_refused,
    rust_players_use_the_same_typed_maps,
);
