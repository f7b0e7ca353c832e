//! The timeline picture of a run: one self-contained HTML page with an SVG swimlane diagram
//! (docs/debugging.md, "The timeline", says how to read it).
//!
//! One lane per node ([`RunRecord::lanes`]), labelled with its name and final outcome; time flows
//! down ([`scale`]: linear where things happen, long quiet stretches compressed and marked). Every
//! message is drawn from its `sent` entry to what became of it: a slanted arrow to its delivery,
//! coloured by kind ([`kinds`]); a dashed stub cut by a bar when it was lost; an arrow ending in a
//! cross when a rule dropped it; an arrow to the hold and then a dotted wait beside the receiver's
//! lane down to its release. Faults and the harness's other actions are bands across the lanes,
//! protocol milestones labelled marks on their node's lane, the first invariant violation a red
//! band. Every arrow, mark and band carries an SVG `<title>` with its fields (the hover text).
//!
//! The page needs nothing from the network (inline CSS, SVG and script, the system font stack).
//! Messages are grouped by kind (`<g class="kind" data-kind=..>`): the filters show and hide whole
//! groups; Raft traffic and probes start hidden (`display="none"`, so they cost no layout), and
//! `#show=raft,probes` (families or kinds, or `all`) in the page's address shows them on opening.
//! The page's script records on its `<html>` element what it drew (`data-lanes`, `data-arrows`:
//! delivered messages of the shown kinds), that it ran to the end (`data-ready="1"`) and any
//! script error (`data-errors`), for the browser test and for anyone who wonders.
//!
//! Every text taken from the run (node names come from user files) is escaped for HTML; the
//! script reads nothing from the run.

pub mod kinds;
pub mod scale;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use joinsim::{Event, MessageKind, Role};

use crate::record::RunRecord;
use crate::trace::{HarnessEvent, MessageFate, TraceEntry, TraceKind, VerdictRecord};
use kinds::Family;
use scale::TimeScale;

/// Width of one lane, px: room for a mark's label of [`MARK_LABEL_CHARS`] characters.
pub const LANE_WIDTH: f64 = 150.0;
/// Width of the time axis left of the lanes, px.
const AXIS_WIDTH: f64 = 96.0;
/// Width of the column right of the lanes where the bands' labels go, px.
const BAND_LABEL_WIDTH: f64 = 300.0;
/// Space above the first moment of the chart, px.
const CHART_TOP: f64 = 14.0;
/// Space below the last moment, px.
const CHART_BOTTOM: f64 = 24.0;
/// Height of the sticky lane header, px.
const HEAD_HEIGHT: f64 = 40.0;
/// The longest mark label drawn on a lane (characters; the whole text is in its hover text).
pub const MARK_LABEL_CHARS: usize = 24;
/// The longest band label (characters; the whole text is in its hover text).
const BAND_LABEL_CHARS: usize = 48;
/// The longest lane name and outcome in the header (characters).
const HEAD_CHARS: usize = 22;
/// Two labels closer than this (px) would overlap: the later mark on a lane is drawn without
/// its text, a later band label moves down.
const LABEL_SPACING: f64 = 12.0;
/// Vertical spacing of the time axis's labels, px.
const AXIS_LABEL_SPACING: f64 = 28.0;
/// How far a lost message's stub goes towards its receiver (fraction of the way).
const LOST_STUB: f64 = 0.4;
/// The nominal flight time a lost message's stub is drawn with, ms.
const LOST_STUB_MS: f64 = 8.0;

/// The most failure lines (expectations and liveness conditions that did not hold) the page's
/// header lists.
pub const MAX_FAILURE_LINES: usize = 10;

/// The timeline picture of `record` as one self-contained HTML page.
pub fn timeline_html(record: &RunRecord) -> String {
    Timeline::new(record).html()
}

/// One message's life: its `sent` entry and what followed at the receiver, in order.
struct Flight {
    id: u64,
    /// Which copy of a duplicated message (1 or 2), if it was sent twice.
    copy: Option<u8>,
    kind: MessageKind,
    from: String,
    to: String,
    sent_us: u64,
    fates: Vec<(u64, MessageFate)>,
}

/// A labelled mark on a lane.
struct Mark {
    time_us: u64,
    lane: String,
    label: String,
    /// CSS class (`m-joined`, ...): colour and shape.
    class: &'static str,
    title: String,
}

/// A band across the lanes: a fault or another harness action.
struct Band {
    time_us: u64,
    label: String,
    /// CSS class (`b-kill`, ...): colour and stroke.
    class: &'static str,
    title: String,
}

/// The run cut into what the picture draws, and where.
struct Timeline<'a> {
    record: &'a RunRecord,
    lanes: Vec<String>,
    lane_index: BTreeMap<String, usize>,
    flights: Vec<Flight>,
    marks: Vec<Mark>,
    bands: Vec<Band>,
    /// Partitions in force: (from, until) µs, with the cut links as text.
    cuts: Vec<(u64, u64, String)>,
    /// Per lane, the stretches it was down (or not yet started): (from, until) µs.
    down: Vec<Vec<(u64, u64)>>,
    violation: Option<(u64, &'a VerdictRecord)>,
    end_us: u64,
    scale: TimeScale,
}

