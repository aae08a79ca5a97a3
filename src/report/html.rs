//! The report as a self-contained HTML page (inline CSS and SVG, nothing fetched) or Markdown.

use super::svg::{esc, timeline, word};
use super::Report;
use crate::events::RunSummary;

fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn summary_rows(s: &RunSummary) -> Vec<(String, String)> {
    let mut v = vec![
        ("wall time".to_string(), secs(s.wall_ms)),
        ("waiting on nodes".into(), secs(s.waiting_on_nodes_ms)),
        ("waiting at gates".into(), secs(s.waiting_at_gates_ms)),
        ("the tool's own work".into(), secs(s.overhead_ms)),
    ];
    v.extend(
        s.phases
            .iter()
            .map(|p| (format!("phase {}", p.name), secs(p.ms))),
    );
    v.extend(
        s.nodes
            .iter()
            .map(|p| (format!("node {}", p.name), secs(p.ms))),
    );
    v
}

/// The HTML page.
pub fn html(r: &Report) -> String {
    let mut h = format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Upgrade report {run}</title>
<style>body{{font-family:sans-serif;margin:2em;color:#111}} table{{border-collapse:collapse;margin:.5em 0 1.5em}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}} th{{background:#f3f4f6}} code{{font-size:90%}}</style>
</head><body>
<h1>Upgrade report: cluster {cluster}</h1>
<p id="headline">Run <code>{run}</code>: {from} &rarr; {to}, started {started}, now <b>{state}</b>.</p>
<h2>Timeline</h2>
{svg}
<h2>Nodes</h2>
<table id="nodes"><tr><th>node</th><th>address</th><th>role</th><th>from</th><th>now</th></tr>
"#,
        run = esc(&r.run),
        cluster = esc(&r.cluster),
        from = esc(&r.from),
        to = esc(&r.to),
        started = esc(&r.started),
        state = esc(&r.state),
        svg = timeline(r)
    );
    for n in &r.nodes {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&n.name),
            esc(&n.address),
            esc(&n.role),
            esc(&n.from),
            esc(&n.now)
        ));
    }
    h.push_str("</table>\n<h2>Backups</h2>\n");
    if r.backups.is_empty() {
        h.push_str("<p>No backup was taken by this run.</p>\n");
    } else {
        h.push_str("<table id=\"backups\"><tr><th>archive</th><th>SHA-256</th></tr>\n");
        for b in &r.backups {
            h.push_str(&format!(
                "<tr><td><code>{}</code></td><td><code>{}</code></td></tr>\n",
                esc(&b.archive),
                esc(&b.sha256)
            ));
        }
        h.push_str("</table>\n");
    }
    h.push_str("<h2>Failures</h2>\n");
    if r.failures.is_empty() {
        h.push_str("<p>None.</p>\n");
    } else {
        h.push_str("<table id=\"failures\"><tr><th>step</th><th>what happened</th></tr>\n");
        for (s, m) in &r.failures {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td></tr>\n",
                esc(s),
                esc(m)
            ));
        }
        h.push_str("</table>\n");
    }
    h.push_str("<h2>Gates and pauses</h2>\n<ul>\n");
    for m in &r.marks {
        h.push_str(&format!(
            "<li>{} at {}: {}</li>\n",
            esc(&m.kind),
            secs(m.at_ms),
            esc(&m.label)
        ));
    }
    h.push_str("</ul>\n<h2>Where the time went</h2>\n");
    for (i, s) in r.summaries.iter().enumerate() {
        h.push_str(&format!(
            "<table class=\"summary\"><tr><th colspan=\"2\">command {}</th></tr>\n",
            i + 1
        ));
        for (k, v) in summary_rows(s) {
            h.push_str(&format!("<tr><td>{}</td><td>{v}</td></tr>\n", esc(&k)));
        }
        h.push_str("</table>\n");
    }
    h.push_str("</body></html>\n");
    h
}

/// The Markdown report (the timeline as a table of steps).
pub fn markdown(r: &Report) -> String {
    let mut m = format!(
        "# Upgrade report: cluster {}\n\nRun `{}`: {} -> {}, started {}, now **{}**.\n\n## Nodes\n\n| node | address | role | from | now |\n|---|---|---|---|---|\n",
        r.cluster, r.run, r.from, r.to, r.started, r.state
    );
    for n in &r.nodes {
        m.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            n.name, n.address, n.role, n.from, n.now
        ));
    }
    m.push_str(
        "\n## Timeline\n\n| at | step | row | outcome | duration |\n|---|---|---|---|---|\n",
    );
    for b in &r.bars {
        m.push_str(&format!(
            "| {} | {} | {} | {}{} | {} |\n",
            secs(b.start_ms),
            b.step,
            b.row,
            word(b.outcome),
            if b.leader_failover {
                " (leader failover)"
            } else {
                ""
            },
            secs(b.duration_ms)
        ));
    }
    m.push_str("\n## Backups\n\n");
    for b in &r.backups {
        m.push_str(&format!("- `{}` sha256 `{}`\n", b.archive, b.sha256));
    }
    m.push_str("\n## Failures\n\n");
    for (s, e) in &r.failures {
        m.push_str(&format!("- {s}: {e}\n"));
    }
    m.push_str("\n## Gates and pauses\n\n");
    for k in &r.marks {
        m.push_str(&format!("- {} at {}: {}\n", k.kind, secs(k.at_ms), k.label));
    }
    m.push_str("\n## Where the time went\n\n");
    for s in &r.summaries {
        for (k, v) in summary_rows(s) {
            m.push_str(&format!("- {k}: {v}\n"));
        }
        m.push('\n');
    }
    m
}
