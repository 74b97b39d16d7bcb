#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh Debian/Ubuntu machine, then run all of it:
# lint, core, page (AppTest), browser (Playwright + Chromium) and slow tests, and the small benchmark.
# Extra arguments go to pytest (e.g. scripts/test.sh -m "not browser").
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)   # tests/browser/test_proxy.py: two processes behind nginx
[ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
# the pages, charts and report in Japanese (tests/browser/test_japanese.py, the screenshots): kana and kanji
fc-list 2>/dev/null | grep -q "Noto Sans CJK JP" || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi

python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -r requirements.txt -r requirements-dev.txt

export JAX_PLATFORMS=cpu
export REQUIRE_FASHION_MNIST=1   # a skipped full-data test would hide a broken install
export REQUIRE_BROWSER=1
export FAIL_ON_SKIP=1        # a skip not on the allow-list in tests/skip_policy.py fails the run
.venv/bin/ruff check .
.venv/bin/ruff format --check .
if [ $# -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
# One session on four workers (--dist loadgroup): the browser and benchmark files each go whole to one
# worker (tests/conftest.py groups them; their server or Chromium starts once), every other test spreads
# one by one. The browser tests mostly wait for a page while the core and page tests compute, so the two
# kinds fill each other's idle time on CI's 2 cores: in two phases one after the other (core and pages
# on two workers, then browser and benchmarks on three), a fresh-clone run took 19m18s with the cores
# busy 71% of it.
exec .venv/bin/python -m pytest -n 4 --dist loadgroup --durations=25