impl<'a> Timeline<'a> {
    fn new(record: &'a RunRecord) -> Timeline<'a> {
        let lanes = record.lanes();
        let lane_index: BTreeMap<String, usize> = lanes
            .iter()
            .enumerate()
            .map(|(i, l)| (l.clone(), i))
            .collect();
        let end_us = record
            .entries
            .last()
            .map_or(0, |e| e.time_us)
            .max(record.sim_time_ms.saturating_mul(1000));
        let flights = flights(&record.entries);
        let marks = marks(&record.entries);
        let (bands, cuts) = bands(&record.entries, end_us);
        let down = down_stretches(record, &lanes, &lane_index, end_us);
        let violation = record.first_violation().and_then(|e| match &e.kind {
            TraceKind::Verdict(v) => Some((e.time_us, v)),
            _ => None,
        });
        let mut keys = BTreeSet::new();
        for f in flights.iter().filter(|f| kinds::shown_by_default(f.kind)) {
            keys.insert(f.sent_us);
            keys.extend(f.fates.iter().map(|(t, _)| *t));
        }
        keys.extend(marks.iter().map(|m| m.time_us));
        keys.extend(bands.iter().map(|b| b.time_us));
        keys.extend(violation.map(|(t, _)| t));
        let scale = TimeScale::new(&keys, end_us, CHART_TOP);
        Timeline {
            record,
            lanes,
            lane_index,
            flights,
            marks,
            bands,
            cuts,
            down,
            violation,
            end_us,
            scale,
        }
    }

    fn lane_x(&self, lane: &str) -> f64 {
        lane_x(self.lane_index.get(lane).copied().unwrap_or(0))
    }

    fn lanes_right(&self) -> f64 {
        AXIS_WIDTH + self.lanes.len() as f64 * LANE_WIDTH
    }

    fn width(&self) -> f64 {
        self.lanes_right() + BAND_LABEL_WIDTH
    }

    fn html(&self) -> String {
        let r = self.record;
        let mut out = String::with_capacity(64 * 1024 + self.flights.len() * 160);
        let title = format!("joinsim timeline: {} seed {}", r.scenario, r.seed);
        out.push_str("<!DOCTYPE html>\n<html lang=\"en\" data-ready=\"0\" data-errors=\"\">\n<head>\n<meta charset=\"utf-8\">\n");
        let _ = writeln!(out, "<title>{}</title>", esc(&title));
        out.push_str(ERROR_SCRIPT);
        out.push_str(STYLE);
        out.push_str("</head>\n<body>\n<header>\n");
        let _ = writeln!(out, "<h1>{}</h1>", esc(&title));
        self.summary(&mut out);
        self.filters(&mut out);
        out.push_str(LEGEND);
        out.push_str("</header>\n");
        self.head(&mut out);
        self.chart(&mut out);
        out.push_str(SCRIPT);
        out.push_str("</body>\n</html>\n");
        out
    }

    /// The run's identity, its verdict and the replay command.
    fn summary(&self, out: &mut String) {
        let r = self.record;
        let replay = if r.file.is_empty() {
            format!("joinsim demo --seed {}", r.seed)
        } else {
            format!("joinsim run {} --seed {}", r.file, r.seed)
        };
        let delivered: usize = self
            .flights
            .iter()
            .filter(|f| f.fates.iter().any(|(_, fate)| fate.is_delivery()))
            .count();
        let _ = writeln!(
            out,
            "<p class=\"meta\">{} · seed {} · trace hash {} · {} of simulated time · {} nodes · {} messages ({} delivered) · <code>{}</code></p>",
            esc(if r.file.is_empty() { &r.scenario } else { &r.file }),
            r.seed,
            esc(&r.trace_hash),
            fmt_time(self.end_us),
            r.nodes.len(),
            self.flights.len(),
            delivered,
            esc(&replay)
        );
        match self.violation {
            Some((t, v)) => {
                let _ = writeln!(
                    out,
                    "<p class=\"verdict bad\">First invariant violation at {}: <b>{}</b> ({}): {} · <a href=\"#violation\">show it</a></p>",
                    fmt_time(t),
                    esc(&v.invariant),
                    esc(&v.nodes.join(", ")),
                    esc(&v.detail)
                );
            }
            None if r.passed => out.push_str("<p class=\"verdict ok\">The run passed.</p>\n"),
            None if r.failures.is_empty() => out.push_str(
                "<p class=\"verdict bad\">The run failed (no invariant broke: see the report of <code>joinsim run</code> for the expectation or liveness condition that did not hold).</p>\n",
            ),
            None => {}
        }
        // What did not hold, as the report says it (at most MAX_FAILURE_LINES lines).
        if !r.failures.is_empty() {
            out.push_str("<ul class=\"verdict bad\">\n");
            for failure in r.failures.iter().take(MAX_FAILURE_LINES) {
                let _ = writeln!(out, "<li>{}</li>", esc(failure));
            }
            if r.failures.len() > MAX_FAILURE_LINES {
                let _ = writeln!(
                    out,
                    "<li>… and {} more (see <code>joinsim run</code>)</li>",
                    r.failures.len() - MAX_FAILURE_LINES
                );
            }
            out.push_str("</ul>\n");
        }
    }

    /// The kind filters: one row per family present, one box per kind present.
    fn filters(&self, out: &mut String) {
        let mut counts: BTreeMap<MessageKind, usize> = BTreeMap::new();
        for f in &self.flights {
            *counts.entry(f.kind).or_default() += 1;
        }
        out.push_str("<form id=\"filters\" autocomplete=\"off\">\n");
        for family in Family::ALL {
            let present: Vec<(&MessageKind, &usize)> = counts
                .iter()
                .filter(|(k, _)| kinds::family(**k) == family)
                .collect();
            if present.is_empty() {
                continue;
            }
            let checked = if family.shown_by_default() {
                " checked"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "<div class=\"fam\"><label class=\"fam-toggle\"><input type=\"checkbox\" data-family-toggle=\"{}\"{checked}> {}</label>",
                family.id(),
                esc(family.label())
            );
            for (kind, n) in present {
                let (_, colour) = kinds::style(*kind);
                let _ = writeln!(
                    out,
                    "<label><input type=\"checkbox\" data-kind=\"{}\" data-family=\"{}\"{checked}><span class=\"sw\" style=\"background:{colour}\"></span>{} <small>{n}</small></label>",
                    kind.name(),
                    family.id(),
                    kind.name()
                );
            }
            out.push_str("</div>\n");
        }
        out.push_str("</form>\n");
    }

    /// The sticky header: each lane's name and final outcome.
    fn head(&self, out: &mut String) {
        let violated: BTreeSet<&str> = self
            .violation
            .map(|(_, v)| v.nodes.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "<div id=\"head\"><svg width=\"{:.0}\" height=\"{HEAD_HEIGHT:.0}\" xmlns=\"http://www.w3.org/2000/svg\">",
            self.width()
        );
        for (i, lane) in self.lanes.iter().enumerate() {
            let outcome = match self.record.nodes.get(lane) {
                Some(o) => o.as_str(),
                None if lane == "user" => "the simulated user",
                None => "not a node of the run",
            };
            let class = outcome_class(outcome);
            let hit = if violated.contains(lane.as_str()) {
                " hit"
            } else {
                ""
            };
            let x = lane_x(i);
            let _ = writeln!(
                out,
                "<g class=\"lane-head {class}{hit}\"><title>{}: {}</title><text class=\"name\" x=\"{x:.1}\" y=\"16\">{}</text><text class=\"outcome\" x=\"{x:.1}\" y=\"32\">{}</text></g>",
                esc(lane),
                esc(outcome),
                esc(&trunc(lane, HEAD_CHARS)),
                esc(&trunc(outcome, HEAD_CHARS))
            );
        }
        out.push_str("</svg></div>\n");
    }

    fn chart(&self, out: &mut String) {
        let height = self.scale.bottom() + CHART_BOTTOM;
        let _ = writeln!(
            out,
            "<div id=\"chart\"><svg id=\"timeline\" width=\"{:.0}\" height=\"{height:.0}\" xmlns=\"http://www.w3.org/2000/svg\">",
            self.width()
        );
        self.defs(out);
        self.gaps_and_axis(out);
        self.partitions(out);
        self.lane_lines(out);
        self.band_lines(out);
        self.messages(out);
        self.mark_shapes(out);
        self.violation_band(out);
        out.push_str("</svg></div>\n");
    }

    /// One arrowhead per kind present (its colour), and the hatch of compressed gaps.
    fn defs(&self, out: &mut String) {
        out.push_str("<defs><pattern id=\"hatch\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"8\" stroke=\"#e4e4e4\" stroke-width=\"3\"/></pattern>\n");
        let present: BTreeSet<MessageKind> = self.flights.iter().map(|f| f.kind).collect();
        for kind in present {
            let (_, colour) = kinds::style(kind);
            let _ = writeln!(
                out,
                "<marker id=\"h-{}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0 0L10 5L0 10z\" fill=\"{colour}\"/></marker>",
                kind.name()
            );
        }
        out.push_str("</defs>\n");
    }

    /// Compressed quiet gaps (hatched, with their length) and the time axis.
    fn gaps_and_axis(&self, out: &mut String) {
        let width = self.width();
        out.push_str("<g class=\"axis\">\n");
        for gap in self.scale.gaps() {
            let h = gap.y1 - gap.y0;
            if h < 6.0 {
                continue;
            }
            let _ = write!(
                out,
                "<g class=\"gap\"><title>quiet for {} (from {} to {}): compressed</title><rect x=\"0\" y=\"{:.1}\" width=\"{width:.0}\" height=\"{h:.1}\"/>",
                fmt_span(gap.end_us - gap.start_us),
                fmt_time(gap.start_us),
                fmt_time(gap.end_us),
                gap.y0
            );
            if h >= 14.0 {
                let _ = write!(
                    out,
                    "<text x=\"{:.0}\" y=\"{:.1}\">≈ {} quiet</text>",
                    AXIS_WIDTH - 6.0,
                    gap.y0 + h / 2.0 + 3.0,
                    fmt_span(gap.end_us - gap.start_us)
                );
            }
            out.push_str("</g>\n");
        }
        let mut last = f64::NEG_INFINITY;
        let in_gap = |y: f64| {
            self.scale
                .gaps()
                .iter()
                .any(|g| y > g.y0 - LABEL_SPACING && y < g.y1 + LABEL_SPACING)
        };
        for &(t, y) in self.scale.knots() {
            if y - last < AXIS_LABEL_SPACING || (in_gap(y) && t != 0) {
                continue;
            }
            last = y;
            let _ = writeln!(
                out,
                "<line class=\"grid\" x1=\"{AXIS_WIDTH:.0}\" x2=\"{:.0}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text x=\"{:.0}\" y=\"{:.1}\">{}</text>",
                self.lanes_right(),
                AXIS_WIDTH - 6.0,
                y + 3.0,
                fmt_time(t)
            );
        }
        let _ = writeln!(
            out,
            "<text x=\"{:.0}\" y=\"{:.1}\">end {}</text>",
            AXIS_WIDTH - 6.0,
            self.scale.bottom() + 14.0,
            fmt_time(self.end_us)
        );
        out.push_str("</g>\n");
    }

    /// Partitions in force, shaded from the cut to the heal.
    fn partitions(&self, out: &mut String) {
        for (from, until, links) in &self.cuts {
            let (y0, y1) = (self.scale.y(*from), self.scale.y(*until));
            let _ = writeln!(
                out,
                "<rect class=\"cut\" x=\"{AXIS_WIDTH:.0}\" y=\"{y0:.1}\" width=\"{:.0}\" height=\"{:.1}\"><title>partition in force from {} to {}: {}</title></rect>",
                self.lanes_right() - AXIS_WIDTH,
                (y1 - y0).max(1.0),
                fmt_time(*from),
                fmt_time(*until),
                esc(links)
            );
        }
    }

    /// Each lane's line: solid while the node runs, dotted while it is down or not started.
    fn lane_lines(&self, out: &mut String) {
        let (top, bottom) = (self.scale.y(0), self.scale.bottom());
        for (i, lane) in self.lanes.iter().enumerate() {
            let x = lane_x(i);
            let _ = write!(out, "<g class=\"lane\" data-lane=\"{}\">", esc(lane));
            let mut y = top;
            for &(from, until) in &self.down[i] {
                let (y0, y1) = (self.scale.y(from), self.scale.y(until));
                if y0 > y {
                    let _ = write!(
                        out,
                        "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{y:.1}\" y2=\"{y0:.1}\"/>"
                    );
                }
                let _ = write!(
                    out,
                    "<line class=\"down\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{y0:.1}\" y2=\"{y1:.1}\"/>"
                );
                y = y1;
            }
            if bottom > y {
                let _ = write!(
                    out,
                    "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{y:.1}\" y2=\"{bottom:.1}\"/>"
                );
            }
            out.push_str("</g>\n");
        }
    }

    /// Faults and other harness actions: a line across the lanes, its label in the right
    /// column (moved down, with a leader, when labels would overlap). Network changes and rules
    /// are drawn first, so that a fault at the same moment shows its own colour.
    fn band_lines(&self, out: &mut String) {
        let right = self.lanes_right();
        let mut last_label = f64::NEG_INFINITY;
        let placed: Vec<(&Band, f64, f64)> = self
            .bands
            .iter()
            .map(|band| {
                let y = self.scale.y(band.time_us);
                let ly = y.max(last_label + LABEL_SPACING);
                last_label = ly;
                (band, y, ly)
            })
            .collect();
        let minor = |b: &Band| matches!(b.class, "b-rule" | "b-network");
        out.push_str("<g class=\"bands\">\n");
        for first in [true, false] {
            for &(band, y, ly) in placed.iter().filter(|(b, _, _)| minor(b) == first) {
                let _ = write!(
                    out,
                    "<g class=\"band {}\"><title>{} {}</title><line x1=\"{AXIS_WIDTH:.0}\" x2=\"{right:.0}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>",
                    band.class,
                    fmt_time(band.time_us),
                    esc(&band.title)
                );
                if ly > y + 0.5 {
                    let _ = write!(
                        out,
                        "<path class=\"leader\" d=\"M{right:.0} {y:.1}L{:.0} {:.1}\"/>",
                        right + 8.0,
                        ly - 3.0
                    );
                }
                let _ = writeln!(
                    out,
                    "<text x=\"{:.0}\" y=\"{:.1}\">{}</text></g>",
                    right + 10.0,
                    ly,
                    esc(&trunc(&band.label, BAND_LABEL_CHARS))
                );
            }
        }
        out.push_str("</g>\n");
    }

    /// Every message, one group per kind (hidden when its family is not shown by default).
    fn messages(&self, out: &mut String) {
        let mut by_kind: BTreeMap<(Family, MessageKind), Vec<&Flight>> = BTreeMap::new();
        for f in &self.flights {
            by_kind
                .entry((kinds::family(f.kind), f.kind))
                .or_default()
                .push(f);
        }
        for ((family, kind), flights) in by_kind {
            let (_, colour) = kinds::style(kind);
            let hidden = if family.shown_by_default() {
                ""
            } else {
                " display=\"none\""
            };
            let _ = writeln!(
                out,
                "<g class=\"kind\" data-kind=\"{name}\" data-family=\"{}\" stroke=\"{colour}\" fill=\"none\" marker-end=\"url(#h-{name})\"{hidden}>",
                family.id(),
                name = kind.name()
            );
            for f in flights {
                self.flight(out, f);
            }
            out.push_str("</g>\n");
        }
    }

    /// One message: its arrow (class `a`: `d` when it was delivered, `c` when it was cut short,
    /// `held` when it reached a hold and went no further), and for a held message the wait beside
    /// the receiver's lane (class `w`): down to its release (an arrowhead), its drop (a cross),
    /// the receiver's stop (a bar: held messages are lost with it) or the end of the run (open).
    fn flight(&self, out: &mut String, f: &Flight) {
        let (x1, y1) = (self.lane_x(&f.from), self.scale.y(f.sent_us));
        let x2 = self.lane_x(&f.to);
        let receiver = self.lane_index.get(&f.to).copied();
        let delivered = f.fates.iter().any(|(_, fate)| fate.is_delivery());
        let bar = |x: f64, y: f64| format!("M{:.1} {:.1}l12 0", x - 6.0, y);
        let Some(&(t_arrival, arrival)) = f.fates.first() else {
            // Lost: a dashed stub towards the receiver, cut by a bar.
            let down = receiver.is_some_and(|i| self.is_down(i, f.sent_us));
            let title = flight_title(
                f,
                if down {
                    "lost: the receiver was down"
                } else {
                    "lost: never arrived (network loss, a cut link, or the receiver down)"
                },
            );
            let ex = if x1 == x2 {
                x1 + 12.0
            } else {
                x1 + (x2 - x1) * LOST_STUB
            };
            let ey = y1 + LOST_STUB * LOST_STUB_MS * self.scale.px_per_ms();
            let _ = writeln!(
                out,
                "<path class=\"a c lost\" d=\"M{x1:.1} {y1:.1}L{ex:.1} {ey:.1}M{ex:.1} {:.1}L{ex:.1} {:.1}\"><title>{title}</title></path>",
                ey - 6.0,
                ey + 6.0
            );
            return;
        };
        let y2 = self.scale.y(t_arrival);
        let line = if x1 == x2 {
            // To itself: a loop out to the right.
            format!(
                "M{x1:.1} {y1:.1}C{:.1} {y1:.1} {:.1} {y2:.1} {x1:.1} {y2:.1}",
                x1 + 30.0,
                x1 + 30.0
            )
        } else {
            format!("M{x1:.1} {y1:.1}L{x2:.1} {y2:.1}")
        };
        let cross = |x: f64, y: f64| format!("M{:.1} {:.1}l8 8m0 -8l-8 8", x - 4.0, y - 4.0);
        match arrival {
            MessageFate::Held => {
                let end = f.fates.get(1).copied();
                // Still held at its last entry: lost when the receiver stopped, if it did.
                let stopped = match (end, receiver) {
                    (None, Some(i)) => self.down[i]
                        .iter()
                        .map(|&(from, _)| from)
                        .find(|&from| from >= t_arrival),
                    _ => None,
                };
                let note = match (end, stopped) {
                    (None, Some(t)) => {
                        format!("lost with its receiver, stopped at {}", fmt_time(t))
                    }
                    (None, None) => "still held when the run ended".to_string(),
                    _ => String::new(),
                };
                let title = flight_title(f, &note);
                let class = if delivered { "a d" } else { "a held" };
                let _ = writeln!(
                    out,
                    "<path class=\"{class}\" d=\"{line}\"><title>{title}</title></path>"
                );
                let wx = x2 + 5.0;
                let y_end = match (end, stopped) {
                    (Some((t, _)), _) | (None, Some(t)) => self.scale.y(t),
                    (None, None) => self.scale.bottom(),
                };
                let (class, tail) = match (end, stopped) {
                    (Some((_, fate)), _) if fate.is_delivery() => ("w", String::new()),
                    (Some(_), _) => ("w c", cross(wx, y_end)),
                    (None, Some(_)) => ("w c", bar(wx, y_end)),
                    (None, None) => ("w c open", String::new()),
                };
                let _ = writeln!(
                    out,
                    "<path class=\"{class}\" d=\"M{wx:.1} {y2:.1}L{wx:.1} {y_end:.1}{tail}\"><title>{title}</title></path>"
                );
            }
            MessageFate::Dropped => {
                let _ = writeln!(
                    out,
                    "<path class=\"a c dropped\" d=\"{line}{}\"><title>{}</title></path>",
                    cross(x2, y2),
                    flight_title(f, "")
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "<path class=\"a d\" d=\"{line}\"><title>{}</title></path>",
                    flight_title(f, "")
                );
            }
        }
    }

    /// True when lane `i`'s node was down (or not started) at `t_us`.
    fn is_down(&self, i: usize, t_us: u64) -> bool {
        self.down[i]
            .iter()
            .any(|&(from, until)| from <= t_us && t_us < until)
    }

    /// Protocol milestones and the user's requests: a shape on the lane, a label beside it
    /// unless it would overlap the lane's previous label.
    fn mark_shapes(&self, out: &mut String) {
        let mut last_label: BTreeMap<&str, f64> = BTreeMap::new();
        out.push_str("<g class=\"marks\">\n");
        for m in &self.marks {
            if !self.lane_index.contains_key(&m.lane) {
                continue;
            }
            let (x, y) = (self.lane_x(&m.lane), self.scale.y(m.time_us));
            let shape = match m.class {
                "m-leader" => format!("<path d=\"M{x:.1} {:.1}l5 5l-5 5l-5 -5z\"/>", y - 5.0),
                "m-rejected" => format!(
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"9\" height=\"9\"/>",
                    x - 4.5,
                    y - 4.5
                ),
                "m-joined" => format!("<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"5.5\"/>"),
                _ => format!("<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\"/>"),
            };
            let _ = write!(
                out,
                "<g class=\"mark {}\"><title>{} {}: {}</title>{shape}",
                m.class,
                fmt_time(m.time_us),
                esc(&m.lane),
                esc(&m.title)
            );
            let last = last_label
                .entry(m.lane.as_str())
                .or_insert(f64::NEG_INFINITY);
            if y - *last >= LABEL_SPACING {
                *last = y;
                let _ = write!(
                    out,
                    "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                    x + 8.0,
                    y + 3.5,
                    esc(&trunc(&m.label, MARK_LABEL_CHARS))
                );
            }
            out.push_str("</g>\n");
        }
        out.push_str("</g>\n");
    }

    /// The first invariant violation: a red band across the lanes (the time axis keeps its
    /// label), a ring on each lane it concerns.
    fn violation_band(&self, out: &mut String) {
        let Some((t, v)) = self.violation else {
            return;
        };
        let y = self.scale.y(t);
        let right = self.lanes_right();
        let _ = write!(
            out,
            "<g id=\"violation\" class=\"violation\"><title>{} first invariant violation: {} ({}): {}</title><rect x=\"{AXIS_WIDTH:.0}\" y=\"{:.1}\" width=\"{:.0}\" height=\"5\"/>",
            fmt_time(t),
            esc(&v.invariant),
            esc(&v.nodes.join(", ")),
            esc(&v.detail),
            y - 2.5,
            self.width() - AXIS_WIDTH
        );
        for node in &v.nodes {
            if self.lane_index.contains_key(node) {
                let _ = write!(
                    out,
                    "<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"9\"/>",
                    self.lane_x(node)
                );
            }
        }
        let _ = writeln!(
            out,
            "<text x=\"{:.0}\" y=\"{:.1}\">✖ {}</text></g>",
            right + 10.0,
            y - 6.0,
            esc(&trunc(&v.invariant, BAND_LABEL_CHARS))
        );
    }
}

/// The x of lane `i`'s line, px.
fn lane_x(i: usize) -> f64 {
    AXIS_WIDTH + i as f64 * LANE_WIDTH + LANE_WIDTH / 2.0
}

/// Every message with a `sent` entry, in id order, with what followed it. An entry of an id
/// whose `sent` was not kept (a trace cut at [`crate::trace::MAX_TRACE_ENTRIES`]) is left out.
///
/// A message a `duplicate` rule sent twice (its `duplicated` entry) is two flights, one a copy,
/// each drawn as its own arrow: an arrival (`delivered`, `held`, or `dropped` with no copy held)
/// begins the next copy's life, a `released` (or a `dropped` at release) ends the held one's. A
/// copy that never arrives is drawn lost.
fn flights(entries: &[TraceEntry]) -> Vec<Flight> {
    let mut by_id: BTreeMap<u64, Vec<Flight>> = BTreeMap::new();
    for e in entries {
        let TraceKind::Message(m) = &e.kind else {
            continue;
        };
        if m.fate == MessageFate::Sent {
            by_id.insert(
                m.id,
                vec![Flight {
                    id: m.id,
                    copy: None,
                    kind: m.kind,
                    from: m.from.clone(),
                    to: m.to.clone(),
                    sent_us: e.time_us,
                    fates: Vec::new(),
                }],
            );
            continue;
        }
        let Some(copies) = by_id.get_mut(&m.id) else {
            continue;
        };
        if m.fate == MessageFate::Duplicated {
            if copies.len() == 1 && copies[0].fates.is_empty() {
                copies[0].copy = Some(1);
                let second = Flight {
                    copy: Some(2),
                    fates: Vec::new(),
                    from: copies[0].from.clone(),
                    to: copies[0].to.clone(),
                    ..copies[0]
                };
                copies.push(second);
            }
            continue;
        }
        if copies.len() == 1 {
            copies[0].fates.push((e.time_us, m.fate));
            continue;
        }
        // A duplicated message: which copy's life this entry is part of.
        let held = |f: &Flight| f.fates.last().is_some_and(|(_, x)| *x == MessageFate::Held);
        let ends_a_hold = matches!(m.fate, MessageFate::Released | MessageFate::Dropped);
        let target = if ends_a_hold && copies.iter().any(held) {
            copies.iter().position(held)
        } else {
            copies
                .iter()
                .position(|f| f.fates.is_empty())
                .or(Some(copies.len() - 1))
        };
        if let Some(i) = target {
            copies[i].fates.push((e.time_us, m.fate));
        }
    }
    by_id.into_values().flatten().collect()
}

/// The hover text of a message, HTML-escaped: its id, kind, ends, each moment of its life, and
/// `note` (what became of it, when its entries do not say).
fn flight_title(f: &Flight, note: &str) -> String {
    let copy = f
        .copy
        .map(|c| format!(" (copy {c} of 2: duplicated)"))
        .unwrap_or_default();
    let mut t = format!(
        "#{}{copy} {}: {} → {}\nsent {}",
        f.id,
        f.kind.name(),
        esc(&f.from),
        esc(&f.to),
        fmt_time(f.sent_us)
    );
    for (time, fate) in &f.fates {
        let _ = write!(t, "\n{} {}", fate.name(), fmt_time(*time));
    }
    if !note.is_empty() {
        let _ = write!(t, "\n{}", esc(note));
    }
    t
}

/// The protocol milestones and the user's requests and answers, in trace order. A CMG decision
/// about a node (validated, rejected) is marked on that node's lane once, when the first replica
/// applied it.
fn marks(entries: &[TraceEntry]) -> Vec<Mark> {
    let mut decided = BTreeSet::new();
    let mut out = Vec::new();
    for e in entries {
        let mark = |lane: &str, label: String, class: &'static str, title: String| Mark {
            time_us: e.time_us,
            lane: lane.to_string(),
            label,
            class,
            title,
        };
        let here = |label: &str, class: &'static str| {
            let title = match &e.kind {
                TraceKind::Protocol(ev) => format!("{ev:?}"),
                TraceKind::Harness(h) => format!("{h:?}"),
                _ => String::new(),
            };
            mark(&e.node, label.to_string(), class, title)
        };
        let found = match &e.kind {
            TraceKind::Protocol(ev) => match ev {
                Event::EnteredTopology { .. } => Some(here("in topology", "m-topology")),
                Event::Validated { node, launch, .. }
                    if decided.insert(("validated", node.clone(), *launch)) =>
                {
                    Some(mark(
                        node,
                        "validated".into(),
                        "m-validated",
                        format!("validated by the CMG (first applied at {}): {ev:?}", e.node),
                    ))
                }
                Event::JoinRejected {
                    node,
                    launch,
                    reason,
                    ..
                } if decided.insert(("rejected", node.clone(), *launch)) => Some(mark(
                    node,
                    format!("rejected: {}", reason.kind()),
                    "m-rejected",
                    format!("rejected by the CMG (first applied at {}): {ev:?}", e.node),
                )),
                Event::Halted { rejection } => Some(here(
                    &format!("halted: {}", rejection.reason.kind()),
                    "m-rejected",
                )),
                Event::JoinReadySent { .. } => Some(here("join ready", "m-ready")),
                Event::Joined { lt_version } => {
                    Some(here(&format!("joined (LT v{lt_version})"), "m-joined"))
                }
                Event::RoleChanged {
                    group,
                    role: Role::Leader,
                    term,
                    ..
                } => Some(here(
                    &format!("{} leader, term {term}", group.to_string().to_uppercase()),
                    "m-leader",
                )),
                Event::InitStarted { .. } => Some(here("init started", "m-init")),
                Event::InitAnswered { result, .. } => Some(here(
                    &match result {
                        Ok(_) => "init answered: ok".to_string(),
                        Err(err) => format!("init answered: {}", err.kind()),
                    },
                    "m-init",
                )),
                Event::InitCancelled { .. } => Some(here("init cancelled", "m-init")),
                _ => None,
            },
            TraceKind::Harness(HarnessEvent::UserRequest { request, .. }) => {
                Some(here(&format!("request #{request}"), "m-user"))
            }
            TraceKind::Harness(HarnessEvent::UserAnswer { request, .. }) => {
                Some(here(&format!("answer #{request}"), "m-user"))
            }
            _ => None,
        };
        out.extend(found);
    }
    out
}

