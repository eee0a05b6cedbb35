// socket.io-client 4.8 players in the typed town of runtime-tokio/examples/town.rs, written
// against the TypeScript event maps below (Covey.Town's, plus `protocolError`).
//
//   node town.mjs <scenario> <url> [--town=<townID>]
//
// Scenarios: `town` (two players join, move, chat, send acknowledged commands, send events
// that do not fit the map, see the town's settings change — the Rust test changes them when
// this script prints READY — and leave), `refused` (handshakes without a name or town).
//
// The TypeScript interfaces this client follows:
//
//   type Direction = 'front' | 'back' | 'left' | 'right';
//   interface PlayerLocation { x: number; y: number; rotation: Direction; moving: boolean;
//                              interactableID?: string }
//   interface Player { id: string; userName: string; location: PlayerLocation }
//   type ChatMessage = { author: string; sid: string; body: string; dateCreated: Date;
//                        interactableID?: string };
//   type TownSettingsUpdate = { friendlyName?: string; isPubliclyListed?: boolean };
//   type Interactable =
//     | { type: 'ConversationArea'; id: string; occupants: string[]; topic?: string }
//     | { type: 'GameArea'; id: string; occupants: string[]; players: string[] };
//   type InteractableCommand = { commandID: string; interactableID: string } &
//     ({ type: 'SetTopic'; topic: string } | { type: 'JoinGame' } | { type: 'LeaveGame' });
//   type InteractableCommandResponse = { commandID: string; interactableID: string;
//                                        isOK: boolean; error?: string };
//   type TownJoinResponse = { userID: string; friendlyName: string; isPubliclyListed: boolean;
//                             currentPlayers: Player[]; interactables: Interactable[] };
//   type ProtocolError = { event: string; message: string };
//
//   interface ServerToClientEvents {
//     initialize: (initialData: TownJoinResponse) => void;
//     playerJoined: (newPlayer: Player) => void;
//     playerMoved: (movedPlayer: Player) => void;
//     playerDisconnect: (disconnectedPlayer: Player) => void;
//     chatMessage: (message: ChatMessage) => void;
//     interactableUpdate: (interactable: Interactable) => void;
//     townSettingsUpdated: (update: TownSettingsUpdate) => void;
//     townClosing: () => void;
//     protocolError: (error: ProtocolError) => void;
//   }
//   interface ClientToServerEvents {
//     chatMessage: (message: ChatMessage) => void;
//     playerMovement: (movementData: PlayerLocation) => void;
//     interactableCommand: (command: InteractableCommand,
//                           callback: (response: InteractableCommandResponse) => void) => void;
//   }
//   const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, { auth });

import { io } from "socket.io-client";
import { ack, connected, expect, expectEqual, main, once, report } from "./lib.mjs";

const WAIT_MS = 3000;

/** Records every event of a socket, so that a step can wait for one that may have come. */
class Inbox {
  constructor(socket, name) {
    this.name = name;
    this.events = [];
    this.waiters = [];
    socket.onAny((event, ...args) => {
      this.events.push({ event, args });
      this.wake();
    });
  }

  wake() {
    for (const w of [...this.waiters]) {
      const i = this.events.findIndex((e) => e.event === w.event && w.pred(...e.args));
      if (i >= 0) {
        const [e] = this.events.splice(i, 1);
        this.waiters.splice(this.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(e.args);
      }
    }
  }

  /** The arguments of the first `event` whose arguments satisfy `pred`. */
  take(event, pred = () => true) {
    return new Promise((resolve, reject) => {
      const w = { event, pred, resolve };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        const seen = this.events.map((e) => `${e.event} ${JSON.stringify(e.args)}`).join("\n  ");
        reject(new Error(`${this.name}: no matching ${event} within ${WAIT_MS} ms; pending:\n  ${seen}`));
      }, WAIT_MS);
      this.waiters.push(w);
      this.wake();
    });
  }

  /** Whether an `event` is pending. */
  has(event) {
    return this.events.some((e) => e.event === event);
  }
}

function player(url, userName, townID) {
  // forceNew: each player has its own connection, as two browsers would.
  const socket = io(url, { auth: { userName, townID }, forceNew: true, reconnection: false });
  return { socket, inbox: new Inbox(socket, userName) };
}

const START = { x: 0, y: 0, rotation: "front", moving: false };

