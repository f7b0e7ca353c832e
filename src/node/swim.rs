//! The node's routing of SWIM (`FailureDetector::Swim`, docs/protocol.md "Failure detection"):
//! the period's probe, indirect probes, suspicions and removals the
//! [`PhysicalTopology`](crate::topology::PhysicalTopology) decides, and the rumors that ride on
//! probes and acks. The all-pairs detector is `src/node/physical.rs`.

use std::sync::Arc;

use crate::config::FailureDetector;
use crate::event::RemovalCause;
use crate::message::Message;
use crate::node::Node;
use crate::topology::{Rumor, SwimTick};
use crate::types::{Addr, LaunchId};

impl Node {
    /// True when this node runs SWIM.
    pub(crate) fn is_swim(&self) -> bool {
        self.timing.failure_detector == FailureDetector::Swim
    }

    /// One SWIM tick: removes suspects whose time ran out, suspects the member this period's
    /// probe did not reach, asks others to probe a member silent for half a period, sends the
    /// period's probe, and runs the rejoin round (seeds and removed members, as all pairs does).
    pub(super) fn swim_topology_tick(&mut self) {
        let now = self.now_ms;
        let SwimTick {
            dead,
            suspected,
            indirect,
            probe,
        } = self.topo.swim_tick(now, &self.timing, &mut self.rng);
        for addr in dead {
            if let Some(launch) = self.topo.member(addr).map(|r| r.launch()) {
                self.remove_member(addr, RemovalCause::Dead);
                self.spread(Rumor::Dead { addr, launch });
            }
        }
        if let Some(addr) = suspected {
            if let Some(record) = self.topo.member(addr) {
                let rumor = Rumor::Suspect {
                    addr,
                    launch: record.launch(),
                    incarnation: record.identity.incarnation,
                };
                self.spread(rumor);
            }
        }
        if let Some((target, helpers)) = indirect {
            for helper in helpers {
                self.send(helper, Message::ProbeRequest { target });
            }
        }
        let mut targets: Vec<Addr> = probe.into_iter().collect();
        if self.topo.rejoin_round_due(now, self.timing.rejoin_probe_ms) {
            targets.extend(self.rejoin_targets());
        }
        for addr in targets {
            self.send_swim_probe(addr, None);
        }
    }

    /// A probe to `addr`, with this node's rumors (and, on a sync probe, its view digest).
    fn send_swim_probe(&mut self, addr: Addr, relay_for: Option<Addr>) {
        let Some(sender) = self.my_record() else {
            return;
        };
        let view = self.topo.view_digest(&sender);
        let sync = self
            .topo
            .probed(addr, self.now_ms, self.timing.rejoin_probe_ms);
        let rumors = self.rumors_to_send();
        self.send(
            addr,
            Message::Probe {
                sender: Arc::clone(&sender),
                view: sync.then_some(view),
                rumors,
                relay_for,
            },
        );
    }

    /// The rumors for one probe or ack: none with the all-pairs detector.
    pub(super) fn rumors_to_send(&mut self) -> Vec<Rumor> {
        if self.is_swim() {
            self.topo.take_rumors()
        } else {
            Vec::new()
        }
    }

    /// Starts passing `rumor` on (SWIM only).
    pub(super) fn spread(&mut self, rumor: Rumor) {
        if self.is_swim() {
            self.topo.spread(rumor);
        }
    }

    /// Rumors that came on a probe or an ack. A record is merged as gossip (it never lifts a
    /// tombstone); a suspicion of this node is refuted with a higher incarnation, of another
    /// member taken up (and passed on) unless a newer incarnation refutes it; a removal removes
    /// the member (and is passed on). What changed nothing is not passed on again. The caller
    /// runs `after_membership_change` once it has merged everything the message carried.
    pub(super) fn hear_rumors(&mut self, rumors: Vec<Rumor>) {
        if !self.is_swim() {
            return;
        }
        let (own, launch) = (self.cfg.addr, self.launch);
        let mine = self.topo.incarnation();
        for rumor in rumors {
            match rumor {
                Rumor::Alive(record) => self.merge_record_spreading(record, false, true),
                // A suspicion of an older incarnation than this node's own is already refuted;
                // a removal always is refuted.
                Rumor::Suspect {
                    addr,
                    launch: their,
                    incarnation,
                } if addr == own && their == launch && incarnation < mine => {}
                Rumor::Suspect {
                    addr,
                    launch: their,
                    ..
                }
                | Rumor::Dead {
                    addr,
                    launch: their,
                } if addr == own && their == launch => {
                    self.topo.refute();
                    if let Some(me) = self.my_record() {
                        self.spread(Rumor::Alive(me));
                    }
                }
                Rumor::Suspect {
                    addr,
                    launch,
                    incarnation,
                } => {
                    if self
                        .topo
                        .suspect(addr, launch, Some(incarnation), self.now_ms)
                    {
                        self.spread(Rumor::Suspect {
                            addr,
                            launch,
                            incarnation,
                        });
                    }
                }
                Rumor::Dead { addr, launch } => {
                    if self.topo.member(addr).is_some_and(|r| r.launch() == launch) {
                        self.remove_member(addr, RemovalCause::Dead);
                        self.spread(Rumor::Dead { addr, launch });
                    }
                }
            }
        }
    }

    /// SWIM's ping-req: `from` asks this node to probe `target`, a member of this node's view.
    pub(crate) fn on_probe_request(&mut self, from: Addr, target: Addr) {
        if self.is_swim() && self.topo.contains(target) {
            self.send_swim_probe(target, Some(from));
        }
    }

    /// The member that this node asked others to probe answered one of them: it is alive.
    pub(crate) fn on_probe_relay(&mut self, target: Addr, launch: LaunchId) {
        if self.is_swim() && self.topo.probing(target) {
            self.heard_from(target, launch);
        }
    }
}