/// The faults and other harness actions as bands (a node's first start at time 0 is not one),
/// and the partitions in force: (cut, healed or the run's end, links).
fn bands(entries: &[TraceEntry], end_us: u64) -> (Vec<Band>, Vec<(u64, u64, String)>) {
    let mut out = Vec::new();
    let mut cuts = Vec::new();
    let mut cut_since: Option<(u64, Vec<String>)> = None;
    let mut started = BTreeSet::new();
    for e in entries {
        let TraceKind::Harness(h) = &e.kind else {
            continue;
        };
        let node = e.node.as_str();
        let (label, class) = match h {
            HarnessEvent::NodeStarted => {
                let again = !started.insert(node.to_string());
                if e.time_us == 0 && !again {
                    continue;
                }
                let verb = if again { "restart" } else { "start" };
                (format!("{verb} {node}"), "b-start")
            }
            HarnessEvent::NodeKilled => (format!("kill {node}"), "b-kill"),
            HarnessEvent::VaultWiped => (format!("wipe {node}"), "b-wipe"),
            HarnessEvent::StartFailed { detail } => {
                (format!("{node} failed to start: {detail}"), "b-kill")
            }
            HarnessEvent::Partitioned { links } => {
                let text: Vec<String> = links.iter().map(|(a, b)| format!("{a}↛{b}")).collect();
                let since = cut_since.get_or_insert((e.time_us, Vec::new()));
                since.1.extend(text.iter().cloned());
                (format!("partition: {}", text.join(" ")), "b-partition")
            }
            HarnessEvent::Healed => {
                if let Some((from, links)) = cut_since.take() {
                    cuts.push((from, e.time_us, links.join(" ")));
                }
                ("heal".to_string(), "b-heal")
            }
            HarnessEvent::NetworkChanged {
                latency_min_ms,
                latency_max_ms,
                loss_ppm,
            } => (
                format!(
                    "network: latency {latency_min_ms}–{latency_max_ms} ms, loss {}%",
                    *loss_ppm as f64 / 10_000.0
                ),
                "b-network",
            ),
            HarnessEvent::RuleAdded { rule, description } => {
                (format!("rule {rule}: {description}"), "b-rule")
            }
            HarnessEvent::RuleRemoved { rule } => (format!("rule {rule} ended"), "b-rule"),
            HarnessEvent::LinkChanged {
                from,
                to,
                latency_min_ms,
                latency_max_ms,
                loss_ppm,
            } => (
                format!(
                    "link {from}→{to}: latency {latency_min_ms}–{latency_max_ms} ms, loss {}%",
                    *loss_ppm as f64 / 10_000.0
                ),
                "b-network",
            ),
            HarnessEvent::LinksCleared => ("links back to default".to_string(), "b-network"),
            HarnessEvent::Paused { for_ms } => (format!("pause {node} for {for_ms} ms"), "b-kill"),
            HarnessEvent::Resumed => (format!("{node} resumes"), "b-start"),
            HarnessEvent::Left => (format!("{node} leaves gracefully"), "b-kill"),
            HarnessEvent::AddressChanged { from, to } => {
                (format!("move {node}: {from} → {to}"), "b-start")
            }
            HarnessEvent::StorageFault { fault, detail } => (
                format!("storage fault {fault} on {node}: {detail}"),
                "b-kill",
            ),
            HarnessEvent::VaultRecordRefused { detail } => (
                format!("{node} refused its vault's last record: {detail}"),
                "b-wipe",
            ),
            HarnessEvent::ClockAdjusted { skew_ms, drift_ppm } => (
                format!("clock of {node}: +{skew_ms} ms, drift {drift_ppm} ppm"),
                "b-network",
            ),
            HarnessEvent::StepSkipped { step, reason } => {
                (format!("step {step} skipped: {reason}"), "b-rule")
            }
            HarnessEvent::UserRequest { .. } | HarnessEvent::UserAnswer { .. } => continue,
        };
        out.push(Band {
            time_us: e.time_us,
            title: label.clone(),
            label,
            class,
        });
    }
    if let Some((from, links)) = cut_since {
        cuts.push((from, end_us, links.join(" ")));
    }
    (out, cuts)
}

