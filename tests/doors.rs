//! The doors are the only way to the cluster: no module outside `src/door/` can send a raw SSH
//! command or a non-GET HTTP request. The types enforce it (the transports are private to
//! `door`); this scan makes sure nobody reaches around them with another client.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// What only the transports may use.
const FORBIDDEN: [&str; 9] = [
    "reqwest::",
    "openssh::",
    "Method::POST",
    "Method::PUT",
    "Method::DELETE",
    "Method::PATCH",
    ".run_with_input(",
    "raw_command(",
    "ssh.run(",
];

/// Raw read-only connections allowed outside the doors, each with its reason.
const ALLOWED: [(&str, &str); 1] = [(
    "src/probe/zk.rs",
    "ZooKeeper four-letter words and getChildren, read-only over TCP",
)];

#[test]
fn nothing_outside_the_door_module_reaches_a_transport() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    assert!(files.len() > 30, "the scan found the sources");
    let mut found = Vec::new();
    for f in files {
        let rel = f.strip_prefix(root).unwrap().to_string_lossy().to_string();
        if rel.starts_with("src/door/") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for pat in FORBIDDEN {
                if line.contains(pat) {
                    found.push(format!("{rel}:{}: {pat}", n + 1));
                }
            }
            if line.contains("TcpStream") && !ALLOWED.iter().any(|(p, _)| *p == rel) {
                found.push(format!("{rel}:{}: TcpStream", n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "raw transport use outside src/door/:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_transports_are_private_to_the_door_module() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let door = std::fs::read_to_string(root.join("src/door/mod.rs")).unwrap();
    for private in ["mod ssh;", "mod http;", "mod transport;", "mod audited;"] {
        assert!(
            door.contains(&format!("\n{private}")),
            "{private} must stay private"
        );
        assert!(!door.contains(&format!("pub {private}")));
    }
    // Neither raw client is re-exported.
    for name in ["Ssh,", "Ssh}", "Http,", "Http}"] {
        assert!(
            !door
                .lines()
                .any(|l| l.starts_with("pub use") && l.contains(name)),
            "door re-exports a raw client ({name})"
        );
    }
}
