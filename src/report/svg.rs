//! The timeline as an SVG chart: one row per node (and per phase for steps without a node), a
//! bar per step coloured by outcome, gates and pauses as marked vertical lines, the leader's
//! failover flagged.

use super::Report;
use crate::events::StepOutcome;

/// Escapes text for XML.
pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The colour of an outcome (also used by the legend).
pub(super) fn colour(o: StepOutcome) -> &'static str {
    match o {
        StepOutcome::Done => "#2e9d4f",
        StepOutcome::Skipped => "#9aa5b1",
        StepOutcome::Failed | StepOutcome::UndoFailed => "#d43c3c",
        StepOutcome::Undone => "#e0a030",
        // Drawn for a step a command ended in (interrupted).
        StepOutcome::Unknown => "#7b61b8",
    }
}

/// The word of an outcome on the chart (a step a command ended in reads "interrupted").
pub(super) fn word(o: StepOutcome) -> &'static str {
    if o == StepOutcome::Unknown {
        "interrupted"
    } else {
        o.as_str()
    }
}

/// The chart.
pub fn timeline(r: &Report) -> String {
    let mut rows: Vec<String> = Vec::new();
    for b in &r.bars {
        if !rows.contains(&b.row) {
            rows.push(b.row.clone());
        }
    }
    let (left, row_h, width) = (170.0, 26.0, 760.0);
    let top = 30.0;
    let height = top + row_h * rows.len().max(1) as f64 + 40.0;
    let span = r.span_ms.max(1) as f64;
    let x = |ms: u64| left + (ms as f64 / span) * (width - 10.0);
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" id="timeline" width="{w}" height="{height}" viewBox="0 0 {w} {height}" font-family="sans-serif" font-size="12">
<rect x="0" y="0" width="{w}" height="{height}" fill="#ffffff"/>
<text x="{left}" y="18" font-weight="bold">Timeline of run {run} ({secs:.1} s)</text>
"##,
        w = left + width,
        run = esc(&r.run),
        secs = span / 1000.0
    );
    for (i, row) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        s.push_str(&format!(
            r##"<text class="row-label" x="{lx}" y="{ty}" text-anchor="end">{name}</text>
<line x1="{left}" y1="{ly}" x2="{x2}" y2="{ly}" stroke="#e5e7eb"/>
"##,
            lx = left - 8.0,
            ty = y + 17.0,
            name = esc(row),
            ly = y + row_h,
            x2 = left + width
        ));
    }
    for b in &r.bars {
        let i = rows.iter().position(|r| r == &b.row).unwrap_or(0);
        let y = top + row_h * i as f64 + 4.0;
        let x0 = x(b.start_ms);
        let w = (x(b.start_ms + b.duration_ms) - x0).max(3.0);
        s.push_str(&format!(
            r##"<rect class="bar {outcome}" x="{x0:.1}" y="{y}" width="{w:.1}" height="18" fill="{fill}"{stroke}><title>{title}</title></rect>
"##,
            outcome = word(b.outcome),
            fill = colour(b.outcome),
            stroke = if b.leader_failover { r##" stroke="#111111" stroke-width="2""## } else { "" },
            title = esc(&format!(
                "{} — {} ({:.1} s){}",
                b.step,
                word(b.outcome),
                b.duration_ms as f64 / 1000.0,
                b.message.as_ref().map(|m| format!(": {m}")).unwrap_or_default()
            ))
        ));
        if b.leader_failover {
            s.push_str(&format!(
                r##"<text class="failover" x="{tx:.1}" y="{ty}" font-size="10">leader failover</text>
"##,
                tx = x0 + w + 3.0,
                ty = y + 13.0
            ));
        }
    }
    let bottom = top + row_h * rows.len().max(1) as f64;
    for m in &r.marks {
        let mx = x(m.at_ms);
        let colour = if m.kind == "gate" {
            "#3b6fd4"
        } else {
            "#d4833b"
        };
        s.push_str(&format!(
            r##"<line class="mark {kind}" x1="{mx:.1}" y1="{top}" x2="{mx:.1}" y2="{bottom}" stroke="{colour}" stroke-dasharray="4 3"><title>{label}</title></line>
"##,
            kind = esc(&m.kind),
            label = esc(&m.label)
        ));
    }
    // Legend.
    let ly = bottom + 22.0;
    let mut lx = left;
    for (o, name) in [
        (StepOutcome::Done, "done"),
        (StepOutcome::Skipped, "skipped"),
        (StepOutcome::Failed, "failed"),
        (StepOutcome::Undone, "undone"),
        (StepOutcome::Unknown, "interrupted"),
    ] {
        s.push_str(&format!(
            r##"<rect x="{lx}" y="{ry}" width="12" height="12" fill="{c}"/><text x="{tx}" y="{ly}">{name}</text>
"##,
            ry = ly - 10.0,
            c = colour(o),
            tx = lx + 16.0
        ));
        lx += 90.0;
    }
    s.push_str(&format!(
        r##"<line x1="{lx}" y1="{a}" x2="{lx}" y2="{ly}" stroke="#3b6fd4" stroke-dasharray="4 3"/><text x="{tx}" y="{ly}">gate</text>
<line x1="{lx2}" y1="{a}" x2="{lx2}" y2="{ly}" stroke="#d4833b" stroke-dasharray="4 3"/><text x="{tx2}" y="{ly}">pause</text>
</svg>"##,
        a = ly - 12.0,
        tx = lx + 6.0,
        lx2 = lx + 70.0,
        tx2 = lx + 76.0
    ));
    s
}
