//! Bad input on the wire: corrupt bytes are reported and dropped, and the node goes on.

use joinsim::{Envelope, Event, LaunchId, Message};
use joinsim_sim::Sim;

use crate::support::*;

#[test]
fn corrupt_messages_are_reported_and_dropped() {
    for seed in seeds(60) {
        let report = Sim::new(seed).nodes(3).run(|w| async move {
            w.start_all();
            wait_physical(&w, &["n1", "n2", "n3"]).await;
            w.send_raw("n1", vec![0xff; 40]).await;
            // A valid envelope cut short.
            let mut bytes = Envelope {
                from: w.addr("n2"),
                from_launch: LaunchId(9),
                msg: Message::Leaving,
            }
            .encode();
            bytes.push(7);
            w.send_raw("n2", bytes).await;
            w.sleep_ms(100).await;
            w.init("n1", params("c", &["n1", "n2", "n3"], &[]))
                .await
                .expect("the cluster still initializes");
            wait_joined(&w, &["n1", "n2", "n3"]).await;
        });
        let mut corrupt: Vec<&str> = events(&report.trace)
            .into_iter()
            .filter(|(_, e)| matches!(e, Event::CorruptMessage { .. }))
            .map(|(n, _)| n)
            .collect();
        corrupt.sort();
        assert_eq!(corrupt, vec!["n1", "n2"], "seed {seed}");
    }
}
