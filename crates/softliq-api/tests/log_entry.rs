//! Every log entry the server renders (`GET /v1/events`, the SSE stream) decodes back, through
//! the same type, to the command and events it was rendered from: a client reading the feed
//! with `LogEntry` sees exactly what the engine logged.

use std::borrow::Cow;
use std::collections::BTreeSet;

use softliq_api::commands::LogEntry;
use softliq_engine::{Engine, EngineConfig};
use softliq_node::workload::Workload;

#[test]
fn rendered_entries_decode_to_what_was_logged() {
    let mut w = Workload::new(5, 400, 50).volatile();
    let mut engine = Engine::new(EngineConfig { audit: false });
    let mut commands: std::collections::VecDeque<_> = w.setup().into();
    let (mut kinds, mut event_kinds) = (BTreeSet::new(), BTreeSet::new());
    let mut checked = 0;
    for i in 0..20_000u64 {
        let cmd = commands
            .pop_front()
            .unwrap_or_else(|| w.next_command_for(engine.state()));
        let Ok(events) = engine.apply(&cmd) else {
            continue;
        };
        let entry = LogEntry {
            seq: i,
            timestamp_s: cmd.timestamp_s,
            kind: Cow::Borrowed(cmd.body.kind()),
            command: Cow::Borrowed(&cmd.body),
            events: Cow::Borrowed(&events),
        };
        let json = serde_json::to_string(&entry).unwrap();
        let back: LogEntry = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
        assert_eq!(back.seq, i);
        assert_eq!(back.timestamp_s, cmd.timestamp_s);
        assert_eq!(back.kind, cmd.body.kind());
        assert_eq!(*back.command, cmd.body, "{json}");
        assert_eq!(&*back.events, &events[..], "{json}");
        kinds.insert(cmd.body.kind());
        for e in events.iter() {
            let name = serde_json::to_value(e).unwrap();
            let name = name.as_object().and_then(|o| o.keys().next().cloned());
            event_kinds.insert(name.unwrap_or_else(|| "unit".to_owned()));
        }
        checked += 1;
    }
    // The run must reach the entries that matter to clients, not only deposits.
    for kind in ["post_price", "liquidate", "borrow", "deposit"] {
        assert!(kinds.contains(kind), "no {kind} in {kinds:?}");
    }
    for event in ["liquidated", "became_liquidatable", "recovered"] {
        assert!(event_kinds.contains(event), "no {event} in {event_kinds:?}");
    }
    assert!(checked > 10_000, "{checked} entries checked");
}
