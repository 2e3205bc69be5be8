//! A component written without plugin-sdk that exports only `config` and `transform`:
//! the host must call nothing else, and refuse it when its manifest lists another hook.

wit_bindgen::generate!({
    inline: "package test:partial; world partial { export wagate:plugin/config@1.3.0; export wagate:plugin/transform@1.3.0; }",
    path: "../../../wit",
    world: "test:partial/partial",
    generate_all,
});

use exports::wagate::plugin::{config, transform};
use wagate::plugin::types::{Emit, Event, Target};

struct Partial;

impl config::Guest for Partial {
    fn init(_config: String) -> Result<(), String> {
        Ok(())
    }
    fn schema() -> Option<String> {
        None
    }
}

impl transform::Guest for Partial {
    fn transform(event: Event) -> Vec<Emit> {
        vec![Emit {
            event: format!("partial:{}", event.name),
            payload: format!("{{\"seq\":{}}}", event.seq),
            target: Target::Tenant,
        }]
    }
    fn transform_batch(events: Vec<Event>) -> Vec<Vec<Emit>> {
        events.into_iter().map(Self::transform).collect()
    }
}

export!(Partial);
