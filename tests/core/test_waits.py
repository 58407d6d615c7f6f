"""The words of a wait estimate (core/waits.py): what every kiosk, ticket, phone page and printer shows."""

from hypothesis import given
from hypothesis import strategies as st

from hall_controller.core.waits import WaitEstimate

waits = st.integers(min_value=0, max_value=6 * 3600)
aheads = st.integers(min_value=0, max_value=500)


@given(waits, aheads)
def test_minutes_are_the_nearest_whole_minute_and_never_no_wait_with_anyone_ahead(wait_s, ahead):
    est = WaitEstimate(ahead, wait_s, 3)
    if ahead > 0 or wait_s > 0:
        assert est.minutes >= 1 and est.short != "无需等候" and "请留意叫号" not in est.text
        # 约 N 分钟: within half a minute of the estimate, unless that would say 0.
        assert abs(est.minutes * 60 - wait_s) <= 30 or (est.minutes == 1 and wait_s < 30)
    else:
        assert est.minutes == 0 and est.text == "您前面暂无等候，请留意叫号"


@given(waits, waits, aheads)
def test_a_longer_estimate_never_shows_fewer_minutes(a, b, ahead):
    shorter, longer = sorted((a, b))
    assert WaitEstimate(ahead, shorter, 1).minutes <= WaitEstimate(ahead, longer, 1).minutes


def test_words():
    assert WaitEstimate(4, 89, 2).text == "您前面还有 4 人，预计等候约 1 分钟"
    assert WaitEstimate(4, 90, 2).short == "约 2 分钟"
    assert WaitEstimate(4, 3 * 3600 + 29, 2).short == "约 3 小时"
    assert WaitEstimate(0, None, 0).text == "您前面暂无等候，暂无窗口办理"
