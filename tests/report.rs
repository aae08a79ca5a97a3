//! The upgrade report (issue 15): after a real run, `report --format html` is a self-contained
//! page whose SVG timeline renders in headless Chromium (a screenshot with the bars' colours,
//! the node labels in the page); markdown and JSON carry the same figures; `run_finished`
//! carries the end-of-run summary.

mod common;

use common::{strs, text, Env};
use std::path::Path;
use std::process::Command;

/// Renders `html` to a PNG with Debian's chromium; None (with a message) when it is missing.
fn screenshot(html: &Path, png: &Path) -> Option<()> {
    let chromium = ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(chromium) = chromium else {
        eprintln!("SKIPPED the browser check: no chromium (apt-get install chromium)");
        return None;
    };
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1000,900",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(png.exists(), "no screenshot: {}", text(&o));
    Some(())
}

/// Counts the pixels of an RGB colour (within a small tolerance) and the distinct colours.
fn pixels(png: &Path, rgb: (u8, u8, u8)) -> (usize, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = info.color_type.samples();
    let mut distinct = std::collections::HashSet::new();
    let mut hits = 0;
    for px in buf[..info.buffer_size()].chunks(step) {
        let (r, g, b) = (px[0], px[1], px[2]);
        distinct.insert((r, g, b));
        let near = |a: u8, b: u8| a.abs_diff(b) <= 6;
        if near(r, rgb.0) && near(g, rgb.1) && near(b, rgb.2) {
            hits += 1;
        }
    }
    (hits, distinct.len())
}

#[test]
fn a_runs_report_renders_its_timeline_in_a_browser_with_the_figures() {
    let env = Env::new(1, 1, 0, &[]);
    let out = env
        .cmd(&[&["--output", "json"][..], &strs(&env.run_args(&["--yes"]))].concat())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let last: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "run_finished");
    let summary = &last["summary"];
    let wall = summary["wall_ms"].as_u64().unwrap();
    let parts = summary["waiting_on_nodes_ms"].as_u64().unwrap()
        + summary["waiting_at_gates_ms"].as_u64().unwrap()
        + summary["overhead_ms"].as_u64().unwrap();
    assert!(wall > 0 && parts <= wall, "{summary}");
    assert!(
        summary["nodes"].as_array().unwrap().len() >= 2,
        "per-node times: {summary}"
    );

    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let o = env.cmd(&["report", "--format", "html"]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(&html, &o.stdout).unwrap();
    let page = String::from_utf8_lossy(&o.stdout).to_string();
    for label in [
        "<svg",
        "id=\"timeline\"",
        "m1",
        "a1",
        "leader failover",
        "SHA-256",
    ] {
        assert!(page.contains(label), "the report lacks {label:?}");
    }
    assert!(
        !page.contains("http://") || !page.contains("<script src"),
        "not self-contained"
    );

    let md = env
        .cmd(&["report", "--format", "markdown"])
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(md.contains("| m1 |") && md.contains("wall time"), "{md}");
    let js = env.cmd(&["report", "--format", "json"]).output().unwrap();
    let js: serde_json::Value = serde_json::from_slice(&js.stdout).unwrap();
    assert_eq!(js["schema_version"], 1);
    assert!(js["bars"].as_array().unwrap().len() >= 4, "{js}");
    assert_eq!(js["backups"].as_array().unwrap().len(), 1, "{js}");
    let sum = js["backups"][0]["sha256"].as_str().unwrap();
    assert_eq!(sum.len(), 64, "{js}");
    assert!(
        page.contains(sum),
        "the backup's checksum is not in the page"
    );

    let png = dir.path().join("shot.png");
    if screenshot(&html, &png).is_none() {
        return;
    }
    if let Some(keep) = std::env::var_os("DCOS_UPGRADE_KEEP_REPORT") {
        let keep = Path::new(&keep);
        let _ = std::fs::copy(&html, keep.join("report.html"));
        let _ = std::fs::copy(&png, keep.join("report.png"));
    }
    // The bars of done steps are drawn in their green (#2e9d4f), and the page is not blank.
    let (green, distinct) = pixels(&png, (0x2e, 0x9d, 0x4f));
    assert!(
        green > 200,
        "no done bars on the screenshot ({green} green pixels)"
    );
    assert!(
        distinct > 20,
        "the screenshot is nearly blank ({distinct} colours)"
    );
}
