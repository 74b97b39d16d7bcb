#!/usr/bin/env bash
# The translation catalogue: collect every _(), ngettext() and N_() text of the dashboard into
# locales/messages.pot, merge it into each language's messages.po (new texts come in untranslated,
# removed ones are kept as obsolete "#~" entries), then compile each .po to check it. The app itself
# reads the .po files (compiled in memory, core/i18n.py), so the .mo files are not kept in git.
#   scripts/i18n.sh          extract, update and check
#   scripts/i18n.sh init xx  start the catalogue of a new language xx
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
POT=locales/messages.pot

"$PYBABEL" extract -F babel.cfg -k N_ --no-location --sort-output --no-wrap --omit-header -o "$POT" .
if [[ "${1:-}" == "init" ]]; then
  "$PYBABEL" init -i "$POT" -d locales -D messages -l "$2" --no-wrap
  exit 0
fi
"$PYBABEL" update -i "$POT" -d locales -D messages --no-wrap
checked="$(mktemp -d)"
trap 'rm -rf "$checked"' EXIT
for po in locales/*/LC_MESSAGES/messages.po; do
  "$PYBABEL" compile --statistics --use-fuzzy -i "$po" -o "$checked/messages.mo"
done