/// For each lane, the stretches its node was not running: before its first start, and from a
/// kill, wipe or failed start to the next start (or the end). Lanes of names the harness never
/// started (the user, an address) are never down.
fn down_stretches(
    record: &RunRecord,
    lanes: &[String],
    lane_index: &BTreeMap<String, usize>,
    end_us: u64,
) -> Vec<Vec<(u64, u64)>> {
    let mut down_since: Vec<Option<u64>> = lanes
        .iter()
        .map(|l| record.nodes.contains_key(l).then_some(0))
        .collect();
    let mut out = vec![Vec::new(); lanes.len()];
    for e in &record.entries {
        let TraceKind::Harness(h) = &e.kind else {
            continue;
        };
        let Some(&i) = lane_index.get(&e.node) else {
            continue;
        };
        match h {
            HarnessEvent::NodeStarted => {
                if let Some(since) = down_since[i].take() {
                    if e.time_us > since {
                        out[i].push((since, e.time_us));
                    }
                }
            }
            HarnessEvent::NodeKilled
            | HarnessEvent::VaultWiped
            | HarnessEvent::StartFailed { .. } => {
                down_since[i].get_or_insert(e.time_us);
            }
            _ => {}
        }
    }
    for (i, since) in down_since.into_iter().enumerate() {
        if let Some(since) = since {
            out[i].push((since, end_us));
        }
    }
    out
}

