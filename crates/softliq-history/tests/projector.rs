//! The projector against the machine's PostgreSQL (127.0.0.1:5432, database `test`): a
//! workload's log with liquidations lands in the tables once, a page written again changes
//! nothing, a restart resumes at the stored position, and the liquidation rows read back equal
//! the rows built from the log itself.

use std::sync::atomic::AtomicBool;

use softliq_engine::event::Event;
use softliq_history::row::liquidation_row;
use softliq_history::{History, HistoryConfig, ProjectorConfig, project};
use softliq_node::workload::Workload;
use softliq_node::{Entry, MemoryStore, Store};

fn url() -> String {
    std::env::var("SOFTLIQ_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".into())
}

/// A log of `n` accepted workload commands.
fn log(n: usize) -> Vec<Entry> {
    Workload::new(11, 300, 50).volatile().accepted(n).0
}

async fn count(h: &History, table: &str) -> i64 {
    h.client()
        .query_one(&format!("SELECT count(*) FROM {}.{table}", h.schema()), &[])
        .await
        .unwrap()
        .get(0)
}

#[test]
fn the_log_lands_in_postgres_once_and_reads_back_as_the_export_rows() {
    let entries = log(6_000);
    let schema = format!("t{:x}", rand_suffix());
    let mut config = ProjectorConfig::new(HistoryConfig {
        url: url(),
        schema: schema.clone(),
    });
    config.page_max = 700;

    // The first 4,000 entries, then a restart that resumes at the stored position.
    let mut store = MemoryStore::new();
    store.append(&entries[..4_000], None).unwrap();
    let stop = AtomicBool::new(false);
    let mut seen = Vec::new();
    let at = project(&mut store, &config, false, &stop, &mut |p| seen.push(p)).unwrap();
    assert_eq!(at, 4_000);
    assert_eq!(seen.first(), Some(&0));
    store.append(&entries[4_000..], None).unwrap();
    let mut resumed = Vec::new();
    let at = project(&mut store, &config, false, &stop, &mut |p| resumed.push(p)).unwrap();
    assert_eq!(at, 6_000);
    assert_eq!(
        resumed.first(),
        Some(&4_000),
        "resumed at the stored position"
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut h = History::connect(&config.history).await.unwrap();
        assert_eq!(h.position().await.unwrap(), 6_000);
        let events: usize = entries.iter().map(|e| e.events.len()).sum();
        let liquidated: Vec<(u64, u32, Vec<String>)> = {
            let assets = h.assets().to_vec();
            entries
                .iter()
                .flat_map(|e| {
                    let assets = assets.clone();
                    e.events
                        .iter()
                        .enumerate()
                        .filter_map(move |(i, ev)| match ev {
                            Event::Liquidated(l) => Some((
                                e.seq,
                                u32::try_from(i).unwrap(),
                                liquidation_row(e.seq, e.command.timestamp_s, l, &assets),
                            )),
                            _ => None,
                        })
                })
                .collect()
        };
        let prices = entries
            .iter()
            .flat_map(|e| e.events.iter())
            .filter(|e| matches!(e, Event::PriceAccepted { .. }))
            .count();
        assert!(
            liquidated.len() >= 20,
            "only {} liquidations",
            liquidated.len()
        );
        assert_eq!(count(&h, "entries").await, 6_000);
        assert_eq!(count(&h, "events").await, i64::try_from(events).unwrap());
        assert_eq!(
            count(&h, "liquidations").await,
            i64::try_from(liquidated.len()).unwrap()
        );
        assert_eq!(count(&h, "prices").await, i64::try_from(prices).unwrap());

        // A page written again changes nothing.
        h.project(&entries[3_000..3_500]).await.unwrap();
        assert_eq!(count(&h, "events").await, i64::try_from(events).unwrap());
        assert_eq!(
            h.position().await.unwrap(),
            6_000,
            "the position never goes back"
        );

        // The rows read back are the rows of the log, figure for figure (exact decimals).
        let mut back = Vec::new();
        let mut after = (0, 0);
        loop {
            let page = h.liquidations(0, u64::MAX, after, 50).await.unwrap();
            let Some(last) = page.last() else { break };
            after = (last.0, last.1);
            back.extend(page);
        }
        assert_eq!(back, liquidated);

        // The activity per 300 s bucket equals the tally counted along the log.
        let mut prices = softliq_history::activity::Prices::default();
        let mut expected = std::collections::BTreeMap::<u64, softliq_api::queries::Tally>::new();
        for e in &entries {
            let t = prices.tally(e);
            if !t.is_empty() {
                let b = e.command.timestamp_s - e.command.timestamp_s % 300;
                expected.entry(b).or_default().add(&t);
            }
        }
        let (totals, buckets) = h.activity(300).await.unwrap();
        assert_eq!(
            buckets.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>()
        );
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
        for (b, t) in &expected {
            let got = &buckets[b];
            assert_eq!(
                (got.liquidations, got.perp_steps),
                (t.liquidations, t.perp_steps)
            );
            assert!(close(got.repaid_usd, t.repaid_usd), "{b}: {got:?} vs {t:?}");
            assert!(close(got.borrower_loss_usd, t.borrower_loss_usd), "{b}");
            assert!(
                close(got.bad_debt_usd, t.bad_debt_usd),
                "{b}: {got:?} vs {t:?}"
            );
        }
        assert_eq!(
            totals.liquidations,
            u64::try_from(liquidated.len()).unwrap()
        );
        assert!(totals.repaid_usd > 0.0 && totals.borrower_loss_usd > 0.0);

        // History is one query away: an account's changes, newest first.
        let borrower: i64 = liquidated[0].2[3].parse().unwrap();
        let kinds: Vec<String> = h
            .client()
            .query(
                &format!(
                    "SELECT kind FROM {}.account_changes WHERE account = $1 ORDER BY seq DESC",
                    h.schema()
                ),
                &[&borrower],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(kinds.contains(&"liquidated".to_string()), "{kinds:?}");
        assert!(kinds.contains(&"account_opened".to_string()), "{kinds:?}");
        h.client()
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
    });
}

fn rand_suffix() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    u64::try_from(t % u128::from(u64::MAX)).unwrap() ^ u64::from(std::process::id())
}
