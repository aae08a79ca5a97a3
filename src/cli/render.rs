//! The two consumers of the event stream: JSON lines on stdout, or human lines on stderr
//! (with progress bars when stderr is a terminal).

use crate::events::{Event, EventSink, Stamped, StepOutcome};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

/// JSON lines on stdout, one object per event.
pub struct JsonSink;

impl EventSink for JsonSink {
    fn emit(&self, e: &Stamped) {
        let mut out = std::io::stdout().lock();
        if let Ok(line) = serde_json::to_string(e) {
            // JSON escapes control characters itself; secrets are redacted here as everywhere.
            let _ = writeln!(out, "{}", crate::secrets::redact(&line));
            let _ = out.flush();
        }
    }
}

/// Human output on stderr.
pub struct HumanSink {
    tty: bool,
    multi: MultiProgress,
    inner: Mutex<HumanState>,
}

struct HumanState {
    overall: Option<ProgressBar>,
    lines: HashMap<String, ProgressBar>,
}

impl Default for HumanSink {
    fn default() -> Self {
        Self::new()
    }
}

impl HumanSink {
    /// A sink that draws bars only when stderr is a terminal.
    pub fn new() -> HumanSink {
        let tty = std::io::stderr().is_terminal();
        let multi = MultiProgress::with_draw_target(if tty {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        HumanSink {
            tty,
            multi,
            inner: Mutex::new(HumanState {
                overall: None,
                lines: HashMap::new(),
            }),
        }
    }

    /// Prints a line above the bars (or plainly without a terminal).
    pub fn line(&self, s: &str) {
        let s = &crate::secrets::for_people(s);
        if self.tty {
            let _ = self.multi.println(s);
        } else {
            eprintln!("{s}");
        }
    }

    /// Hides the bars (before a prompt).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.multi.suspend(f)
    }
}

impl EventSink for HumanSink {
    fn emit(&self, e: &Stamped) {
        let mut st = self.inner.lock().expect("render lock");
        match &e.event {
            Event::RunStarted {
                run,
                cluster,
                to,
                resumed,
                total_steps,
                done_steps,
            } => {
                self.line(&format!(
                    "{} run {run}: cluster {cluster} -> {to} ({done_steps}/{total_steps} steps done)",
                    if *resumed { "Resuming" } else { "Starting" }
                ));
                if self.tty {
                    let pb = self.multi.add(ProgressBar::new(*total_steps as u64));
                    pb.set_style(
                        ProgressStyle::with_template("{bar:40} {pos}/{len} steps {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    pb.set_position(*done_steps as u64);
                    st.overall = Some(pb);
                }
            }
            Event::PhaseStarted { phase } => self.line(&format!("==> {phase}")),
            Event::StepStarted {
                step, description, ..
            } => {
                if self.tty {
                    let pb = self.multi.add(ProgressBar::new_spinner());
                    pb.enable_steady_tick(Duration::from_millis(120));
                    pb.set_message(format!("{step}: {description}"));
                    st.lines.insert(step.clone(), pb);
                } else {
                    self.line(&format!("  -> {step}: {description}"));
                }
            }
            Event::StepProgress { step, message } => {
                // A permanent line for every detail (a backup's path and checksum, a script
                // started, a health result); the spinner shows only what is in progress.
                if let Some(pb) = st.lines.get(step) {
                    pb.set_message(crate::secrets::for_people(&format!("{step}: {message}")));
                }
                self.line(&format!("     {step}: {message}"));
            }
            Event::StepFinished {
                step,
                state,
                message,
                duration_ms,
            } => {
                if let Some(pb) = st.lines.remove(step) {
                    pb.finish_and_clear();
                    self.multi.remove(&pb);
                }
                let (mark, colour) = match state {
                    StepOutcome::Done => ("ok", "32"),
                    StepOutcome::Skipped => ("skip", "2"),
                    StepOutcome::Undone => ("undone", "33"),
                    _ => ("FAILED", "1;31"),
                };
                let mark = if crate::cli::color_enabled() {
                    format!("\x1b[{colour}m{mark}\x1b[0m")
                } else {
                    mark.to_string()
                };
                let mut l = format!("  [{mark}] {step} ({:.1} s)", *duration_ms as f64 / 1000.0);
                if let Some(m) = message {
                    l.push_str(&format!(": {m}"));
                }
                self.line(&l);
                if let Some(o) = &st.overall {
                    o.inc(1);
                }
            }
            Event::Gate {
                gate,
                decision,
                message,
            } => self.line(&format!("  gate {gate}: {decision} ({message})")),
            Event::Warning { message } => self.line(&format!("  note: {message}")),
            Event::RunFinished { message, .. } => {
                if let Some(o) = st.overall.take() {
                    o.finish_and_clear();
                }
                self.line(message);
            }
            Event::Unknown => {}
        }
    }
}
