"""The pacer's rule: climb while Slack refuses little, drop to what it admitted when it refuses more."""

from __future__ import annotations

from outbound.pacer import Pacer


class Tick:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run(pacer: Pacer, tick: Tick, seconds: float, *, admitted_per_second: int, refused_per_second: int) -> None:
    """Feed the pacer answers for `seconds`, as a saturated sender would see them."""
    steps = int(seconds / 0.1)
    for _ in range(steps):
        tick.now += 0.1
        for _ in range(admitted_per_second // 10):
            pacer.admitted()
        for _ in range(refused_per_second // 10):
            pacer.rate_limited(1.0)
        pacer._demand = True  # callers are waiting on the pacer
        pacer.update(tick.now)


def test_it_climbs_while_nothing_is_refused() -> None:
    tick = Tick()
    pacer = Pacer(rate=50, clock=tick)
    run(pacer, tick, 2, admitted_per_second=50, refused_per_second=0)
    assert pacer.rate > 150  # startup grows by half every half second


def test_it_drops_to_the_admitted_rate_when_refusals_are_frequent() -> None:
    tick = Tick()
    pacer = Pacer(rate=300, clock=tick)
    run(pacer, tick, 1, admitted_per_second=100, refused_per_second=200)
    assert 90 <= pacer.rate <= 110
    # then climbs gently, 5% a half second, from there
    run(pacer, tick, 1, admitted_per_second=100, refused_per_second=0)
    assert 100 < pacer.rate < 125


def test_a_few_refusals_do_not_stop_the_climb() -> None:
    tick = Tick()
    pacer = Pacer(rate=50, clock=tick)
    run(pacer, tick, 1, admitted_per_second=100, refused_per_second=0)
    pacer._starting = False
    before = pacer.rate
    run(pacer, tick, 2, admitted_per_second=200, refused_per_second=10)  # 5%: random, not our pace
    assert pacer.rate > before


def test_when_most_calls_are_refused_everything_waits_retry_after() -> None:
    tick = Tick()
    pacer = Pacer(rate=100, clock=tick)
    run(pacer, tick, 0.6, admitted_per_second=10, refused_per_second=100)
    assert pacer._paused_until > tick.now
