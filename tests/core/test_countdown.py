"""'Time left' counts down smoothly: never '?' once known, never up by more than 20%, and it follows the truth."""

import itertools

import pytest

from core.training.estimate import MAX_RISE, Countdown

# What the Train page showed once, a second apart (None: during an evaluation), from issue 12.
JUMPY = [39.0, 23.0, 13.0, 17.0, 15.0, None, 13.0, 9.0, None, 7.0, 2.3, 7.1, 0.9]


def shown_every_quarter_second(estimates):
    """(time, shown value just before the update, shown value after it) at 4 reads per second."""
    countdown, out = Countdown(), []
    for second, estimate in enumerate(estimates):
        before = countdown.read(second)
        after = countdown.update(second, estimate)
        out.append((second, before, after))
        out += [(second + q / 4, None, countdown.read(second + q / 4)) for q in (1, 2, 3)]
    return out


def test_time_left_never_rises_by_more_than_a_fifth_and_never_becomes_unknown():
    shown = shown_every_quarter_second(JUMPY)
    values = [after for _, _, after in shown]
    assert values[0] == 39.0 and all(v is not None for v in values)
    for _, before, after in shown:
        if before is not None:
            assert after <= (1 + MAX_RISE) * before + 1e-9
    for earlier, later in itertools.pairwise(values):  # between updates it only counts down
        assert later <= (1 + MAX_RISE) * earlier + 1e-9


def test_many_updates_a_second_cannot_add_up_to_a_rise_of_more_than_a_fifth_in_a_second():
    countdown = Countdown()
    countdown.update(0.0, 40.0)
    reads = []
    for tick in range(1, 41):  # a sweep reports every chunk, 5 times a second; its estimate doubles
        now = tick / 5
        countdown.update(now, 80.0)
        reads.append(countdown.read(now))
    for earlier, later in zip(reads, reads[5:], strict=False):  # what a page polling once a second shows
        assert later <= (1 + MAX_RISE) * earlier + 1e-9
    assert reads[-1] > 40.0  # and it does follow the longer estimate


def test_steady_estimates_count_down_with_the_clock():
    countdown = Countdown()
    for second in range(10):
        assert countdown.update(second, 30.0 - second) == pytest.approx(30.0 - second)
    assert countdown.read(10.5) == pytest.approx(19.5)


def test_a_run_that_turns_out_slower_gets_a_longer_time_left_within_a_few_updates():
    countdown = Countdown()
    countdown.update(0, 10.0)
    for second in range(1, 12):  # another visitor started: really 20 s left, and still 20 s a second later...
        shown = countdown.update(second, 20.0)
    assert shown == pytest.approx(20.0, rel=0.2)


def test_a_first_guess_too_low_climbs_to_the_truth_instead_of_sitting_at_zero():
    countdown = Countdown()
    countdown.update(0.0, 7.0)  # the first chunks looked fast: "7 s"
    shown = []
    for tick in range(1, 49):  # then 14 s of training, measured right, four updates a second
        now = tick / 4
        before = countdown.read(now)
        shown.append(countdown.update(now, 14.0 - now))
        assert 0 < shown[-1] <= (1 + MAX_RISE) * before  # never zero while it trains, never a jump
    assert shown[19] == pytest.approx(14.0 - 5.0, rel=0.1)  # within 5 s it tells the truth
    assert shown[-1] == pytest.approx(2.0, rel=0.05)


def test_a_first_guess_far_too_low_never_shows_zero_while_it_trains():
    countdown = Countdown()
    countdown.update(0.0, 1.0)  # "1 s", then 14 s of training
    shown = [countdown.update(tick / 4, 14.0 - tick / 4) for tick in range(1, 41)]
    assert min(shown) > 0 and shown[-1] > shown[3]  # it climbs (at most 20% a second) instead of sitting at 0


def test_nothing_is_shown_before_the_first_estimate():
    countdown = Countdown()
    assert countdown.update(0.0, None) is None and countdown.read(1.0) is None
    assert countdown.update(1.0, 5.0) == 5.0
    assert countdown.read(9.0) == 0.0  # never below zero
    assert countdown.update(9.0, 0.0) == 0.0  # finished


def test_time_left_stands_still_while_a_run_waits_for_its_slot_back_then_counts_on_as_if_it_never_waited():
    waited, never = Countdown(), Countdown()
    for countdown in (waited, never):
        countdown.update(0.0, 30.0)
        countdown.update(1.0, 29.0)
    waited.hold(2.0)  # it gave its slot to another visitor for 10 minutes
    assert waited.read(300.0) == waited.read(602.0) == never.read(2.0) > 0
    waited.go_on(602.0)
    assert waited.read(603.0) == pytest.approx(never.read(3.0))
    assert waited.update(604.0, 26.0) == pytest.approx(never.update(4.0, 26.0))  # and it follows new estimates
