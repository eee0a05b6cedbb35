//! Application behaviours for the simulator.
//!
//! The server core does not decide on its own whether a client may join a namespace, and it
//! does not answer events: it yields [`Event`]s and the application answers with commands.
//! An [`App`] is that application, called by the [`Sim`](crate::Sim) for every event as it
//! comes out of the server, with the server itself so that it can answer at once.

use sio_core::server::{Emit, Event, Server, Target};
use sio_core::timers::Millis;
use sio_core::ByteString;

/// The application: called with the server, the current time and each event, in order.
pub type App = Box<dyn FnMut(&mut Server, Millis, &Event)>;

/// Does nothing: every decision is left to the test, which reads
/// [`Sim::take_events`](crate::Sim::take_events) and calls the server itself.
pub fn manual() -> App {
    Box::new(|_, _, _| {})
}

/// Accepts every CONNECT request and does nothing else.
pub fn accept_all() -> App {
    Box::new(|server, now, event| {
        if let Event::ConnectRequest { id, .. } = event {
            server.accept(now, *id).expect("pending connect request");
        }
    })
}

/// Refuses every CONNECT request with `message` and optional JSON `data`.
pub fn reject_all(message: &'static str, data: Option<&'static str>) -> App {
    Box::new(move |server, now, event| {
        if let Event::ConnectRequest { id, .. } = event {
            let raw = data.map(|d| serde_json::value::RawValue::from_string(d.to_owned()));
            let raw = raw.transpose().expect("valid JSON data");
            server
                .reject(now, *id, message, raw.as_deref())
                .expect("pending connect request");
        }
    })
}

/// Accepts every CONNECT request, sends every event back to its sender unchanged (same
/// name, arguments and attachments) and, when the event asks for an ack, acknowledges it
/// with the event's own arguments.
pub fn echo() -> App {
    Box::new(|server, now, event| match event {
        Event::ConnectRequest { id, .. } => {
            server.accept(now, *id).expect("pending connect request");
        }
        Event::Message { socket, packet } => {
            let data = packet.data.clone().expect("events carry data");
            let nsp = server
                .socket_namespace(*socket)
                .expect("live socket")
                .clone();
            let sid = server.socket_sid(*socket).expect("live socket").clone();
            if let Some(ack) = packet.id {
                server
                    .ack(
                        now,
                        *socket,
                        ack,
                        args_of(&data),
                        packet.attachments.clone(),
                    )
                    .expect("valid ack");
            } else {
                let emit = Emit::new(data).with_attachments(packet.attachments.clone());
                server
                    .emit(now, &Target::room(&nsp, &sid), &emit)
                    .expect("valid emit");
            }
        }
        _ => {}
    })
}

/// The arguments of an event: its JSON array without the first element (the name).
pub fn args_of(data: &str) -> ByteString {
    let items: Vec<&serde_json::value::RawValue> =
        serde_json::from_str(data).expect("event data is a JSON array");
    let rest: Vec<&str> = items.iter().skip(1).map(|r| r.get()).collect();
    ByteString::from(format!("[{}]", rest.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_drop_the_event_name() {
        assert_eq!(&*args_of(r#"["x", 1, {"a":[2]}]"#), r#"[1,{"a":[2]}]"#);
        assert_eq!(&*args_of(r#"["x"]"#), "[]");
    }
}
