//! The timeline picture in a real browser: a shipped join race is rendered
//! (`joinsim_sim::render::timeline`), opened in headless Chromium, and the page's own record of
//! what it drew is read back from the DOM after its script ran: no script error, one lane per
//! node (and the user), one arrow per delivered join-protocol message, every delivered message
//! once Raft and probes are shown. A screenshot is taken too; with `JOINSIM_UPDATE_SCREENSHOT=1`
//! it replaces `docs/timeline.png`, the picture the README shows.
//!
//! Chromium is found as `$JOINSIM_CHROMIUM`, `chromium`, `chromium-browser` or `google-chrome` on
//! the `PATH` (`.ci/run` installs Debian's `chromium`). Where there is none, the test prints why and
//! passes without checking anything.

#![cfg(madsim)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use joinsim_sim::record::RunRecord;
use joinsim_sim::render::timeline::{kinds, timeline_html};
use joinsim_sim::trace::TraceKind;

/// The shipped race drawn: a held join ready, the CMG leader killed, a new leader elected.
const SCENARIO: &str = "race-leader-crash-between-validation-and-join-ready.toml";
/// Its seed.
const SEED: u64 = 1;
/// The browser window the screenshot is taken in, px: the whole run of the race, header included.
const WINDOW: &str = "1200,2000";
/// How long one Chromium run may take before the test gives up on it: 120 polls of 500 ms.
const POLLS: u32 = 120;

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("JOINSIM_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Runs headless Chromium on `url` with `args`, in a profile of its own (`dir/name-profile`);
/// returns its standard output (kept in `dir/name.txt`).
fn run_chromium(browser: &Path, dir: &Path, name: &str, args: &[&str], url: &str) -> String {
    let profile = dir.join(format!("{name}-profile"));
    let out_path = dir.join(format!("{name}.txt"));
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
    let mut polls = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        polls += 1;
        if polls > POLLS {
            let _ = child.kill();
            panic!("{} did not finish on {url}", browser.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert!(
        status.success(),
        "{} {args:?} {url}: {status}",
        browser.display()
    );
    std::fs::read_to_string(out_path).unwrap()
}

/// The value of attribute `name` on the dumped page's `<html>` element.
fn root_attribute<'a>(dom: &'a str, name: &str) -> Option<&'a str> {
    let start = dom.find("<html")?;
    let tag = &dom[start..start + dom[start..].find('>')?];
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(&tag[at..at + tag[at..].find('"')?])
}

/// Deliveries in the run, of the kinds shown when the page opens or all.
fn deliveries(record: &RunRecord, all: bool) -> usize {
    record
        .entries
        .iter()
        .filter(|e| match &e.kind {
            TraceKind::Message(m) => {
                m.fate.is_delivery() && (all || kinds::shown_by_default(m.kind))
            }
            _ => false,
        })
        .count()
}

#[test]
fn the_timeline_of_a_join_race_loads_in_chromium_and_draws_every_lane_and_arrow() {
    let Some(browser) = chromium() else {
        eprintln!(
            "skipped: no Chromium found (chromium, chromium-browser or google-chrome on the PATH, \
             or JOINSIM_CHROMIUM); `apt-get install chromium` installs it"
        );
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let scenario = joinsim_sim::load_scenario(&root.join("scenarios").join(SCENARIO)).unwrap();
    let result = joinsim_sim::run_scenario(&scenario, SEED, true);
    assert!(result.passed, "{SCENARIO} seed {SEED} passes");
    let mut record = RunRecord::from_result(&result);
    // As `joinsim run` from the repository's root names it.
    record.file = format!("scenarios/{SCENARIO}");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("timeline-browser");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("run.html");
    std::fs::write(&page, timeline_html(&record)).unwrap();
    let url = format!("file://{}", page.display());

    // As it opens: the join protocol without Raft and probes.
    let dom = run_chromium(&browser, &dir, "opened", &["--dump-dom"], &url);
    assert_eq!(
        root_attribute(&dom, "data-errors"),
        Some(""),
        "script errors"
    );
    assert_eq!(
        root_attribute(&dom, "data-ready"),
        Some("1"),
        "the script ran to its end"
    );
    let lanes = record.lanes().len();
    assert_eq!(lanes, 5, "n1..n4 and the user");
    assert_eq!(
        root_attribute(&dom, "data-lanes"),
        Some(lanes.to_string().as_str())
    );
    let join_protocol = deliveries(&record, false);
    assert!(join_protocol > 20, "{join_protocol}");
    assert_eq!(
        root_attribute(&dom, "data-arrows"),
        Some(join_protocol.to_string().as_str())
    );
    // The held join ready waits beside its receiver's lane; the kill of the leader is a band.
    assert!(dom.contains("class=\"w"), "a held message is drawn waiting");
    assert!(dom.contains(">kill n1</text>"));

    // Every kind shown, from the page's address.
    let dom = run_chromium(
        &browser,
        &dir,
        "all",
        &["--dump-dom"],
        &format!("{url}#show=all"),
    );
    assert_eq!(
        root_attribute(&dom, "data-errors"),
        Some(""),
        "script errors"
    );
    assert_eq!(root_attribute(&dom, "data-ready"), Some("1"));
    assert_eq!(
        root_attribute(&dom, "data-arrows"),
        Some(deliveries(&record, true).to_string().as_str())
    );

    // One family by its id: the probes join the join protocol.
    let probes = record
        .entries
        .iter()
        .filter(|e| {
            matches!(&e.kind, TraceKind::Message(m) if m.fate.is_delivery()
                && kinds::family(m.kind) == kinds::Family::Probes)
        })
        .count();
    assert!(probes > 0);
    let dom = run_chromium(
        &browser,
        &dir,
        "probes",
        &["--dump-dom"],
        &format!("{url}#show=probes"),
    );
    assert_eq!(
        root_attribute(&dom, "data-errors"),
        Some(""),
        "script errors"
    );
    assert_eq!(
        root_attribute(&dom, "data-arrows"),
        Some((join_protocol + probes).to_string().as_str())
    );

    // A screenshot: a PNG of the window.
    let shot = dir.join("timeline.png");
    run_chromium(
        &browser,
        &dir,
        "screenshot",
        &[
            &format!("--screenshot={}", shot.display()),
            &format!("--window-size={WINDOW}"),
            "--force-device-scale-factor=1",
        ],
        &url,
    );
    let png = std::fs::read(&shot).expect("Chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000);
    if std::env::var_os("JOINSIM_UPDATE_SCREENSHOT").is_some() {
        std::fs::copy(&shot, root.join("docs").join("timeline.png")).unwrap();
    }
}
