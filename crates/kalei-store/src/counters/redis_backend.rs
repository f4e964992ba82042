//! Redis counters: every read-modify-write is one Lua script, so concurrent
//! replicas see atomic increments, reservations and rate limits. Rate limits
//! use Redis server time so replicas with skewed clocks agree.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};

use super::{Counters, RateDecision, Reservation};
use crate::error::StoreResult;

/// INCRBY, setting the expiry only when the key has none yet.
const INCR_LUA: &str = r"
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return v";

/// Add ARGV[1] only if the result stays <= ARGV[2]. Returns {granted, value}.
const RESERVE_LUA: &str = r"
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
if cur + amount > tonumber(ARGV[2]) then return {0, cur} end
local v = redis.call('INCRBY', KEYS[1], amount)
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {1, v}";

/// GCRA, the same arithmetic as `counters::gcra`. Returns
/// {allowed, remaining, retry_after_ms}.
const GCRA_LUA: &str = r"
local limit = math.max(tonumber(ARGV[1]), 1)
local window = math.max(tonumber(ARGV[2]), 1)
local interval = math.max(math.floor(window / limit), 1)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - window
if now < allow_at then return {0, 0, allow_at - now} end
redis.call('SET', KEYS[1], new_tat, 'PX', math.max(new_tat - now, 1))
local remaining = math.floor((window - (new_tat - now)) / interval)
if remaining < 0 then remaining = 0 end
return {1, remaining, 0}";

#[derive(Clone)]
pub struct RedisCounters {
    conn: ConnectionManager,
    prefix: String,
    incr: Script,
    reserve: Script,
    gcra: Script,
}

impl std::fmt::Debug for RedisCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCounters")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn ms(d: Duration) -> u64 {
    (d.as_millis() as u64).max(1)
}

impl RedisCounters {
    /// Connects (with automatic reconnection) and namespaces every key under
    /// `prefix:`.
    pub async fn connect(url: &str, prefix: &str) -> StoreResult<Self> {
        let client = redis::Client::open(url)?;
        let conn = ConnectionManager::new(client).await?;
        Ok(Self {
            conn,
            prefix: prefix.to_string(),
            incr: Script::new(INCR_LUA),
            reserve: Script::new(RESERVE_LUA),
            gcra: Script::new(GCRA_LUA),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.prefix)
    }
}

#[async_trait]
impl Counters for RedisCounters {
    async fn incr(&self, key: &str, delta: i64, ttl: Duration) -> StoreResult<i64> {
        let mut conn = self.conn.clone();
        Ok(self
            .incr
            .key(self.key(key))
            .arg(delta)
            .arg(ms(ttl))
            .invoke_async(&mut conn)
            .await?)
    }

    async fn get(&self, key: &str) -> StoreResult<i64> {
        let mut conn = self.conn.clone();
        let v: Option<i64> = conn.get(self.key(key)).await?;
        Ok(v.unwrap_or(0))
    }

    async fn reserve(
        &self,
        key: &str,
        amount: i64,
        limit: i64,
        ttl: Duration,
    ) -> StoreResult<Reservation> {
        let mut conn = self.conn.clone();
        let (granted, value): (i64, i64) = self
            .reserve
            .key(self.key(key))
            .arg(amount)
            .arg(limit)
            .arg(ms(ttl))
            .invoke_async(&mut conn)
            .await?;
        Ok(if granted == 1 {
            Reservation::Granted(value)
        } else {
            Reservation::Denied(value)
        })
    }

    async fn rate_limit(
        &self,
        key: &str,
        limit: u64,
        window: Duration,
    ) -> StoreResult<RateDecision> {
        let mut conn = self.conn.clone();
        let (allowed, remaining, retry_ms): (i64, i64, i64) = self
            .gcra
            .key(self.key(key))
            .arg(limit)
            .arg(ms(window))
            .invoke_async(&mut conn)
            .await?;
        Ok(RateDecision {
            allowed: allowed == 1,
            limit: limit.max(1),
            remaining: remaining.max(0) as u64,
            retry_after: Duration::from_millis(retry_ms.max(0) as u64),
        })
    }

    async fn set_once(&self, key: &str, ttl: Duration) -> StoreResult<bool> {
        let mut conn = self.conn.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ms(ttl))
            .query_async(&mut conn)
            .await?;
        Ok(set.is_some())
    }

    async fn cache_get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let mut conn = self.conn.clone();
        Ok(conn.get(self.key(key)).await?)
    }

    async fn cache_set(&self, key: &str, value: &[u8], ttl: Duration) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let _: () = conn.pset_ex(self.key(key), value, ms(ttl)).await?;
        Ok(())
    }

    async fn cache_delete(&self, key: &str) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let _: () = conn.del(self.key(key)).await?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}
