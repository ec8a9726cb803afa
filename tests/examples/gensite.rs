//! Writes a generated site to a directory (`cargo run --release -p svcintent-tests --example
//! gensite -- DIR 1000 200`), for timing the `svcintent` command on it.
#![allow(clippy::unwrap_used, reason = "a measuring tool")]

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = std::path::PathBuf::from(args.first().map_or("generated-site", String::as_str));
    let services = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let hosts = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);
    let sources = svcintent_tests::generate::site(services, hosts);
    for (_, file) in sources.iter() {
        let path = dir.join(&file.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &file.text).unwrap();
    }
}
