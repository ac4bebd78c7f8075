#!/usr/bin/env python3
"""Hot-SKU holds on DynamoDB: a discrete-event MODEL (issue 9), not a measurement against AWS.

One SKU, holds arriving as a Poisson process. Each hold is one TransactWriteItems over a stock
counter item (condition `available >= :q`) and the hold's own item, as in
shared/runtime/src/inventory/dynamo.rs. Only the counter items are contended (every hold item has
its own key), so only they are modelled:

* a committing transaction locks its counter item for a service time (the window between
  DynamoDB's prepare and commit of that item); another transaction reaching the item inside that
  window is cancelled (TransactionCanceledException, reason TransactionConflict) and does not queue;
* each counter item lives in one partition and gets at most that partition's write throughput
  (1,000 WCU/s, a token bucket); a committed or condition-failed transactional write of a <= 1 KB
  item costs 2 WCU, so one item commits at most 500 holds/s; an attempt finding no tokens is
  cancelled as throttled;
* a cancelled attempt (conflict or throttle) is retried by the client with full-jitter exponential
  backoff and a bounded number of attempts (default: the AWS SDK for Rust's standard retry:
  3 attempts, 1 s initial backoff, 20 s cap); a hold out of attempts has failed;
* with N shards the SKU's stock is split over N counter items; a hold tries one random shard and,
  when that shard cannot cover its quantity (condition failed), falls back to shards it has not
  tried (all of them by default, or a bounded number); an out-of-stock answer is "false" when the
  shards together still held enough units at the moment of the answer (fragmentation);
* in the sell-out table a share of granted holds is given back later (abandoned checkouts), to
  the shard the hold took its units from, retried until it lands.

Cancelled attempts are modelled as free and condition failures as not locking the item; both
flatter the single counter slightly. Everything is seeded: the same arguments print the same tables.

    python3 bench/hot-sku/simulate.py            # the tables of docs/hot-sku.md
    python3 bench/hot-sku/simulate.py --help     # the model's parameters
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import sys
import time
from dataclasses import dataclass, replace

RATES = (50, 100, 250, 500, 1000, 2000, 4000)
SHARDS = (1, 2, 4, 8, 16)
# Units per hold (catalog bounds allow more; most carts take one).
QUANTITIES = ((1, 0.80), (2, 0.15), (3, 0.05))
MEAN_QUANTITY = sum(q * p for q, p in QUANTITIES)


@dataclass(frozen=True)
class Retry:
    """How the client retries an attempt cancelled by a conflict or a throttle."""

    name: str
    attempts: int  # attempts in all, the first included
    base_ms: float  # full jitter: retry k waits uniform(0, min(cap, base * 2**(k-1)))
    cap_ms: float
    jitter: bool = True  # False: every retry waits exactly base_ms

    def delay_s(self, retry: int, rng: random.Random) -> float:
        if not self.jitter:
            return self.base_ms / 1000
        return rng.uniform(0.0, min(self.cap_ms, self.base_ms * 2 ** (retry - 1))) / 1000


# The AWS SDK for Rust's RetryConfig::standard(): 3 attempts, initial backoff 1 s, max 20 s.
SDK_STANDARD = Retry("sdk-standard", attempts=3, base_ms=1000, cap_ms=20_000)
# An application-level retry tuned for a hot item: more, much shorter tries.
FAST = Retry("fast-jitter", attempts=6, base_ms=10, cap_ms=200)


@dataclass(frozen=True)
class Model:
    service_ms: float = 4.0  # mean lock window of one transaction on the counter item
    rtt_ms: float = 2.0  # client <-> DynamoDB time outside the lock
    partition_wcu: float = 1000.0  # per-partition write limit (WCU/s)
    wcu_per_write: float = 2.0  # transactional write of a <= 1 KB item
    burst_s: float = 0.05  # depth of the per-item token bucket, in seconds of partition_wcu
    duration_s: float = 5.0  # arrivals during [0, duration)
    retry: Retry = SDK_STANDARD
    fallback: int | None = None  # more shards tried after an empty one (None: every shard)
    release_share: float = 0.0  # share of granted holds given back (abandoned checkouts)
    release_after_s: tuple[float, float] = (0.5, 2.0)  # uniform delay before a release


@dataclass
class Result:
    rate: int
    shards: int
    stock: int
    holds: int = 0
    ok: int = 0
    committed_in_window: int = 0
    attempts: int = 0
    conflicts: int = 0
    throttles: int = 0
    empty_attempts: int = 0  # condition failed on a shard lacking the quantity
    failed: int = 0  # out of attempts
    oos: int = 0
    false_oos: int = 0
    units_held: int = 0
    releases: int = 0  # holds given back to their own shard
    release_retries: int = 0  # release attempts that met a locked or throttled item
    sold_out_at: float | None = None  # when the shards' total first reached 0
    left_at_end: int = 0
    latencies_ms: list[float] | None = None


class Shard:
    __slots__ = ("available", "locked_until", "tokens", "refilled_at")

    def __init__(self, available: int, depth: float) -> None:
        self.available = available
        self.locked_until = 0.0
        self.tokens = depth
        self.refilled_at = 0.0


class Hold:
    __slots__ = ("arrived", "quantity", "cancelled", "empty", "shard")

    def __init__(self, arrived: float, quantity: int) -> None:
        self.arrived = arrived
        self.quantity = quantity
        self.cancelled = 0
        self.empty: set[int] = set()
        self.shard = -1  # the shard it holds from, once granted


ARRIVE, ATTEMPT, OUT_OF_STOCK, RELEASE = 0, 1, 2, 3


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return math.nan
    index = min(len(sorted_values) - 1, max(0, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def simulate(rate: int, shards: int, stock: int, model: Model, seed: str) -> Result:
    rng = random.Random(f"{seed}/{rate}/{shards}/{stock}/{model}")
    depth = model.partition_wcu * model.burst_s
    items = [Shard(stock // shards + (i < stock % shards), depth) for i in range(shards)]
    total = stock
    result = Result(rate=rate, shards=shards, stock=stock, latencies_ms=[])
    rtt = model.rtt_ms / 1000
    shape = 4.0  # gamma-distributed service time: mean service_ms, coefficient of variation 0.5
    scale = model.service_ms / 1000 / shape
    quantities = [q for q, _ in QUANTITIES]
    weights = [p for _, p in QUANTITIES]
    tries_allowed = shards if model.fallback is None else min(shards, 1 + model.fallback)
    holds: list[Hold] = []
    events: list[tuple[float, int, int, int]] = []
    seq = 0

    def push(at: float, kind: int, hold: int) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (at, seq, kind, hold))

    def refill(shard: Shard, now: float) -> None:
        shard.tokens = min(depth, shard.tokens + (now - shard.refilled_at) * model.partition_wcu)
        shard.refilled_at = now

    def cancelled(index: int, hold: Hold, answered: float) -> None:
        hold.cancelled += 1
        if hold.cancelled >= model.retry.attempts:
            result.failed += 1
        else:
            push(answered + model.retry.delay_s(hold.cancelled, rng), ATTEMPT, index)

    push(rng.expovariate(rate), ARRIVE, -1)
    while events:
        now, _, kind, index = heapq.heappop(events)
        if kind == ARRIVE:
            if now >= model.duration_s:
                continue
            holds.append(Hold(now, rng.choices(quantities, weights)[0]))
            result.holds += 1
            push(now, ATTEMPT, len(holds) - 1)
            push(now + rng.expovariate(rate), ARRIVE, -1)
            continue
        hold = holds[index]
        if kind == OUT_OF_STOCK:
            result.oos += 1
            if total >= hold.quantity:
                result.false_oos += 1
            continue
        if kind == RELEASE:
            # A release must hit the shard the hold took from (recorded in the hold item); the
            # webhook and the sweeper retry it until it lands.
            shard = items[hold.shard]
            refill(shard, now)
            if shard.locked_until > now or shard.tokens < model.wcu_per_write:
                result.release_retries += 1
                push(now + rtt + rng.uniform(0.0, 0.05), RELEASE, index)
                continue
            shard.tokens -= model.wcu_per_write
            shard.locked_until = now + rng.gammavariate(shape, scale)
            shard.available += hold.quantity
            total += hold.quantity
            result.releases += 1
            continue
        # ATTEMPT: the request reaches one counter item now.
        result.attempts += 1
        untried = [s for s in range(shards) if s not in hold.empty]
        shard_index = untried[0] if len(untried) == 1 else rng.choice(untried)
        shard = items[shard_index]
        refill(shard, now)
        if shard.locked_until > now:
            result.conflicts += 1
            cancelled(index, hold, now + rtt)
        elif shard.tokens < model.wcu_per_write:
            result.throttles += 1
            cancelled(index, hold, now + rtt)
        elif shard.available < hold.quantity:
            shard.tokens -= model.wcu_per_write
            result.empty_attempts += 1
            hold.empty.add(shard_index)
            if len(hold.empty) >= tries_allowed:
                push(now + rtt, OUT_OF_STOCK, index)
            else:
                push(now + rtt, ATTEMPT, index)
        else:
            shard.tokens -= model.wcu_per_write
            service = rng.gammavariate(shape, scale)
            shard.locked_until = now + service
            shard.available -= hold.quantity
            total -= hold.quantity
            if total == 0 and result.sold_out_at is None:
                result.sold_out_at = now
            result.ok += 1
            result.units_held += hold.quantity
            if now + service < model.duration_s:
                result.committed_in_window += 1
            result.latencies_ms.append((now + service + rtt - hold.arrived) * 1000)
            if model.release_share and rng.random() < model.release_share:
                hold.shard = shard_index
                push(now + rng.uniform(*model.release_after_s), RELEASE, index)
    result.left_at_end = total
    result.latencies_ms.sort()
    return result


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "    -"


def ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = " | ".join(h.rjust(w) for h, w in zip(headers, widths))
    print(line)
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(c.rjust(w) for c, w in zip(row, widths)))
    print()


def capacity_table(model: Model, seed: str) -> None:
    print(
        f"Table 1. Ample stock, {model.duration_s:g} s of arrivals, service {model.service_ms:g} ms"
        f" (lock window), rtt {model.rtt_ms:g} ms, retry {model.retry.name}"
        f" ({model.retry.attempts} attempts, base {model.retry.base_ms:g} ms)."
    )
    print(
        "achieved = holds committed per second during the window; ok = holds that got their units;"
        " conflict/throttle = share of all attempts; reads = GetItems (1 RCU each, strongly"
        " consistent) to show the total available."
    )
    headers = ["offered/s", "shards", "achieved/s", "ok", "p50 ms", "p99 ms", "conflict",
               "throttle", "failed", "attempts/hold", "reads"]
    rows = []
    for rate in RATES:
        for shards in SHARDS:
            stock = int(rate * model.duration_s * 3 * 2)  # never runs low
            r = simulate(rate, shards, stock, model, seed)
            rows.append([
                f"{rate:,}", str(shards), f"{r.committed_in_window / model.duration_s:,.0f}",
                pct(r.ok, r.holds), ms(percentile(r.latencies_ms, 50)),
                ms(percentile(r.latencies_ms, 99)), pct(r.conflicts, r.attempts),
                pct(r.throttles, r.attempts), f"{r.failed:,} ({pct(r.failed, r.holds).strip()})",
                f"{r.attempts / r.holds:.2f}", str(shards),
            ])
    print_table(headers, rows)


def sellout_table(rate: int, stock: int, model: Model, seed: str) -> None:
    lo, hi = model.release_after_s
    print(
        f"Table 2. Sell-out: {stock:,} units, {rate:,} holds/s offered for {model.duration_s:g} s"
        f" (demand {rate * model.duration_s * MEAN_QUANTITY:,.0f} units), retry {model.retry.name};"
        f" {model.release_share:.0%} of granted holds are given back to their shard after"
        f" {lo:g}-{hi:g} s (abandoned checkouts, compressed in time)."
    )
    print(
        "fallback = other shards tried after an empty one; granted = units granted (released units"
        " can be granted again); left = units on the shelf at the end; false OOS = out-of-stock"
        " answers while the shards together held the quantity; extra reads = reads an honest"
        " `available` in the OOS answers would need (N-1 each)."
    )
    headers = ["shards", "fallback", "granted", "sold out at", "left", "failed", "OOS answers",
               "false OOS", "empty tries/hold", "release retries", "extra reads"]
    rows = []
    for shards in SHARDS:
        fallbacks: tuple[int | None, ...] = (None,) if shards == 1 else (None, 1)
        for fallback in fallbacks:
            variant = replace(model, fallback=fallback)
            r = simulate(rate, shards, stock, variant, seed)
            rows.append([
                str(shards), "all" if fallback is None else str(fallback), f"{r.units_held:,}",
                "never" if r.sold_out_at is None else f"{r.sold_out_at:.2f} s",
                f"{r.left_at_end:,}", f"{r.failed:,}", f"{r.oos:,}",
                f"{r.false_oos:,} ({pct(r.false_oos, r.oos).strip()})",
                f"{r.empty_attempts / r.holds:.2f}", f"{r.release_retries:,}",
                f"{r.oos * (shards - 1):,}",
            ])
    print_table(headers, rows)


def sensitivity_table(model: Model, seed: str) -> None:
    current = Retry("current-code", attempts=2, base_ms=model.rtt_ms + 1, cap_ms=0, jitter=False)
    print(
        "Table 3. Sensitivity at 1,000 holds/s offered, ample stock: the lock window and the retry"
        " policy (current-code = this repository today: one immediate retry after a hold read,"
        " then 409 session_busy)."
    )
    headers = ["service ms", "retry", "shards", "achieved/s", "ok", "p50 ms", "p99 ms",
               "conflict", "throttle", "failed"]
    rows = []
    cases = [(s, SDK_STANDARD) for s in (1.0, 2.0, 8.0)] + [
        (model.service_ms, FAST), (model.service_ms, current)]
    for service, retry in cases:
        for shards in (1, 4):
            variant = replace(model, service_ms=service, retry=retry)
            r = simulate(1000, shards, 1000 * 30, variant, seed)
            rows.append([
                f"{service:g}", retry.name, str(shards),
                f"{r.committed_in_window / model.duration_s:,.0f}", pct(r.ok, r.holds),
                ms(percentile(r.latencies_ms, 50)), ms(percentile(r.latencies_ms, 99)),
                pct(r.conflicts, r.attempts), pct(r.throttles, r.attempts),
                f"{r.failed:,} ({pct(r.failed, r.holds).strip()})",
            ])
    print_table(headers, rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", default="hot-sku-1", help="seed of every random draw")
    parser.add_argument("--service-ms", type=float, default=Model.service_ms,
                        help="mean lock window of one transaction on the counter item")
    parser.add_argument("--rtt-ms", type=float, default=Model.rtt_ms,
                        help="client <-> DynamoDB time outside the lock")
    parser.add_argument("--duration-s", type=float, default=Model.duration_s,
                        help="seconds of arrivals per configuration")
    parser.add_argument("--sellout-rate", type=int, default=1000,
                        help="holds/s offered in the sell-out table")
    parser.add_argument("--sellout-stock", type=int, default=2000,
                        help="units in stock at the start of the sell-out table")
    args = parser.parse_args()
    model = Model(service_ms=args.service_ms, rtt_ms=args.rtt_ms, duration_s=args.duration_s)
    started = time.perf_counter()
    print("Hot-SKU hold simulation: a model of DynamoDB's documented limits, not a measurement.\n")
    capacity_table(model, args.seed)
    sellout = replace(model, release_share=0.3)
    sellout_table(args.sellout_rate, args.sellout_stock, sellout, args.seed)
    sensitivity_table(model, args.seed)
    print(f"seed {args.seed!r}")
    print(f"simulated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
