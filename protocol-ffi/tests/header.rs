//! The committed header `include/sio.h` is what cbindgen generates from the sources now.
//! With `SIO_FFI_BLESS=1` the test rewrites it instead.

use std::path::Path;

#[test]
fn header_is_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let path = dir.join("include/sio.h");
    if std::env::var_os("SIO_FFI_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/sio.h");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/sio.h is out of date: regenerate it with \
         `SIO_FFI_BLESS=1 cargo test -p sio-ffi --test header` and commit it"
    );
}

/// The README's example is `examples/c/readme.c`, verbatim (the interop tests build and run
/// that file, under valgrind).
#[test]
fn readme_shows_the_example_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("README.md");
    let example = std::fs::read_to_string(dir.join("examples/c/readme.c")).expect("readme.c");
    assert!(
        readme.contains(&format!("```c\n{example}```")),
        "README.md must show examples/c/readme.c as it is"
    );
}
