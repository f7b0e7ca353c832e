//! Prints the messages of one canonical run by kind: `cargo run --release --example deliveries`.
fn main() {
    let seed = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let report = joinsim_sim::Sim::new(seed).nodes(5).run(|w| async move {
        w.start_all();
        w.sleep_ms(300).await;
        w.init_default("n1", "demo").await.unwrap();
        w.wait_until("joined", 60_000, |w| w.all_joined())
            .await
            .unwrap();
        w.deliveries_by_kind()
    });
    for (kind, count) in report.value {
        println!("{kind:>20} {count}");
    }
    println!("sim time {:?}", report.sim_time);
}
