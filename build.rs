//! Build script: puts the git commit into `--version` (DCOS_UPGRADE_COMMIT; "unknown" outside
//! a git checkout).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let o = Command::new("git").args(args).output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=DCOS_UPGRADE_COMMIT={commit}");
    // Rerun when HEAD moves: a commit or checkout appends to the (worktree's own) HEAD log.
    if let Some(d) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={d}/HEAD");
        println!("cargo:rerun-if-changed={d}/logs/HEAD");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
