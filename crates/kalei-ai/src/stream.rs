//! Streaming Turn: SSE chat-completion chunks become [`TurnEvent::Delta`]s,
//! then one validated [`TurnEvent::Done`]. Fallback (retry, next target,
//! `local`) only before the first content byte; afterwards a stall, a
//! stream that ends without a finish reason, unsafe or invalid output is a
//! [`GatewayError::Stream`].

use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::gateway::{classify, turn_spec, AttemptError, Ctx, Gateway, Spec, TargetFail};
use crate::openai::{parse_retry_after, Chunk, Completion, Remote, SseDecoder};
use crate::safety;
use crate::types::*;
use crate::LOCAL;

type Tx = mpsc::Sender<Result<TurnEvent, GatewayError>>;

enum StreamFail {
    /// Nothing was sent yet: fallback is allowed.
    Before(TargetFail),
    /// Content was sent: the stream fails.
    After(String),
    /// The consumer went away.
    Closed,
}

impl Gateway {
    /// Turn as a stream of events: provisional text deltas, then the
    /// validated result (`Done`) or an error. Dropping the stream cancels
    /// the call.
    pub fn turn_stream(
        &self,
        req: TurnRequest,
    ) -> impl futures::Stream<Item = Result<TurnEvent, GatewayError>> + Send + Unpin + 'static {
        let (tx, rx) = mpsc::channel(64);
        let gw = self.clone();
        tokio::spawn(async move { gw.stream_turn(req, tx).await });
        ReceiverStream::new(rx)
    }

    async fn stream_turn(&self, req: TurnRequest, tx: Tx) {
        let (spec, local) = turn_spec(&req);
        if let Some(e) = self.crisis_refusal(&spec) {
            let _ = tx.send(Err(e)).await;
            return;
        }
        let f = Feature::Turn;
        let mut ctx = self.new_ctx(f, &req.user_id, true);
        let mut local = Some(local);
        let targets = self.targets(f, spec.remote_allowed);
        let done = |r: Result<Generated<TurnOutput>, GatewayError>| {
            r.map(|g| TurnEvent::Done(Box::new(g)))
        };
        if let Some(r) = self.pressure(&mut ctx, &targets, &mut local).await {
            let _ = tx.send(done(r)).await;
            return;
        }
        let route = self.inner.cfg.routes.get(f);
        let deadline = ctx.started + Duration::from_millis(route.deadline_ms);
        let pv = self.inner.prompts.version(f).to_string();
        let rendered = self.inner.prompts.render(f, &spec.vars).ok();
        let mut last_error = String::from("no target");
        for (i, name) in targets.iter().enumerate() {
            if name == LOCAL {
                let lf = local.take().expect("local once");
                let g = self.local_result(&mut ctx, lf(), i > 0, "ok");
                let _ = tx.send(done(Ok(g))).await;
                return;
            }
            let Some((sys, user)) = &rendered else {
                continue;
            };
            let remote = self.inner.remotes[name].clone();
            match self
                .stream_remote(&mut ctx, &remote, sys, user, deadline, &spec, &pv, &tx)
                .await
            {
                Ok(mut g) => {
                    g.degraded = i > 0;
                    self.finish_metrics(&mut ctx, "ok", name);
                    g.latency = ctx.started.elapsed();
                    g.overhead = g.latency.saturating_sub(ctx.provider_wait);
                    let _ = tx.send(done(Ok(g))).await;
                    return;
                }
                Err(StreamFail::Closed) => {
                    self.finish_metrics(&mut ctx, "cancelled", name);
                    return;
                }
                Err(StreamFail::After(e)) => {
                    tracing::warn!(target: "kalei_ai", feature = %f, ai_target = %name, error = %e, "stream failed after content");
                    self.finish_metrics(&mut ctx, "stream_failed", name);
                    let _ = tx.send(Err(GatewayError::Stream(e))).await;
                    return;
                }
                Err(StreamFail::Before(TargetFail::Budget(which))) => {
                    let r = self.on_budget_denied(&mut ctx, which, &mut local);
                    let _ = tx.send(done(r)).await;
                    return;
                }
                Err(StreamFail::Before(TargetFail::Failed(e))) => {
                    tracing::warn!(target: "kalei_ai", feature = %f, ai_target = %name, error = %e, "stream target failed before content; falling back");
                    metrics::counter!("kalei_ai_fallbacks_total", "feature" => f.as_str(), "from" => name.clone())
                        .increment(1);
                    last_error = format!("{name}: {e}");
                }
                Err(StreamFail::Before(TargetFail::Deadline)) => {
                    last_error = format!("{name}: deadline reached");
                    if targets[i + 1..].iter().any(|t| t == LOCAL) {
                        let lf = local.take().expect("local once");
                        let g = self.local_result(&mut ctx, lf(), true, "ok");
                        let _ = tx.send(done(Ok(g))).await;
                        return;
                    }
                    break;
                }
            }
        }
        self.finish_metrics(&mut ctx, "unavailable", LOCAL);
        let _ = tx
            .send(Err(GatewayError::Unavailable {
                feature: f,
                last_error,
            }))
            .await;
    }

    #[allow(clippy::too_many_arguments)]
    async fn stream_remote(
        &self,
        ctx: &mut Ctx,
        remote: &Remote,
        system: &str,
        user: &str,
        deadline: Instant,
        spec: &Spec<'_>,
        pv: &str,
        tx: &Tx,
    ) -> Result<Generated<TurnOutput>, StreamFail> {
        let f = ctx.feature;
        let inner = &*self.inner;
        let route = inner.cfg.routes.get(f);
        let res = &inner.cfg.resilience;
        let breaker = &inner.breakers[&remote.name];
        let (_, schema) = inner.schemas.get(f);
        let mut messages: Vec<(&str, String)> =
            vec![("system", system.to_string()), ("user", user.to_string())];
        let mut repaired = false;
        let mut retries = 0u32;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(StreamFail::Before(TargetFail::Deadline));
            }
            let Some(permit) = breaker.try_acquire(inner.clock.now_ms()) else {
                return Err(StreamFail::Before(TargetFail::Failed(
                    "circuit breaker open".into(),
                )));
            };
            let prompt_chars: usize = messages.iter().map(|(_, c)| c.len()).sum();
            let reserved = self.reservation(remote, f, prompt_chars);
            let ticket = match inner
                .budgets
                .reserve(&ctx.user_hash, reserved.0, reserved.1)
                .await
            {
                Ok(t) => t,
                Err(which) => {
                    breaker.release(permit);
                    self.meter(
                        ctx,
                        remote,
                        None,
                        None,
                        "budget_denied",
                        None,
                        Duration::ZERO,
                        pv,
                    );
                    return Err(StreamFail::Before(TargetFail::Budget(which)));
                }
            };
            let msgs: Vec<(&str, &str)> = messages.iter().map(|(r, c)| (*r, c.as_str())).collect();
            let body = remote.body(f, schema, &msgs, route.max_tokens, route.temperature, true);
            ctx.attempt += 1;
            let ttft_at = now + Duration::from_millis(res.ttft_timeout_ms).min(deadline - now);
            let t0 = Instant::now();
            let outcome = self.read_stream(remote, body, ttft_at, deadline, tx).await;
            let waited = t0.elapsed();
            ctx.provider_wait += waited;
            match outcome {
                Read::Failed {
                    error,
                    content_sent: false,
                } => {
                    inner.budgets.release(ticket).await;
                    if error.unhealthy() {
                        breaker.failure(permit, inner.clock.now_ms());
                    } else {
                        breaker.success(permit);
                    }
                    self.meter(ctx, remote, None, None, error.outcome(), None, waited, pv);
                    if error.retryable() && retries < res.max_retries {
                        let wait = self.backoff(retries, error.retry_after());
                        let too_long = error
                            .retry_after()
                            .is_some_and(|w| w.as_millis() as u64 > res.max_retry_after_ms);
                        if !too_long && Instant::now() + wait < deadline {
                            retries += 1;
                            metrics::counter!("kalei_ai_retries_total", "target" => remote.name.clone())
                                .increment(1);
                            tokio::time::sleep(wait).await;
                            ctx.provider_wait += wait;
                            continue;
                        }
                    }
                    return Err(StreamFail::Before(TargetFail::Failed(error.to_string())));
                }
                Read::Failed {
                    error,
                    content_sent: true,
                } => {
                    // Tokens were spent but not reported: keep the reservation.
                    inner
                        .budgets
                        .reconcile(ticket, reserved.0, reserved.1)
                        .await;
                    breaker.failure(permit, inner.clock.now_ms());
                    self.meter(ctx, remote, None, None, "stream_failed", None, waited, pv);
                    return Err(StreamFail::After(error.to_string()));
                }
                Read::Closed => {
                    inner
                        .budgets
                        .reconcile(ticket, reserved.0, reserved.1)
                        .await;
                    breaker.release(permit);
                    self.meter(ctx, remote, None, None, "cancelled", None, waited, pv);
                    return Err(StreamFail::Closed);
                }
                Read::Unsafe(v) => {
                    inner
                        .budgets
                        .reconcile(ticket, reserved.0, reserved.1)
                        .await;
                    breaker.success(permit);
                    self.meter(ctx, remote, None, None, "unsafe_output", None, waited, pv);
                    return Err(StreamFail::After(format!("unsafe output: rule {}", v.rule)));
                }
                Read::Complete {
                    completion: c,
                    content_sent,
                } => {
                    breaker.success(permit);
                    let cost = self.cost_of(remote, c.model.as_deref(), c.usage.as_ref());
                    let (tokens, nanos) = self.spend_of(cost, c.usage.as_ref(), reserved);
                    inner.budgets.reconcile(ticket, tokens, nanos).await;
                    match self.check::<TurnOutput>(f, &c, spec) {
                        Ok((out, _)) => {
                            self.meter(ctx, remote, Some(&c), cost, "ok", None, waited, pv);
                            return Ok(Generated {
                                output: out,
                                model: c.model.clone().unwrap_or_else(|| remote.cfg.model.clone()),
                                provider: c.provider.clone().unwrap_or_else(|| remote.name.clone()),
                                target: remote.name.clone(),
                                prompt_version: pv.to_string(),
                                usage: c
                                    .usage
                                    .as_ref()
                                    .map(|u| Usage {
                                        tokens_in: u.prompt_tokens,
                                        tokens_out: u.completion_tokens,
                                    })
                                    .unwrap_or_default(),
                                cost_nanos: cost,
                                cached: false,
                                degraded: false,
                                latency: Duration::ZERO,
                                overhead: Duration::ZERO,
                            });
                        }
                        Err(p) => {
                            self.meter(ctx, remote, Some(&c), cost, p.outcome(), None, waited, pv);
                            if content_sent {
                                return Err(StreamFail::After(p.log_text()));
                            }
                            if !repaired {
                                repaired = true;
                                messages.push(("assistant", c.content.clone()));
                                messages.push(("user", p.repair_message()));
                                continue;
                            }
                            return Err(StreamFail::Before(TargetFail::Failed(p.log_text())));
                        }
                    }
                }
            }
        }
    }

    async fn read_stream(
        &self,
        remote: &Remote,
        body: Vec<u8>,
        ttft_at: Instant,
        deadline: Instant,
        tx: &Tx,
    ) -> Read {
        let t0 = Instant::now();
        let idle = Duration::from_millis(self.inner.cfg.resilience.stream_idle_timeout_ms);
        let mut rb = self
            .inner
            .http
            .post(&remote.url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "text/event-stream")
            .body(body);
        if let Some(a) = &remote.auth {
            rb = rb.header(AUTHORIZATION, a);
        }
        let failed = |error| Read::Failed {
            error,
            content_sent: false,
        };
        let resp = match tokio::time::timeout_at(ttft_at.into(), rb.send()).await {
            Err(_) => return failed(AttemptError::Timeout),
            Ok(Err(e)) => return failed(classify(e)),
            Ok(Ok(r)) => r,
        };
        if !resp.status().is_success() {
            let retry_after = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, self.inner.clock.now_ms()));
            return failed(AttemptError::Status {
                code: resp.status().as_u16(),
                retry_after,
            });
        }
        let mut body = resp.bytes_stream();
        let mut dec = SseDecoder::default();
        let mut events = Vec::new();
        let mut c = Completion {
            content: String::new(),
            finish_reason: None,
            model: None,
            provider: None,
            usage: None,
        };
        let mut sent = false;
        let mut done_marker = false;
        loop {
            let until = if sent { Instant::now() + idle } else { ttft_at }.min(deadline);
            let next = match tokio::time::timeout_at(until.into(), body.next()).await {
                Err(_) => {
                    let e = if sent {
                        AttemptError::Transport("stream stalled".into())
                    } else {
                        AttemptError::Timeout
                    };
                    return Read::Failed {
                        error: e,
                        content_sent: sent,
                    };
                }
                Ok(n) => n,
            };
            let bytes = match next {
                None => break,
                Some(Err(e)) => {
                    return Read::Failed {
                        error: classify(e),
                        content_sent: sent,
                    }
                }
                Some(Ok(b)) => b,
            };
            events.clear();
            dec.feed(&bytes, &mut events);
            for data in &events {
                if data.trim() == "[DONE]" {
                    done_marker = true;
                    continue;
                }
                let chunk: Chunk = match serde_json::from_str(data) {
                    Ok(ch) => ch,
                    Err(e) => {
                        return Read::Failed {
                            error: AttemptError::Decode(format!("undecodable stream chunk: {e}")),
                            content_sent: sent,
                        }
                    }
                };
                if chunk.model.is_some() {
                    c.model = chunk.model.clone();
                }
                if chunk.provider.is_some() {
                    c.provider = chunk.provider.clone();
                }
                if chunk.usage.is_some() {
                    c.usage = chunk.usage.clone();
                }
                if let Some(fr) = chunk.finish_reason() {
                    c.finish_reason = Some(fr.to_string());
                }
                if let Some(text) = chunk.content() {
                    c.content.push_str(text);
                    if let Err(v) = safety::screen(&c.content) {
                        return Read::Unsafe(v);
                    }
                    if !sent {
                        metrics::histogram!("kalei_ai_ttft_seconds", "target" => remote.name.clone())
                            .record(t0.elapsed().as_secs_f64());
                    }
                    sent = true;
                    if tx
                        .send(Ok(TurnEvent::Delta(text.to_string())))
                        .await
                        .is_err()
                    {
                        return Read::Closed;
                    }
                }
            }
        }
        let _ = done_marker;
        if c.finish_reason.is_none() {
            return Read::Failed {
                error: AttemptError::Transport("stream ended without a finish reason".into()),
                content_sent: sent,
            };
        }
        Read::Complete {
            completion: c,
            content_sent: sent,
        }
    }
}

enum Read {
    Failed {
        error: AttemptError,
        content_sent: bool,
    },
    Unsafe(safety::Violation),
    Closed,
    Complete {
        completion: Completion,
        content_sent: bool,
    },
}