/// The CSS class of a lane's outcome (its colour in the header).
fn outcome_class(outcome: &str) -> &'static str {
    if outcome.starts_with("joined") {
        "o-joined"
    } else if outcome.starts_with("rejected") {
        "o-rejected"
    } else if outcome.starts_with("down") {
        "o-down"
    } else {
        "o-other"
    }
}

/// `s` with HTML's special characters escaped, safe in text and in a quoted attribute.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `s`, with `…` when cut.
fn trunc(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// A simulated time: `1234.567 ms`.
fn fmt_time(us: u64) -> String {
    format!("{}.{:03} ms", us / 1000, us % 1000)
}

/// A duration, rounded: `978 ms`, `12.3 s`.
fn fmt_span(us: u64) -> String {
    if us >= 10_000_000 {
        format!("{:.1} s", us as f64 / 1e6)
    } else {
        format!("{} ms", (us + 500) / 1000)
    }
}

/// Records script errors on `<html data-errors>`: the first script, so it sees the others'.
const ERROR_SCRIPT: &str = r#"<script>
window.onerror = function (message, source, line) {
  var root = document.documentElement;
  root.setAttribute('data-errors', root.getAttribute('data-errors') + message + ' (line ' + line + ')\n');
};
</script>
"#;

/// The page's style: system fonts, the colours of marks, bands and outcomes.
const STYLE: &str = r#"<style>
:root { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #222; background: #fff; }
body { margin: 0; }
header { padding: 8px 12px 6px; }
h1 { font-size: 16px; margin: 0 0 2px; }
p { margin: 2px 0; font-size: 12px; }
.meta { color: #555; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 11px; }
.verdict.ok { color: #2a7d2a; }
.verdict.bad { color: #c0161b; }
#filters { display: flex; flex-wrap: wrap; gap: 3px 8px; margin: 4px 0; font-size: 11px; }
#filters .fam { border: 1px solid #ddd; border-radius: 4px; padding: 1px 6px; }
#filters .fam-toggle { font-weight: 600; }
#filters label { margin-right: 6px; white-space: nowrap; }
#filters input { margin: 0 2px 0 0; vertical-align: -2px; }
#filters small { color: #888; }
.sw { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 3px 0 1px; vertical-align: -1px; }
.legend { font-size: 11px; color: #444; }
.legend svg { vertical-align: -3px; }
#head { position: sticky; top: 0; z-index: 1; background: rgba(255,255,255,0.96); border-bottom: 1px solid #ccc; }
svg text { font-size: 10px; fill: #333; }
.lane-head text { text-anchor: middle; }
.lane-head .name { font-size: 12px; font-weight: 600; }
.o-joined .outcome { fill: #2a7d2a; }
.o-rejected .outcome { fill: #c0161b; }
.o-down .outcome { fill: #888; }
.o-other .outcome { fill: #a66a00; }
.lane-head.hit .name { fill: #c0161b; text-decoration: underline; }
.axis text { text-anchor: end; fill: #777; }
.axis .grid { stroke: #f0f0f0; }
.gap rect { fill: url(#hatch); }
.gap text { fill: #999; font-style: italic; }
.lane line { stroke: #b8b8b8; stroke-width: 1.2; }
.lane line.down { stroke: #d0d0d0; stroke-dasharray: 1 4; }
.cut { fill: #ff7f0e; fill-opacity: 0.07; }
.a { stroke-width: 1.5; }
.a:hover, .w:hover { stroke-width: 4; }
.c { marker-end: none; }
.lost { stroke-dasharray: 4 3; }
.w { stroke-width: 2.5; stroke-dasharray: 2 3; }
.band line { stroke-width: 2; stroke-opacity: 0.75; }
.band text { font-weight: 600; }
.band .leader { stroke: #bbb; fill: none; }
.b-kill line { stroke: #d62728; } .b-kill text { fill: #d62728; }
.b-start line { stroke: #2ca02c; } .b-start text { fill: #2a7d2a; }
.b-wipe line { stroke: #9467bd; } .b-wipe text { fill: #9467bd; }
.b-partition line { stroke: #ff7f0e; } .b-partition text { fill: #c15f00; }
.b-heal line { stroke: #17becf; } .b-heal text { fill: #0e8e99; }
.b-network line { stroke: #7f7f7f; stroke-dasharray: 6 3; } .b-network text { fill: #666; }
.b-rule line { stroke: #bcbd22; stroke-dasharray: 3 3; } .b-rule text { fill: #8a8b10; }
.mark text, .band text, .violation text, .axis text { paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
.mark { stroke: #fff; stroke-width: 1; }
.mark text { stroke-width: 3px; }
.m-topology { fill: #1f77b4; }
.m-validated { fill: #17becf; }
.m-ready { fill: #66a61e; }
.m-joined { fill: #2ca02c; }
.m-rejected { fill: #d62728; }
.m-leader { fill: #9467bd; }
.m-init { fill: #e6550d; }
.m-user { fill: #7f7f7f; }
.mark text { fill: #333; }
.violation rect { fill: #e31a1c; fill-opacity: 0.6; }
.violation circle { fill: none; stroke: #e31a1c; stroke-width: 2.5; }
.violation text { fill: #c0161b; font-size: 12px; font-weight: 700; }
</style>
"#;

/// What each shape, line and band means, in the page.
const LEGEND: &str = r##"<p class="legend">
<svg width="30" height="10"><path d="M2 2L24 8" stroke="#2ca02c" stroke-width="1.5"/><path d="M20 4L28 9L20 10z" fill="#2ca02c"/></svg> delivered ·
<svg width="22" height="12"><path d="M2 3L14 7M14 2L14 12" stroke="#555" stroke-width="1.5" stroke-dasharray="4 3"/></svg> lost ·
<svg width="22" height="12"><path d="M2 2L14 7M10 3l8 8m0 -8l-8 8" stroke="#555" stroke-width="1.5" fill="none"/></svg> dropped by a rule ·
<svg width="14" height="14"><path d="M7 1L7 13" stroke="#555" stroke-width="2.5" stroke-dasharray="2 3"/></svg> held ·
<svg width="10" height="10"><circle cx="5" cy="5" r="4" fill="#1f77b4"/></svg> in topology
<svg width="10" height="10"><circle cx="5" cy="5" r="4" fill="#17becf"/></svg> validated
<svg width="10" height="10"><circle cx="5" cy="5" r="4" fill="#66a61e"/></svg> join ready
<svg width="12" height="12"><circle cx="6" cy="6" r="5.5" fill="#2ca02c"/></svg> joined
<svg width="10" height="10"><rect x="0.5" y="0.5" width="9" height="9" fill="#d62728"/></svg> rejected
<svg width="12" height="12"><path d="M6 1l5 5l-5 5l-5 -5z" fill="#9467bd"/></svg> leader
<svg width="10" height="10"><circle cx="5" cy="5" r="4" fill="#e6550d"/></svg> init
<svg width="10" height="10"><circle cx="5" cy="5" r="4" fill="#7f7f7f"/></svg> user ·
bands: <b style="color:#d62728">kill</b> <b style="color:#2a7d2a">start</b> <b style="color:#9467bd">wipe</b> <b style="color:#c15f00">partition</b> <b style="color:#0e8e99">heal</b> <b style="color:#666">network</b> <b style="color:#8a8b10">rule</b> <b style="color:#c0161b">violation</b> ·
hatched: a quiet stretch, compressed · hover anything for its fields
</p>
"##;

/// The filters, and what the page records about itself (module documentation).
const SCRIPT: &str = r#"<script>
(function () {
  'use strict';
  var root = document.documentElement;
  var chart = document.getElementById('timeline');
  var kindBoxes = Array.prototype.slice.call(document.querySelectorAll('#filters input[data-kind]'));
  var familyBoxes = Array.prototype.slice.call(document.querySelectorAll('#filters input[data-family-toggle]'));
  function group(kind) {
    return chart.querySelector('g.kind[data-kind="' + kind + '"]');
  }
  function apply() {
    var arrows = 0;
    kindBoxes.forEach(function (box) {
      var g = group(box.getAttribute('data-kind'));
      if (!g) { return; }
      if (box.checked) {
        g.removeAttribute('display');
        arrows += g.querySelectorAll('.a.d').length;
      } else {
        g.setAttribute('display', 'none');
      }
    });
    familyBoxes.forEach(function (fb) {
      var family = fb.getAttribute('data-family-toggle');
      var mine = kindBoxes.filter(function (b) { return b.getAttribute('data-family') === family; });
      var on = mine.filter(function (b) { return b.checked; }).length;
      fb.checked = on === mine.length;
      fb.indeterminate = on > 0 && on < mine.length;
    });
    root.setAttribute('data-arrows', String(arrows));
    root.setAttribute('data-lanes', String(chart.querySelectorAll('g.lane').length));
  }
  kindBoxes.forEach(function (box) { box.addEventListener('change', apply); });
  familyBoxes.forEach(function (fb) {
    fb.addEventListener('change', function () {
      var family = fb.getAttribute('data-family-toggle');
      kindBoxes.forEach(function (b) {
        if (b.getAttribute('data-family') === family) { b.checked = fb.checked; }
      });
      apply();
    });
  });
  var show = /(?:^#|&)show=([a-z_,]*)/.exec(location.hash);
  if (show) {
    var wanted = show[1].split(',');
    kindBoxes.forEach(function (b) {
      if (wanted.indexOf('all') >= 0 || wanted.indexOf(b.getAttribute('data-kind')) >= 0 ||
          wanted.indexOf(b.getAttribute('data-family')) >= 0) {
        b.checked = true;
      }
    });
  }
  apply();
  root.setAttribute('data-ready', '1');
})();
</script>
"#;

#[cfg(test)]
mod tests;
