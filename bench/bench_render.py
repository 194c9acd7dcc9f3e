"""make bench-render: render + verify + encode a poster, against PNG-encoding the finished image alone.

The floor is what no renderer can beat: the poster has to be PNG-encoded anyway.
Figures are medians of several runs; the ratio is the one to watch (aim: <= 1.5).
"""

from __future__ import annotations

import statistics
import sys
import time

from renderer import PosterSpec, encode, get_profile, render_poster

RUNS = 9
CASES = [("tv-1080p", get_profile("tv-1080p")), ("lobby-4k", get_profile("lobby-4k"))]


def _ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def bench(profile) -> tuple[float, float]:
    spec = PosterSpec(lang="vi")
    poster = render_poster(spec, profile)  # warm the caches of fonts, text fits and QR matrices
    full, floor = [], []
    for _ in range(RUNS):
        full.append(_ms(lambda: encode(render_poster(spec, profile).image, "PNG", profile)))
        floor.append(_ms(lambda: encode(poster.image, "PNG", profile)))
    return statistics.median(full), statistics.median(floor)


def main() -> int:
    print(f"render + verify + PNG encode vs PNG encode alone, median of {RUNS} runs")
    print(f"{'profile':<10} {'size':>10} {'full ms':>9} {'floor ms':>9} {'ratio':>6}")
    worst = 0.0
    for name, profile in CASES:
        full, floor = bench(profile)
        ratio = full / floor
        worst = max(worst, ratio)
        print(f"{name:<10} {profile.width:>5}x{profile.height:<4} {full:>9.1f} {floor:>9.1f} {ratio:>6.2f}")
    print(f"worst ratio {worst:.2f} (aim <= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
