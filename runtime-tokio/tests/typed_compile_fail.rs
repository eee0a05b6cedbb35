//! What the typed event maps reject at compile time: an event that is not in the map (or
//! not of its direction), a payload of the wrong type or arity, an answer of the wrong type.
//! The expected compiler output is in `tests/compile_fail/*.stderr`; after a deliberate change,
//! regenerate it with `TRYBUILD=overwrite cargo test -p sio-tokio --test typed_compile_fail`.

#[test]
fn typed_event_maps_reject_mistakes_at_compile_time() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail/*.rs");
}
