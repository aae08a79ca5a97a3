//! Stable fake identifiers and version data: hashes, package ids, `dcos-version.json`, the Mesos
//! version a DC/OS version ships.

/// 64-bit FNV-1a, used for stable fake hashes.
pub fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// A stable fake hex digest of `len` characters.
pub fn hex_id(seed: &str, len: usize) -> String {
    let mut out = String::new();
    let mut i = 0;
    while out.len() < len {
        out.push_str(&format!("{:016x}", fnv(&format!("{seed}#{i}"))));
        i += 1;
    }
    out.truncate(len);
    out
}

/// The package ids of a DC/OS version.
pub fn package_ids(version: &str) -> Vec<String> {
    [
        "dcos-metadata",
        "mesos",
        "marathon",
        "exhibitor",
        "adminrouter",
        "dcos-diagnostics",
    ]
    .iter()
    .map(|p| format!("{p}--{}", hex_id(&format!("{p}-{version}"), 40)))
    .collect()
}

/// The content of `dcos-version.json` for a version.
pub fn version_json(version: &str) -> String {
    format!(
        "{{\n  \"version\": \"{version}\",\n  \"dcos-image-commit\": \"{}\",\n  \"bootstrap-id\": \"{}\",\n  \"dcos-variant\": \"open\"\n}}\n",
        hex_id(&format!("commit-{version}"), 40),
        hex_id(&format!("bootstrap-{version}"), 40)
    )
}

/// Maps a DC/OS version to the Mesos version it ships.
pub fn mesos_version(dcos: &str) -> &'static str {
    if dcos.starts_with("2.2") {
        "1.11.0"
    } else if dcos.starts_with("2.1") {
        "1.10.1"
    } else if dcos.starts_with("2.0") {
        "1.9.1"
    } else if dcos.starts_with("1.13") {
        "1.8.1"
    } else {
        "1.11.0"
    }
}

/// A UUID-shaped stable id.
pub fn uuid_like(seed: &str) -> String {
    let h = hex_id(seed, 32);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
