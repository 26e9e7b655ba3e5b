//! What the worker builder refuses.

use std::sync::Arc;
use std::time::Duration;

use leasehold::retry::RetryPolicy;
use leasehold::worker::Worker;

use crate::world::{World, echo};

#[test]
fn invalid_configuration_is_a_config_error() {
    let world = World::new(Arc::new(leasehold_memory::MemoryStore::new()));
    let builds = [
        Worker::builder(&world.queue).build(),
        Worker::builder(&world.queue)
            .handler(echo)
            .queue("default", 0)
            .build(),
        Worker::builder(&world.queue)
            .handler(echo)
            .handler(echo)
            .build(),
        Worker::builder(&world.queue)
            .handler(echo)
            .lease_duration(Duration::from_secs(10))
            .heartbeat_interval(Duration::from_secs(10))
            .build(),
        Worker::builder(&world.queue)
            .handler(echo)
            .lease_duration(Duration::from_secs(10))
            .heartbeat_interval(Duration::from_secs(6))
            .lease_margin(Duration::from_secs(4))
            .build(),
        Worker::builder(&world.queue)
            .handler(echo)
            .timeout_for("no_such_kind", Duration::from_secs(1))
            .build(),
        Worker::builder(&world.queue)
            .handler(echo)
            .retry_policy(RetryPolicy::default().jitter(2.0))
            .build(),
    ];

    for built in builds {
        assert!(
            matches!(built, Err(leasehold::Error::Config(_))),
            "{built:?}"
        );
    }
}
