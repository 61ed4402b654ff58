//! Embeds the console's files (listed in `src/console_assets.txt`) into the binary, so that
//! `mamori serve` stays one file and serves nothing it was not built with.

use std::path::Path;

fn main() {
    let Ok(manifest) = std::env::var("CARGO_MANIFEST_DIR") else {
        panic!("CARGO_MANIFEST_DIR is not set");
    };
    let Ok(out) = std::env::var("OUT_DIR") else {
        panic!("OUT_DIR is not set");
    };
    let root = Path::new(&manifest);
    let list = root.join("src").join("console_assets.txt");
    println!("cargo:rerun-if-changed={}", list.display());
    let text = std::fs::read_to_string(&list).unwrap_or_default();
    let mut code = String::from("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    for name in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        assert!(
            !name
                .split('/')
                .any(|part| part.is_empty() || part == ".." || part == "."),
            "console_assets.txt: {name:?} is not a plain relative path"
        );
        let path = root.join("console").join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        code.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    code.push_str("];\n");
    if let Err(error) = std::fs::write(Path::new(&out).join("console_assets.rs"), code) {
        panic!("writing console_assets.rs: {error}");
    }
}