async function town(url, options) {
  const townID = options.town ?? "covey";

  // ----- alice joins an empty town
  const alice = player(url, "alice", townID);
  await connected(alice.socket);
  const [aliceInit] = await alice.inbox.take("initialize");
  expectEqual(
    aliceInit,
    {
      userID: alice.socket.id,
      friendlyName: "Covey.Town",
      isPubliclyListed: true,
      currentPlayers: [{ id: alice.socket.id, userName: "alice", location: START }],
      interactables: [
        { type: "ConversationArea", id: "lobby", occupants: [] },
        { type: "GameArea", id: "ticTacToe", occupants: [], players: [] },
      ],
    },
    "alice's initialize",
  );

  // ----- bob joins: he sees both players, alice sees him
  const bob = player(url, "bob", townID);
  await connected(bob.socket);
  const [bobInit] = await bob.inbox.take("initialize");
  expect(bobInit.userID === bob.socket.id, `bob's userID ${bobInit.userID}`);
  expectEqual(
    bobInit.currentPlayers.map((p) => p.userName).sort(),
    ["alice", "bob"],
    "bob's currentPlayers",
  );
  const [joined] = await alice.inbox.take("playerJoined");
  expectEqual(joined, { id: bob.socket.id, userName: "bob", location: START }, "playerJoined");

  // ----- bob moves: alice sees where to
  const walk = { x: 10.5, y: -20, rotation: "left", moving: true };
  bob.socket.emit("playerMovement", walk);
  const [moved] = await alice.inbox.take("playerMoved");
  expectEqual(moved, { id: bob.socket.id, userName: "bob", location: walk }, "playerMoved");

  // ----- alice chats: everyone gets it, author and sid set by the server
  const sent = new Date();
  alice.socket.emit("chatMessage", {
    author: "not alice",
    sid: "spoofed",
    body: "hello town 👋",
    dateCreated: sent,
  });
  const chat = {
    author: alice.socket.id,
    sid: alice.socket.id,
    body: "hello town 👋",
    dateCreated: sent.toISOString(),
  };
  expectEqual((await alice.inbox.take("chatMessage"))[0], chat, "alice's chatMessage");
  expectEqual((await bob.inbox.take("chatMessage"))[0], chat, "bob's chatMessage");

  // ----- bob walks into the lobby: both see its occupants
  bob.socket.emit("playerMovement", { ...walk, moving: false, interactableID: "lobby" });
  const lobbyWithBob = { type: "ConversationArea", id: "lobby", occupants: [bob.socket.id] };
  expectEqual((await alice.inbox.take("interactableUpdate"))[0], lobbyWithBob, "alice's lobby");
  expectEqual((await bob.inbox.take("interactableUpdate"))[0], lobbyWithBob, "bob's lobby");
  const [movedIn] = await alice.inbox.take("playerMoved");
  expect(movedIn.location.interactableID === "lobby", `bob's location ${JSON.stringify(movedIn)}`);

  // ----- commands, acknowledged with an InteractableCommandResponse
  const [topic] = await ack(bob.socket, "interactableCommand", {
    commandID: "c1",
    interactableID: "lobby",
    type: "SetTopic",
    topic: "Rust in the town",
  });
  expectEqual(topic, { commandID: "c1", interactableID: "lobby", isOK: true }, "SetTopic response");
  const [withTopic] = await alice.inbox.take("interactableUpdate", (i) => i.topic !== undefined);
  expectEqual(withTopic, { ...lobbyWithBob, topic: "Rust in the town" }, "topic update");

  const command = (socket, commandID, interactableID, rest) =>
    ack(socket, "interactableCommand", { commandID, interactableID, ...rest }).then(([r]) => r);
  expectEqual(
    await command(alice.socket, "c2", "ticTacToe", { type: "JoinGame" }),
    { commandID: "c2", interactableID: "ticTacToe", isOK: true },
    "alice joins the game",
  );
  await alice.inbox.take("interactableUpdate", (i) => i.id === "ticTacToe" && i.players.length === 1);
  expectEqual(
    await command(alice.socket, "c3", "ticTacToe", { type: "JoinGame" }),
    { commandID: "c3", interactableID: "ticTacToe", isOK: false, error: "Player is already in this game" },
    "alice joins again",
  );
  expectEqual(
    await command(bob.socket, "c4", "ticTacToe", { type: "JoinGame" }),
    { commandID: "c4", interactableID: "ticTacToe", isOK: true },
    "bob joins the game",
  );
  expectEqual(
    await command(bob.socket, "c5", "nowhere", { type: "LeaveGame" }),
    { commandID: "c5", interactableID: "nowhere", isOK: false, error: "No such interactable" },
    "a command for no interactable",
  );
  expectEqual(
    await command(bob.socket, "c6", "ticTacToe", { type: "SetTopic", topic: "x" }),
    {
      commandID: "c6",
      interactableID: "ticTacToe",
      isOK: false,
      error: "This interactable does not take that command",
    },
    "a command the interactable does not take",
  );
  const [game] = await alice.inbox.take(
    "interactableUpdate",
    (i) => i.id === "ticTacToe" && i.players.length === 2,
  );
  expectEqual(game.players, [alice.socket.id, bob.socket.id], "the game's players");

  // ----- events that do not fit ClientToServerEvents reach the server's typed fallback
  bob.socket.emit("teleport", { x: 1, y: 2 });
  const [unknown] = await bob.inbox.take("protocolError");
  expectEqual(unknown, { event: "teleport", message: 'unknown event "teleport"' }, "unknown event");

  bob.socket.emit("playerMovement", { x: "far away", y: 0, rotation: "up", moving: true });
  const [badMove] = await bob.inbox.take("protocolError");
  expect(badMove.event === "playerMovement", `protocolError event ${badMove.event}`);
  expect(
    badMove.message.startsWith('invalid payload for event "playerMovement"'),
    `protocolError message ${badMove.message}`,
  );

  const [badCommand] = await ack(bob.socket, "interactableCommand", {
    commandID: "c7",
    interactableID: "lobby",
    type: "Dance",
  });
  expect(
    badCommand.commandID === "c7" &&
      badCommand.interactableID === "lobby" &&
      badCommand.isOK === false &&
      badCommand.error.startsWith("Invalid interactableCommand"),
    `response to a malformed command ${JSON.stringify(badCommand)}`,
  );
  const [badCommandError] = await bob.inbox.take("protocolError");
  expect(badCommandError.event === "interactableCommand", `protocolError ${badCommandError.event}`);

  // No arguments at all: a missing argument.
  bob.socket.emit("chatMessage");
  const [noArgs] = await bob.inbox.take("protocolError");
  expect(
    noArgs.event === "chatMessage" && noArgs.message.includes("missing event argument"),
    `protocolError for no arguments ${JSON.stringify(noArgs)}`,
  );
  expect(!alice.inbox.has("protocolError"), "alice got another player's protocolError");

  // The server goes on as before.
  bob.socket.emit("chatMessage", { author: "", sid: "", body: "still here", dateCreated: sent });
  const [still] = await alice.inbox.take("chatMessage");
  expect(still.body === "still here" && still.author === bob.socket.id, `chat ${JSON.stringify(still)}`);

  // ----- the town's settings change (the Rust test does it when it reads READY)
  report({ alice: alice.socket.id, bob: bob.socket.id });
  console.log("READY");
  const settings = { friendlyName: "Renamed Town", isPubliclyListed: false };
  expectEqual((await alice.inbox.take("townSettingsUpdated"))[0], settings, "alice's settings");
  expectEqual((await bob.inbox.take("townSettingsUpdated"))[0], settings, "bob's settings");

  // ----- bob leaves: alice sees him go, and his places free
  const bobID = bob.socket.id;
  bob.socket.disconnect();
  const [gone] = await alice.inbox.take("playerDisconnect");
  expect(gone.id === bobID && gone.userName === "bob", `playerDisconnect ${JSON.stringify(gone)}`);
  expectEqual(
    (await alice.inbox.take("interactableUpdate", (i) => i.id === "lobby"))[0],
    { type: "ConversationArea", id: "lobby", occupants: [], topic: "Rust in the town" },
    "the lobby after bob left",
  );
  expectEqual(
    (await alice.inbox.take("interactableUpdate", (i) => i.id === "ticTacToe"))[0],
    { type: "GameArea", id: "ticTacToe", occupants: [], players: [alice.socket.id] },
    "the game after bob left",
  );
  alice.socket.disconnect();
  report({ done: true });
}

async function refused(url, options) {
  const townID = options.town ?? "covey";
  const nameless = io(url, { auth: { userName: " ", townID }, forceNew: true, reconnection: false });
  const [err] = await once(nameless, "connect_error", WAIT_MS);
  expect(err.message === "Missing userName or townID", `connect_error ${err.message}`);
  nameless.close();

  const noAuth = io(url, { forceNew: true, reconnection: false });
  const [err2] = await once(noAuth, "connect_error", WAIT_MS);
  expect(err2.message === "Missing userName or townID", `connect_error ${err2.message}`);
  noAuth.close();

  const lost = io(url, { auth: { userName: "carol", townID: "atlantis" }, forceNew: true, reconnection: false });
  const [err3] = await once(lost, "connect_error", WAIT_MS);
  expect(err3.message === "No such town", `connect_error ${err3.message}`);
  expectEqual(err3.data, { townID: "atlantis" }, "connect_error data");
  lost.close();
  report({ refused: 3 });
}

main({ town, refused });
