//! In-process counters: sharded maps of expiring entries. Right for one node;
//! with several replicas use Redis so limits are shared.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{gcra, Counters, RateDecision, Reservation};
use crate::error::StoreResult;

const SHARDS: usize = 16;
/// Expired entries are swept from a shard every this many writes to it.
const SWEEP_EVERY: u32 = 1024;

#[derive(Debug)]
enum Value {
    Int(i64),
    Bytes(Vec<u8>),
}

#[derive(Debug)]
struct Entry {
    value: Value,
    expires: Instant,
}

#[derive(Debug, Default)]
struct Shard {
    map: HashMap<String, Entry>,
    writes: u32,
}

impl Shard {
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        if self.map.get(key).is_some_and(|e| e.expires <= now) {
            self.map.remove(key);
        }
        self.map.get_mut(key)
    }

    fn note_write(&mut self, now: Instant) {
        self.writes = self.writes.wrapping_add(1);
        if self.writes.is_multiple_of(SWEEP_EVERY) {
            self.map.retain(|_, e| e.expires > now);
        }
    }
}

#[derive(Debug)]
pub struct MemoryCounters {
    shards: Vec<Mutex<Shard>>,
    hasher: RandomState,
    /// Monotonic origin for GCRA arithmetic in milliseconds.
    origin: Instant,
}

impl Default for MemoryCounters {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryCounters {
    pub fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: RandomState::new(),
            origin: Instant::now(),
        }
    }

    fn with_shard<T>(&self, key: &str, f: impl FnOnce(&mut Shard, Instant) -> T) -> T {
        let idx = (self.hasher.hash_one(key) as usize) % SHARDS;
        // A poisoned lock only means another thread panicked mid-update of a
        // counter; the map itself is still consistent, so keep serving.
        let mut shard = self.shards[idx]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut shard, Instant::now())
    }

    fn add(shard: &mut Shard, key: &str, delta: i64, ttl: Duration, now: Instant) -> i64 {
        shard.note_write(now);
        match shard.live(key, now) {
            Some(Entry {
                value: Value::Int(v),
                ..
            }) => {
                *v += delta;
                *v
            }
            _ => {
                shard.map.insert(
                    key.to_string(),
                    Entry {
                        value: Value::Int(delta),
                        expires: now + ttl,
                    },
                );
                delta
            }
        }
    }
}

#[async_trait]
impl Counters for MemoryCounters {
    async fn incr(&self, key: &str, delta: i64, ttl: Duration) -> StoreResult<i64> {
        Ok(self.with_shard(key, |s, now| Self::add(s, key, delta, ttl, now)))
    }

    async fn get(&self, key: &str) -> StoreResult<i64> {
        Ok(self.with_shard(key, |s, now| match s.live(key, now) {
            Some(Entry {
                value: Value::Int(v),
                ..
            }) => *v,
            _ => 0,
        }))
    }

    async fn reserve(
        &self,
        key: &str,
        amount: i64,
        limit: i64,
        ttl: Duration,
    ) -> StoreResult<Reservation> {
        Ok(self.with_shard(key, |s, now| {
            let current = match s.live(key, now) {
                Some(Entry {
                    value: Value::Int(v),
                    ..
                }) => *v,
                _ => 0,
            };
            if current + amount > limit {
                Reservation::Denied(current)
            } else {
                Reservation::Granted(Self::add(s, key, amount, ttl, now))
            }
        }))
    }

    async fn rate_limit(
        &self,
        key: &str,
        limit: u64,
        window: Duration,
    ) -> StoreResult<RateDecision> {
        Ok(self.with_shard(key, |s, now| {
            let now_ms = now.duration_since(self.origin).as_millis() as i64;
            let stored = match s.live(key, now) {
                Some(Entry {
                    value: Value::Int(tat),
                    ..
                }) => Some(*tat),
                _ => None,
            };
            let (decision, new_tat) = gcra(now_ms, stored, limit, window);
            if let Some(tat) = new_tat {
                s.note_write(now);
                s.map.insert(
                    key.to_string(),
                    Entry {
                        value: Value::Int(tat),
                        expires: now + Duration::from_millis((tat - now_ms).max(1) as u64),
                    },
                );
            }
            decision
        }))
    }

    async fn set_once(&self, key: &str, ttl: Duration) -> StoreResult<bool> {
        Ok(self.with_shard(key, |s, now| {
            if s.live(key, now).is_some() {
                return false;
            }
            s.note_write(now);
            s.map.insert(
                key.to_string(),
                Entry {
                    value: Value::Int(1),
                    expires: now + ttl,
                },
            );
            true
        }))
    }

    async fn cache_get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.with_shard(key, |s, now| match s.live(key, now) {
            Some(Entry {
                value: Value::Bytes(b),
                ..
            }) => Some(b.clone()),
            _ => None,
        }))
    }

    async fn cache_set(&self, key: &str, value: &[u8], ttl: Duration) -> StoreResult<()> {
        self.with_shard(key, |s, now| {
            s.note_write(now);
            s.map.insert(
                key.to_string(),
                Entry {
                    value: Value::Bytes(value.to_vec()),
                    expires: now + ttl,
                },
            );
        });
        Ok(())
    }

    async fn cache_delete(&self, key: &str) -> StoreResult<()> {
        self.with_shard(key, |s, _| s.map.remove(key));
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}
