//! Message rules: hold, drop, duplicate or delay messages of a given kind between given nodes, for
//! a while or until removed, each with a chance. This is how a test forces a race precisely ("hold
//! B's join ready until the leader has been killed") and how the fuzzer's weather distorts links.
//!
//! Two sides (docs/network.md):
//! - **On arrival** (`hold`, `drop`): a held message waits in the receiving node's buffer (lost if
//!   that node is killed, as a message in flight would be) and is delivered at the receiver's
//!   first tick after no hold rule matches it any more.
//! - **On sending** (`duplicate`, `delay`): a duplicated message travels twice, each copy with its
//!   own latency; a delayed one waits `min_ms..=max_ms` more than its latency, so later messages
//!   on the same link overtake it (reordering beyond latency).
//!
//! On each side the first active matching rule whose chance comes up decides.

use std::fmt;

use joinsim::{MessageKind, NodeName};
use serde::{Deserialize, Serialize};

/// What a rule does to the messages it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// On arrival: keep them until the rule ends, then deliver.
    Hold,
    /// On arrival: lose them.
    Drop,
    /// On sending: send a second copy, with its own latency.
    Duplicate,
    /// On sending: add `min_ms..=max_ms` (uniform) to the latency.
    Delay {
        /// Least extra delay, milliseconds.
        min_ms: u64,
        /// Most extra delay, milliseconds (at most [`MAX_DELAY_MS`]).
        max_ms: u64,
    },
}

/// The most extra delay a `delay` rule may add, milliseconds (one minute).
pub const MAX_DELAY_MS: u64 = 60_000;

/// A chance in parts per million: 1,000,000 is "always".
pub const ALWAYS_PPM: u32 = 1_000_000;

impl RuleAction {
    /// True for the actions that act when a message is sent (`duplicate`, `delay`).
    pub fn on_send(self) -> bool {
        matches!(self, RuleAction::Duplicate | RuleAction::Delay { .. })
    }
}

/// Which messages a rule matches. `None` matches anything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageFilter {
    /// Message kind.
    pub kind: Option<MessageKind>,
    /// Sender (node label).
    pub from: Option<NodeName>,
    /// Receiver (node label).
    pub to: Option<NodeName>,
}

impl MessageFilter {
    /// Matches every message of `kind`.
    pub fn kind(kind: MessageKind) -> MessageFilter {
        MessageFilter {
            kind: Some(kind),
            ..Default::default()
        }
    }

    /// Restricts to messages sent by `from`.
    pub fn from(mut self, from: &str) -> MessageFilter {
        self.from = Some(from.to_string());
        self
    }

    /// Restricts to messages received by `to`.
    pub fn to(mut self, to: &str) -> MessageFilter {
        self.to = Some(to.to_string());
        self
    }

    fn matches(&self, from: &str, to: &str, kind: MessageKind) -> bool {
        self.kind.is_none_or(|k| k == kind)
            && self.from.as_deref().is_none_or(|f| f == from)
            && self.to.as_deref().is_none_or(|t| t == to)
    }
}

impl fmt::Display for MessageFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let any = |o: &Option<String>| o.clone().unwrap_or_else(|| "*".into());
        let kind = self
            .kind
            .map(|k| k.name().to_string())
            .unwrap_or_else(|| "*".into());
        write!(f, "{kind} {} -> {}", any(&self.from), any(&self.to))
    }
}

/// Identifies a rule, to remove it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RuleId(pub u64);

#[derive(Clone, Debug)]
struct Rule {
    id: RuleId,
    filter: MessageFilter,
    action: RuleAction,
    until_ms: Option<u64>,
    chance_ppm: u32,
}

/// The active rules.
#[derive(Debug, Default)]
pub struct MessageRules {
    rules: Vec<Rule>,
    next_id: u64,
}

/// The most rules that may be active at once.
pub const MAX_RULES: usize = 256;

impl MessageRules {
    /// Adds a rule that always applies; it ends at `until_ms` if given, or when removed.
    pub fn add(
        &mut self,
        filter: MessageFilter,
        action: RuleAction,
        until_ms: Option<u64>,
    ) -> RuleId {
        self.add_with_chance(filter, action, until_ms, ALWAYS_PPM)
    }

    /// Adds a rule that applies to a matching message with chance `chance_ppm` (parts per
    /// million, at most [`ALWAYS_PPM`]); it ends at `until_ms` if given, or when removed.
    ///
    /// # Panics
    /// With more than [`MAX_RULES`] rules, a chance above [`ALWAYS_PPM`], or a `delay` whose range
    /// is reversed or goes past [`MAX_DELAY_MS`] (callers validate first).
    pub fn add_with_chance(
        &mut self,
        filter: MessageFilter,
        action: RuleAction,
        until_ms: Option<u64>,
        chance_ppm: u32,
    ) -> RuleId {
        assert!(chance_ppm <= ALWAYS_PPM, "chance above 1");
        if let RuleAction::Delay { min_ms, max_ms } = action {
            assert!(
                min_ms <= max_ms && max_ms <= MAX_DELAY_MS,
                "delay range {min_ms}..={max_ms} ms"
            );
        }
        assert!(
            self.rules.len() < MAX_RULES,
            "more than {MAX_RULES} message rules"
        );
        self.next_id += 1;
        let id = RuleId(self.next_id);
        self.rules.push(Rule {
            id,
            filter,
            action,
            until_ms,
            chance_ppm,
        });
        id
    }

    /// Removes a rule. False when there was none.
    pub fn remove(&mut self, id: RuleId) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.id != id);
        self.rules.len() != before
    }

    /// Removes every rule and returns the ids that were in force, oldest first.
    pub fn take_all(&mut self) -> Vec<RuleId> {
        self.rules.drain(..).map(|r| r.id).collect()
    }

    /// What to do with a message at time `now_ms` on one side (`on_send`: the sending side's
    /// actions, else the arrival side's): the first active matching rule of that side whose
    /// chance comes up decides; `None` means no rule applies. `draw` gives a uniform number in
    /// `0..ALWAYS_PPM`; it is called once for each matching rule whose chance is below 1, in
    /// rule order, so the draws are deterministic.
    pub fn action(
        &self,
        (from, to, kind): (&str, &str, MessageKind),
        now_ms: u64,
        on_send: bool,
        draw: &mut dyn FnMut() -> u32,
    ) -> Option<RuleAction> {
        self.rules
            .iter()
            .filter(|r| r.action.on_send() == on_send)
            .filter(|r| r.until_ms.is_none_or(|u| now_ms < u))
            .filter(|r| r.filter.matches(from, to, kind))
            .find(|r| r.chance_ppm >= ALWAYS_PPM || draw() < r.chance_ppm)
            .map(|r| r.action)
    }

    /// Number of rules (expired ones included until removed).
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_by_kind_and_nodes_and_expire() {
        let mut rules = MessageRules::default();
        let hold = rules.add(
            MessageFilter::kind(MessageKind::JoinReady).from("b"),
            RuleAction::Hold,
            None,
        );
        rules.add(
            MessageFilter::default().to("c"),
            RuleAction::Drop,
            Some(100),
        );
        let at = |rules: &MessageRules, from, to, kind, now| {
            rules.action((from, to, kind), now, false, &mut || unreachable!())
        };
        assert_eq!(
            at(&rules, "b", "a", MessageKind::JoinReady, 0),
            Some(RuleAction::Hold)
        );
        assert_eq!(at(&rules, "x", "a", MessageKind::JoinReady, 0), None);
        assert_eq!(at(&rules, "b", "a", MessageKind::JoinRequest, 0), None);
        assert_eq!(
            at(&rules, "x", "c", MessageKind::Probe, 99),
            Some(RuleAction::Drop)
        );
        assert_eq!(at(&rules, "x", "c", MessageKind::Probe, 100), None);
        assert!(rules.remove(hold));
        assert!(!rules.remove(hold));
        assert_eq!(at(&rules, "b", "a", MessageKind::JoinReady, 0), None);
    }

    #[test]
    fn send_side_rules_never_act_on_arrival_and_chances_draw_in_order() {
        let mut rules = MessageRules::default();
        rules.add_with_chance(
            MessageFilter::kind(MessageKind::Probe),
            RuleAction::Duplicate,
            None,
            250_000,
        );
        rules.add(
            MessageFilter::kind(MessageKind::Probe),
            RuleAction::Delay {
                min_ms: 5,
                max_ms: 9,
            },
            None,
        );
        let probe = ("a", "b", MessageKind::Probe);
        let never = &mut || -> u32 { panic!("no draw on arrival") };
        assert_eq!(rules.action(probe, 0, false, never), None);
        // The duplicate rule's coin: 100,000 < 250,000 comes up, 900,000 does not (then the
        // delay rule, which always applies, decides).
        let mut draws = vec![900_000, 100_000];
        let mut draw = || draws.pop().expect("one draw per call");
        assert_eq!(
            rules.action(probe, 0, true, &mut draw),
            Some(RuleAction::Duplicate)
        );
        assert_eq!(
            rules.action(probe, 0, true, &mut draw),
            Some(RuleAction::Delay {
                min_ms: 5,
                max_ms: 9
            })
        );
        assert!(draws.is_empty());
    }
}
